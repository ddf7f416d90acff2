#pragma once
// Internal interface between the ITK-free driver (register.cpp) and the stages: engine_linear.cpp
// (ITK) and engine_bspline.cpp (vnl's L-BFGS-B on our B-spline Mattes metric). No ITK type here. Geometry is
// RAS world mm; the ITK units convert to LPS.
#include <string>
#include <vector>

#include "image_ops.hpp"
#include "rewardpath/core/volume.hpp"
#include "rewardpath/registration/registration.hpp"

namespace rewardpath::registration::detail {

// One pyramid level: smoothed and shrunk images, and the metric's sample points (fixed world).
struct EngineLevel {
  Volume fixed;
  Volume moving;
  std::vector<Point> samples;
};

enum class Stage { rigid, affine };
struct LinearRun {
  Stage stage = Stage::rigid;
  std::size_t level = 0;
  int iterations = 0;
  double step_mm = 1.0;
};

struct Trace {
  std::vector<double> values; // metric per iteration
  std::vector<int> starts;    // where each run starts in `values`
  int iterations = 0;
  void start_run() { starts.push_back(static_cast<int>(values.size())); }
};

// Rigid/affine runs in order; returns the fixed->moving affine (RAS). `initial` must be rigid
// (a rotation plus translation); `centre` (fixed world) is the centre of rotation.
// Throws Error when ITK fails or the optimizer produces a non-finite transform.
Affine run_linear(const std::vector<EngineLevel>& levels, const std::vector<LinearRun>& runs,
                  const Affine& initial, const Point& centre, const Params& params, Trace& trace);

// Mattes MI of level `level` at a fixed->moving affine (the QC and divergence checks).
double evaluate_metric(const EngineLevel& level, const Affine& fixed_to_moving, const Params& params);

struct BsplineRun {
  std::size_t level = 0; // images of this pyramid level
  int iterations = 0;
  double spacing_mm = 20;
  std::vector<Point> samples; // metric samples (fixed world)
};
struct BsplineOutput {
  Volume displacement;      // RAS mm, 3 volumes, on field_grid: transform = affine o (p + d(p))
  double affine_metric = 0; // the finest nonlinear level's metric with no displacement
  double final_metric = 0;  // ... and at the result
};
// `fixed_grid` (full resolution) defines the B-spline domain; the field is sampled on `field_grid`.
BsplineOutput run_bspline(const std::vector<EngineLevel>& levels, const std::vector<BsplineRun>& runs,
                          const Affine& affine, const Grid& fixed_grid, const Grid& field_grid,
                          const Params& params, Trace& trace);

} // namespace rewardpath::registration::detail
