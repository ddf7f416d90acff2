#pragma once
// Registration test cases with known truth, shared by tests/registration and bench/registration:
// the Colin27 brain (mricron-data's ch2bet) as template, and "subjects" made from it by known
// transforms (rigid/affine poses, optionally a smooth nonlinear warp), on their own grids, with
// their own intensity scaling and noise.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "rewardpath/core/resample.hpp"
#include "rewardpath/io/nifti.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rp_reg_test {

using rewardpath::Affine;
using rewardpath::Grid;
using rewardpath::Volume;
using Point = std::array<double, 3>;
namespace reg = rewardpath::registration;

inline std::filesystem::path mricron(const std::string& name) {
  return std::filesystem::path("/usr/share/mricron/templates") / name;
}

// ch2bet at 1 mm (181x217x181), space "MNIColin27".
inline Volume load_ch2bet() {
  Volume v = rewardpath::io::read_nifti(mricron("ch2bet.nii.gz"), rewardpath::io::Expect::volume3d);
  v.grid().space = "MNIColin27";
  return v;
}

// An axis-aligned grid of `mm` voxels covering `like`'s extent (same first-voxel corner).
inline Grid iso_grid(const Grid& like, double mm) {
  Grid g = like;
  for (std::size_t a = 0; a < 3; ++a) {
    const double extent = static_cast<double>(like.dims[a]) * like.spacing_mm[a];
    g.dims[a] = static_cast<std::int64_t>(std::lround(extent / mm));
    g.spacing_mm[a] = mm;
    const double corner = like.affine[a][3] - 0.5 * like.spacing_mm[a];
    g.affine[a][a] = mm;
    g.affine[a][3] = corner + 0.5 * mm;
  }
  return g;
}

// An axis-aligned grid of n voxels of `mm`, centred on `centre` (world mm).
inline Grid centred_grid(const std::array<std::int64_t, 3>& n, double mm, const Point& centre,
                         std::string space) {
  Grid g;
  g.dims = n;
  g.spacing_mm = {mm, mm, mm};
  g.affine = rewardpath::identity_affine();
  for (std::size_t a = 0; a < 3; ++a) {
    g.affine[a][a] = mm;
    g.affine[a][3] = centre[a] - mm * static_cast<double>(n[a] - 1) / 2.0;
  }
  g.space = std::move(space);
  return g;
}

// x -> c + S R (x - c) + t, R = Rz Ry Rx (degrees), S = diag(scale) with a shear xy.
struct Pose {
  double rx = 0, ry = 0, rz = 0; // degrees
  double tx = 0, ty = 0, tz = 0; // mm
  double sx = 1, sy = 1, sz = 1; // scaling
  double shear = 0;              // x += shear * y
  Point centre{0, -18, 18};      // about the brain's centre
  std::string name = "pose";
};

// gtest prints test parameters with this (instead of a byte dump).
inline void PrintTo(const Pose& p, std::ostream* os) { *os << p.name; }

inline Affine pose_affine(const Pose& p) {
  const double d = M_PI / 180;
  const double cx = std::cos(p.rx * d), sx = std::sin(p.rx * d), cy = std::cos(p.ry * d),
               sy = std::sin(p.ry * d), cz = std::cos(p.rz * d), sz = std::sin(p.rz * d);
  Affine rx = rewardpath::identity_affine(), ry = rx, rz = rx, s = rx, sh = rx, c = rx, ci = rx, t = rx;
  rx[1][1] = cx, rx[1][2] = -sx, rx[2][1] = sx, rx[2][2] = cx;
  ry[0][0] = cy, ry[0][2] = sy, ry[2][0] = -sy, ry[2][2] = cy;
  rz[0][0] = cz, rz[0][1] = -sz, rz[1][0] = sz, rz[1][1] = cz;
  s[0][0] = p.sx, s[1][1] = p.sy, s[2][2] = p.sz;
  sh[0][1] = p.shear;
  for (std::size_t a = 0; a < 3; ++a) {
    c[a][3] = p.centre[a];
    ci[a][3] = -p.centre[a];
  }
  t[0][3] = p.tx, t[1][3] = p.ty, t[2][3] = p.tz;
  using rewardpath::multiply;
  return multiply(t, multiply(c, multiply(sh, multiply(s, multiply(rz, multiply(ry, multiply(rx, ci)))))));
}

// A smooth warp: a sum of Gaussian bumps of displacement (mm), for nonlinear truth. Sampled on
// `grid` (subject world), as a Transform displacement field.
inline Volume bump_field(const Grid& grid, double amplitude_mm) {
  struct Bump {
    Point c, d;
    double sigma;
  };
  const std::vector<Bump> bumps = {
      {{-30, -10, 20}, {1.0, 0.6, -0.4}, 18}, {{28, -30, 10}, {-0.7, 0.8, 0.5}, 20},
      {{0, 30, 30}, {0.3, -0.9, 0.6}, 16},    {{5, -60, 0}, {-0.5, -0.4, 0.9}, 22},
      {{-20, -25, -10}, {0.6, 0.5, 0.7}, 15}, {{20, 10, 45}, {0.8, -0.3, -0.6}, 17}};
  Volume f(grid, 3, 0.0f);
  const auto n = static_cast<std::size_t>(grid.voxel_count());
  for (std::int64_t k = 0; k < grid.dims[2]; ++k)
    for (std::int64_t j = 0; j < grid.dims[1]; ++j)
      for (std::int64_t i = 0; i < grid.dims[0]; ++i) {
        const Point p = grid.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
        Point d{0, 0, 0};
        for (const auto& b : bumps) {
          double r2 = 0;
          for (std::size_t a = 0; a < 3; ++a) r2 += (p[a] - b.c[a]) * (p[a] - b.c[a]);
          const double w = amplitude_mm * std::exp(-0.5 * r2 / (b.sigma * b.sigma));
          for (std::size_t a = 0; a < 3; ++a) d[a] += w * b.d[a];
        }
        const std::size_t at = f.index(i, j, k);
        for (std::size_t a = 0; a < 3; ++a) f.data()[a * n + at] = static_cast<float>(d[a]);
      }
  return f;
}

// Deterministic Gaussian-ish noise (sum of 4 uniforms), for subjects that are not copies.
inline void add_noise_and_scale(Volume& v, double scale, double offset, double noise_sd, std::uint64_t seed) {
  std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  auto u = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return static_cast<double>(s >> 11) / 9007199254740992.0;
  };
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double g = (u() + u() + u() + u() - 2.0) * std::sqrt(3.0);
    v.data()[i] = static_cast<float>(scale * v.data()[i] + offset + noise_sd * g);
  }
}

struct Case {
  Volume subject;            // fixed
  reg::Transform truth;      // subject world -> template world
  std::vector<Point> points; // brain points (subject world) for the TRE
};

// Subject = template seen through `truth` on a 2 mm (or `mm`) grid around the brain.
inline Case make_case(const Volume& template_1mm, const Pose& pose, double mm, bool nonlinear = false,
                      std::uint64_t seed = 1) {
  Case c;
  c.truth.from = "subject";
  c.truth.to = "MNIColin27";
  c.truth.matrix = pose_affine(pose);
  // Subject grid centred where the template's brain centre lands in subject space.
  const Affine inv = rewardpath::invert(c.truth.matrix);
  Point centre{};
  for (std::size_t a = 0; a < 3; ++a)
    centre[a] = inv[a][0] * 0 + inv[a][1] * -18 + inv[a][2] * 18 + inv[a][3];
  const auto n = [&](double mm_extent) { return static_cast<std::int64_t>(std::lround(mm_extent / mm)); };
  Grid g = centred_grid({n(180), n(216), n(180)}, mm, centre, "subject");
  if (nonlinear) c.truth.displacement = bump_field(rp_reg_test::iso_grid(g, std::max(mm, 2.0)), 5.0);
  c.subject = reg::apply_transform(template_1mm, g, c.truth, false);
  add_noise_and_scale(c.subject, 1.7, 10.0, 3.0, seed);
  // TRE points: every 4th brain voxel of the subject (in each direction), in subject world.
  const Volume mask = reg::brain_mask(reg::apply_transform(template_1mm, g, c.truth, false));
  for (std::int64_t k = 0; k < g.dims[2]; k += 2)
    for (std::int64_t j = 0; j < g.dims[1]; j += 2)
      for (std::int64_t i = 0; i < g.dims[0]; i += 2)
        if (mask.at(i, j, k) > 0.5f)
          c.points.push_back(
              g.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)));
  return c;
}

struct Tre {
  double mean = 0, max = 0;
};
inline Tre tre(const reg::Transform& estimate, const reg::Transform& truth,
               const std::vector<Point>& points) {
  Tre t;
  for (const auto& p : points) {
    const Point a = estimate.apply(p), b = truth.apply(p);
    const double e = std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                               (a[2] - b[2]) * (a[2] - b[2]));
    t.mean += e;
    t.max = std::max(t.max, e);
  }
  if (!points.empty()) t.mean /= static_cast<double>(points.size());
  return t;
}

} // namespace rp_reg_test
