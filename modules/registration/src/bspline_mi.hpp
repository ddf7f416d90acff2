#pragma once
// Nonlinear stage metric, ITK-free: Mattes mutual information (the same Parzen-window estimate as
// ITK's MattesMutualInformationImageToImageMetricv4: box window on fixed intensities, cubic
// B-spline window on moving intensities, 2 padding bins) of a cubic B-spline displacement applied
// before a fixed affine: q = A (x + d(x)). Its gradient uses the B-spline's local support (64
// control points per sample), so one evaluation costs O(samples), not O(samples x parameters) as
// ITK v4's metric does for B-spline transforms. Deterministic: samples are processed in fixed
// blocks and the blocks' partial sums are added in order, whatever the number of threads.
#include <array>
#include <cstdint>
#include <vector>

#include "image_ops.hpp"
#include "rewardpath/core/volume.hpp"

namespace rewardpath::registration::detail {

// Uniform cubic B-spline control grid over the fixed image's domain (its voxel grid extent, in the
// directions of its voxel axes). Node k along an axis sits at (k - 1) * spacing from the domain's
// start; dims = ceil(extent / spacing) + 3. Coefficients: RAS displacement (mm), 3 per node,
// stored node-major ([node][xyz]), node index = (c * dims[1] + b) * dims[0] + a.
struct ControlGrid {
  Affine world_to_voxel = identity_affine(); // fixed world -> fixed voxel (full resolution)
  std::array<double, 3> voxel_mm{1, 1, 1};   // fixed voxel size per axis
  std::array<double, 3> spacing_mm{20, 20, 20};
  std::array<std::int64_t, 3> dims{4, 4, 4};
  std::int64_t nodes() const { return dims[0] * dims[1] * dims[2]; }
  std::int64_t parameters() const { return 3 * nodes(); }

  static ControlGrid over(const Grid& fixed, double spacing_mm);
  ControlGrid refined() const; // half the spacing, same domain (exact subdivision: see refine())

  // Base node (per axis) and the 4 weights per axis of a world point.
  void weights(const Point& p, std::array<std::int64_t, 3>& base,
               std::array<std::array<double, 4>, 3>& w) const;
  Point displacement(const std::vector<double>& coef, const Point& p) const;
};

// Coefficients of the same spline on `fine` = coarse.refined() (two-scale relation, exact).
std::vector<double> refine(const ControlGrid& coarse, const std::vector<double>& coef,
                           const ControlGrid& fine);

class BsplineMattes {
public:
  BsplineMattes(const Volume& fixed, const Volume& moving, const std::vector<Point>& samples,
                const Affine& affine, const ControlGrid& grid, int bins);
  // -MI at the coefficients; fills `gradient` (size parameters()) when non-null.
  double evaluate(const std::vector<double>& coef, std::vector<double>* gradient) const;

private:
  struct Sample {
    std::array<std::int64_t, 3> base;
    std::array<std::array<double, 4>, 3> w;
    Point x;
    int fixed_bin;
  };
  const Volume& moving_;
  const ControlGrid& grid_;
  int bins_;
  Affine to_moving_voxel_; // inv(moving.affine) * A
  double moving_min_ = 0, moving_bin_ = 1;
  std::vector<Sample> samples_;
};

} // namespace rewardpath::registration::detail
