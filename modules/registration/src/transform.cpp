// Transforms without ITK: evaluation, composition, resampling through them, label warping.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "image_ops.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::registration {

using detail::apply_affine;
using detail::apply_linear;
using detail::Point;

namespace {

void check_field(const Volume& d) {
  if (d.volumes() != 3)
    throw Error("transform displacement field must have 3 volumes (dx, dy, dz), got " +
                std::to_string(d.volumes()));
}

// Evaluates a transform at many points with the inverses computed once.
class Mapper {
public:
  explicit Mapper(const Transform& t) : t_(t) {
    if (t.displacement) {
      check_field(*t.displacement);
      field_inv_ = invert(t.displacement->grid().affine);
    }
  }
  Point displacement(const Point& p) const {
    if (!t_.displacement) return {0, 0, 0};
    const Point v = apply_affine(field_inv_, p);
    const Volume& d = *t_.displacement;
    return {detail::sample_linear(d, v, 0.0f, 0), detail::sample_linear(d, v, 0.0f, 1),
            detail::sample_linear(d, v, 0.0f, 2)};
  }
  Point operator()(const Point& p) const {
    if (!t_.displacement) return apply_affine(t_.matrix, p);
    const Point d = displacement(p);
    return apply_affine(t_.matrix, {p[0] + d[0], p[1] + d[1], p[2] + d[2]});
  }

private:
  const Transform& t_;
  Affine field_inv_ = identity_affine();
};

void check_3d_labels(const Volume& labels) {
  if (labels.size() == 0) throw Error("label atlas is empty");
  if (labels.is_4d())
    throw Error("label atlas must be 3D, got " + std::to_string(labels.volumes()) +
                " volumes (threshold a probabilistic atlas into labels first)");
}

} // namespace

std::string to_string(Model m) {
  switch (m) {
  case Model::rigid:
    return "rigid";
  case Model::affine:
    return "affine";
  case Model::nonlinear:
    return "nonlinear";
  }
  return "?";
}

Transform::Transform(const Transform& o) : from(o.from), to(o.to), matrix(o.matrix) {
  if (o.displacement) {
    Volume d(o.displacement->grid(), o.displacement->volumes());
    std::copy_n(o.displacement->data(), o.displacement->size(), d.data());
    displacement = std::move(d);
  }
}

Transform& Transform::operator=(const Transform& o) {
  if (this != &o) *this = Transform(o);
  return *this;
}

std::array<double, 3> Transform::apply(const std::array<double, 3>& p) const { return Mapper(*this)(p); }

Transform compose(const Transform& first, const Transform& second) {
  if (!first.to.empty() && !second.from.empty() && first.to != second.from)
    throw Error("compose: the first transform maps into space '" + first.to + "' but the second maps from '" +
                second.from + "'");
  Transform r;
  r.from = first.from;
  r.to = second.to;
  r.matrix = multiply(second.matrix, first.matrix);
  if (first.is_linear() && second.is_linear()) return r;

  // (second o first)(p) = M2 M1 (p + e(p)),  e(p) = d1(p) + L1^-1 d2(first(p))
  const Affine l1_inv = invert(first.matrix);
  Grid grid;
  if (first.displacement) {
    grid = first.displacement->grid();
  } else {
    grid = second.displacement->grid();
    grid.affine = multiply(l1_inv, grid.affine); // second's field grid pulled back into first's fixed world
    grid.space = first.from.empty() ? grid.space : first.from;
    grid.spacing_mm = detail::voxel_size(grid);
  }
  Volume e(grid, 3, 0.0f);
  const Mapper m1(first), m2(second);
  const auto n = static_cast<std::size_t>(grid.voxel_count());
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(0, grid.dims[2]), [&](const tbb::blocked_range<std::int64_t>& r) {
        for (std::int64_t k = r.begin(); k != r.end(); ++k)
          for (std::int64_t j = 0; j < grid.dims[1]; ++j)
            for (std::int64_t i = 0; i < grid.dims[0]; ++i) {
              const Point p =
                  grid.to_world(static_cast<double>(i), static_cast<double>(j), static_cast<double>(k));
              const Point d1 = m1.displacement(p);
              const Point d2 = m2.displacement(m1(p));
              const Point back = apply_linear(l1_inv, d2);
              const std::size_t at = e.index(i, j, k);
              for (std::size_t c = 0; c < 3; ++c) e.data()[c * n + at] = static_cast<float>(d1[c] + back[c]);
            }
      });
  r.displacement = std::move(e);
  return r;
}

Transform invert_linear(const Transform& t) {
  if (!t.is_linear())
    throw Error("invert_linear: transform from '" + t.from + "' to '" + t.to + "' is nonlinear");
  Transform r;
  r.from = t.to;
  r.to = t.from;
  r.matrix = invert(t.matrix);
  return r;
}

Volume apply_transform(const Volume& moving, const Grid& fixed_grid, const Transform& t, bool nearest) {
  if (moving.size() == 0) throw Error("apply_transform: empty moving image");
  if (t.is_linear())
    return resample(moving, fixed_grid, t.matrix, nearest ? Interpolation::nearest : Interpolation::linear,
                    0.0f);
  const Mapper map(t);
  const Affine to_voxel = invert(moving.grid().affine);
  Volume out(fixed_grid, moving.volumes());
  out.set_time_step_s(moving.time_step_s());
  out.set_value_units(moving.value_units());
  const auto n = static_cast<std::size_t>(fixed_grid.voxel_count());
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, fixed_grid.dims[2]),
                    [&](const tbb::blocked_range<std::int64_t>& r) {
                      for (std::int64_t k = r.begin(); k != r.end(); ++k)
                        for (std::int64_t j = 0; j < fixed_grid.dims[1]; ++j)
                          for (std::int64_t i = 0; i < fixed_grid.dims[0]; ++i) {
                            const Point v =
                                apply_affine(to_voxel, map(fixed_grid.to_world(static_cast<double>(i),
                                                                               static_cast<double>(j),
                                                                               static_cast<double>(k))));
                            const std::size_t at = out.index(i, j, k);
                            for (std::int64_t c = 0; c < moving.volumes(); ++c)
                              out.data()[static_cast<std::size_t>(c) * n + at] =
                                  nearest ? detail::sample_nearest(moving, v, 0.0f, c)
                                          : detail::sample_linear(moving, v, 0.0f, c);
                          }
                    });
  return out;
}

Volume warp_labels_nearest(const Volume& labels, const Grid& subject_grid,
                           const Transform& subject_to_template) {
  check_3d_labels(labels);
  return apply_transform(labels, subject_grid, subject_to_template, true);
}

std::vector<Volume> warp_labels_fractional(const Volume& labels, const std::vector<int>& indices,
                                           const Grid& subject_grid, const Transform& subject_to_template,
                                           int subsamples) {
  check_3d_labels(labels);
  if (subsamples < 1 || subsamples > 16)
    throw Error("warp_labels_fractional: subsamples must be 1..16, got " + std::to_string(subsamples));
  std::unordered_map<int, std::size_t> slot;
  for (std::size_t r = 0; r < indices.size(); ++r) {
    if (indices[r] == 0) throw Error("warp_labels_fractional: label 0 is background, not an ROI");
    if (!slot.emplace(indices[r], r).second)
      throw Error("warp_labels_fractional: label " + std::to_string(indices[r]) + " listed twice");
  }
  // label value -> output slot, as a lookup table over the atlas's label range
  float lo = 0, hi = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    lo = std::min(lo, labels.data()[i]);
    hi = std::max(hi, labels.data()[i]);
  }
  if (hi - lo > 1e7f) throw Error("warp_labels_fractional: label values span more than 10^7");
  const auto base = static_cast<std::int64_t>(std::lround(lo));
  std::vector<int> lut(static_cast<std::size_t>(std::lround(hi) - base + 1), -1);
  for (const auto& [value, r] : slot)
    if (value >= base && value - base < static_cast<std::int64_t>(lut.size()))
      lut[static_cast<std::size_t>(value - base)] = static_cast<int>(r);

  std::vector<Volume> out;
  for (std::size_t r = 0; r < indices.size(); ++r) out.emplace_back(subject_grid, 1, 0.0f);
  const Mapper map(subject_to_template);
  const Affine to_voxel = invert(labels.grid().affine);
  const int s = subsamples;
  const float w = 1.0f / static_cast<float>(s * s * s);
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, subject_grid.dims[2]),
                    [&](const tbb::blocked_range<std::int64_t>& rk) {
                      std::vector<int> counts(indices.size());
                      for (std::int64_t k = rk.begin(); k != rk.end(); ++k)
                        for (std::int64_t j = 0; j < subject_grid.dims[1]; ++j)
                          for (std::int64_t i = 0; i < subject_grid.dims[0]; ++i) {
                            std::fill(counts.begin(), counts.end(), 0);
                            for (int c = 0; c < s; ++c)
                              for (int b = 0; b < s; ++b)
                                for (int a = 0; a < s; ++a) {
                                  const auto off = [s](int q) { return (q + 0.5) / s - 0.5; };
                                  const Point p = subject_grid.to_world(static_cast<double>(i) + off(a),
                                                                        static_cast<double>(j) + off(b),
                                                                        static_cast<double>(k) + off(c));
                                  const float label =
                                      detail::sample_nearest(labels, apply_affine(to_voxel, map(p)), 0.0f);
                                  const auto l = static_cast<std::int64_t>(std::lround(label)) - base;
                                  if (l < 0 || l >= static_cast<std::int64_t>(lut.size())) continue;
                                  const int r = lut[static_cast<std::size_t>(l)];
                                  if (r >= 0) ++counts[static_cast<std::size_t>(r)];
                                }
                            for (std::size_t r = 0; r < counts.size(); ++r)
                              if (counts[r] > 0) out[r].at(i, j, k) = static_cast<float>(counts[r]) * w;
                          }
                    });
  return out;
}

} // namespace rewardpath::registration
