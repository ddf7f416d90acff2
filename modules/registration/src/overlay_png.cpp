// Registration QC figure: edges of the fixed image (red) over the registered moving image (grey),
// three orthogonal slices sampled in world space. libpng, no ITK.
#include <png.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "image_ops.hpp"
#include "rewardpath/core/atomic_file.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::registration {

namespace {

using detail::Point;

struct Rgb {
  int width = 0, height = 0;
  std::vector<unsigned char> px; // row-major, top row first
  void resize(int w, int h) {
    width = w;
    height = h;
    px.assign(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3, 0);
  }
  unsigned char* at(int x, int y) { return &px[(static_cast<std::size_t>(y) * width + x) * 3]; }
};

struct Slice {
  int w = 0, h = 0;
  std::vector<float> fixed, moving; // row-major, top row first
  std::vector<bool> inside;
};

// Samples both volumes on a plane: pixel (u, v) -> origin + u * du + v * dv (world mm).
Slice sample_plane(const Volume& fixed, const Volume& moving, const Point& origin, const Point& du,
                   const Point& dv, int w, int h) {
  Slice s;
  s.w = w;
  s.h = h;
  s.fixed.resize(static_cast<std::size_t>(w * h));
  s.moving.resize(static_cast<std::size_t>(w * h));
  s.inside.resize(static_cast<std::size_t>(w * h));
  const Affine to_voxel = invert(fixed.grid().affine);
  for (int v = 0; v < h; ++v)
    for (int u = 0; u < w; ++u) {
      const Point p{origin[0] + u * du[0] + v * dv[0], origin[1] + u * du[1] + v * dv[1],
                    origin[2] + u * du[2] + v * dv[2]};
      const Point q = detail::apply_affine(to_voxel, p);
      const auto i = static_cast<std::size_t>(v * w + u);
      s.fixed[i] = detail::sample_linear(fixed, q, 0.0f);
      s.moving[i] = detail::sample_linear(moving, q, 0.0f);
      s.inside[i] = q[0] >= -0.5 && q[1] >= -0.5 && q[2] >= -0.5 && q[0] <= fixed.nx() - 0.5 &&
                    q[1] <= fixed.ny() - 0.5 && q[2] <= fixed.nz() - 0.5;
    }
  return s;
}

// Thin edges of the fixed slice: Sobel magnitude, non-maximum suppression, threshold at 20% of the
// slice's 99th-percentile magnitude.
std::vector<bool> edges(const Slice& s) {
  const int w = s.w, h = s.h;
  std::vector<float> gx(static_cast<std::size_t>(w * h), 0), gy(gx.size(), 0), mag(gx.size(), 0);
  auto f = [&](int x, int y) { return s.fixed[static_cast<std::size_t>(y * w + x)]; };
  for (int y = 1; y + 1 < h; ++y)
    for (int x = 1; x + 1 < w; ++x) {
      const float a = f(x + 1, y - 1) + 2 * f(x + 1, y) + f(x + 1, y + 1) - f(x - 1, y - 1) -
                      2 * f(x - 1, y) - f(x - 1, y + 1);
      const float b = f(x - 1, y + 1) + 2 * f(x, y + 1) + f(x + 1, y + 1) - f(x - 1, y - 1) -
                      2 * f(x, y - 1) - f(x + 1, y - 1);
      const auto i = static_cast<std::size_t>(y * w + x);
      gx[i] = a;
      gy[i] = b;
      mag[i] = std::sqrt(a * a + b * b);
    }
  std::vector<float> nz;
  for (float m : mag)
    if (m > 0) nz.push_back(m);
  std::vector<bool> e(mag.size(), false);
  if (nz.empty()) return e;
  const auto k = static_cast<std::size_t>(0.99 * static_cast<double>(nz.size() - 1));
  std::nth_element(nz.begin(), nz.begin() + static_cast<std::ptrdiff_t>(k), nz.end());
  const float thr = 0.2f * nz[k];
  for (int y = 1; y + 1 < h; ++y)
    for (int x = 1; x + 1 < w; ++x) {
      const auto i = static_cast<std::size_t>(y * w + x);
      if (mag[i] < thr) continue;
      // neighbours along the gradient direction, quantised to 4 directions
      const double ang = std::atan2(gy[i], gx[i]);
      const int dir = static_cast<int>(std::lround(ang / (M_PI / 4))) & 3;
      const int dx[4] = {1, 1, 0, -1}, dy[4] = {0, 1, 1, 1};
      const float m1 = mag[static_cast<std::size_t>((y + dy[dir]) * w + x + dx[dir])];
      const float m2 = mag[static_cast<std::size_t>((y - dy[dir]) * w + x - dx[dir])];
      e[i] = mag[i] >= m1 && mag[i] >= m2;
    }
  return e;
}

void draw(Rgb& img, const Slice& s, int x0, int y0, float lo, float hi) {
  const auto e = edges(s);
  for (int y = 0; y < s.h; ++y)
    for (int x = 0; x < s.w; ++x) {
      const auto i = static_cast<std::size_t>(y * s.w + x);
      unsigned char* p = img.at(x0 + x, y0 + y);
      if (e[i] && s.inside[i]) {
        p[0] = 255;
        p[1] = 40;
        p[2] = 40;
        continue;
      }
      const float g = std::clamp((s.moving[i] - lo) / (hi - lo), 0.0f, 1.0f);
      p[0] = p[1] = p[2] = static_cast<unsigned char>(std::lround(255.0f * g));
    }
}

void png_to_vector(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<unsigned char>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void png_flush_noop(png_structp) {}

std::vector<unsigned char> encode_png(const Rgb& img) {
  std::vector<unsigned char> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (!png) throw Error("libpng: cannot create a write struct");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    throw Error("libpng: cannot create an info struct");
  }
  std::vector<png_bytep> rows(static_cast<std::size_t>(img.height));
  for (int y = 0; y < img.height; ++y)
    rows[static_cast<std::size_t>(y)] =
        const_cast<png_bytep>(&img.px[static_cast<std::size_t>(y) * static_cast<std::size_t>(img.width) * 3]);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw Error("libpng: encoding failed");
  }
  png_set_write_fn(png, &out, png_to_vector, png_flush_noop);
  png_set_IHDR(png, info, static_cast<png_uint_32>(img.width), static_cast<png_uint_32>(img.height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

} // namespace

void write_overlay_png(const std::filesystem::path& path, const Volume& fixed,
                       const Volume& registered_moving, double pixel_mm) {
  with_context(path.string(), [&] {
    if (fixed.size() == 0 || registered_moving.size() == 0) throw Error("overlay: empty image");
    if (!fixed.grid().same_sampling(registered_moving.grid(), 1e-3))
      throw Error(
          "overlay: the registered image must be on the fixed grid (resample it with apply_transform)");
    if (!(pixel_mm >= 0.1 && pixel_mm <= 10)) throw Error("overlay: pixel_mm must be in 0.1..10");
    const Volume mask = brain_mask(fixed);
    const Point centre = detail::centre_of_mass(mask, mask); // centroid of the mask

    // World bounding box of the fixed grid.
    Point lo{1e30, 1e30, 1e30}, hi{-1e30, -1e30, -1e30};
    for (int c = 0; c < 8; ++c) {
      const Point p =
          fixed.grid().to_world((c & 1) ? fixed.nx() - 0.5 : -0.5, (c & 2) ? fixed.ny() - 0.5 : -0.5,
                                (c & 4) ? fixed.nz() - 0.5 : -0.5);
      for (std::size_t a = 0; a < 3; ++a) {
        lo[a] = std::min(lo[a], p[a]);
        hi[a] = std::max(hi[a], p[a]);
      }
    }
    auto npx = [&](std::size_t a) {
      return std::max(2, static_cast<int>(std::ceil((hi[a] - lo[a]) / pixel_mm)));
    };
    const double d = pixel_mm;
    // sagittal: u = +y (anterior right), v = -z (superior up); coronal: u = +x, v = -z;
    // axial: u = +x, v = -y (anterior up). +x is the subject's right: left on the left.
    const Slice sag = sample_plane(fixed, registered_moving, {centre[0], lo[1], hi[2]}, {0, d, 0}, {0, 0, -d},
                                   npx(1), npx(2));
    const Slice cor = sample_plane(fixed, registered_moving, {lo[0], centre[1], hi[2]}, {d, 0, 0}, {0, 0, -d},
                                   npx(0), npx(2));
    const Slice axi = sample_plane(fixed, registered_moving, {lo[0], hi[1], centre[2]}, {d, 0, 0}, {0, -d, 0},
                                   npx(0), npx(1));

    // Grey window: 0.5th..99.5th percentile of the registered image's non-zero voxels.
    std::vector<float> vals;
    const std::size_t n = static_cast<std::size_t>(registered_moving.voxels_per_volume());
    const std::size_t stride = std::max<std::size_t>(1, n / 200000);
    for (std::size_t i = 0; i < n; i += stride)
      if (registered_moving.data()[i] != 0.0f && std::isfinite(registered_moving.data()[i]))
        vals.push_back(registered_moving.data()[i]);
    float wlo = 0, whi = 1;
    if (!vals.empty()) {
      std::sort(vals.begin(), vals.end());
      wlo = vals[static_cast<std::size_t>(0.005 * static_cast<double>(vals.size() - 1))];
      whi = vals[static_cast<std::size_t>(0.995 * static_cast<double>(vals.size() - 1))];
      if (!(whi > wlo)) whi = wlo + 1;
    }

    const int gap = 4;
    Rgb img;
    img.resize(sag.w + cor.w + axi.w + 2 * gap, std::max({sag.h, cor.h, axi.h}));
    draw(img, sag, 0, (img.height - sag.h) / 2, wlo, whi);
    draw(img, cor, sag.w + gap, (img.height - cor.h) / 2, wlo, whi);
    draw(img, axi, sag.w + cor.w + 2 * gap, (img.height - axi.h) / 2, wlo, whi);
    const auto bytes = encode_png(img);
    AtomicFile f(path);
    f.write(bytes.data(), bytes.size());
    f.commit();
  });
}

} // namespace rewardpath::registration
