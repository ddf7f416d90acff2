// Inputs registration must refuse, with a message that says what is wrong.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "reg_cases.hpp"
#include "rewardpath/core/error.hpp"
#include "rewardpath/core/resample.hpp"

using namespace rp_reg_test;
using rewardpath::Error;

namespace {

const Volume& tmpl() {
  static const Volume t = [] {
    const Volume t1 = load_ch2bet();
    return rewardpath::resample(t1, iso_grid(t1.grid(), 2.0));
  }();
  return t;
}

Volume copy(const Volume& v) {
  Volume c(v.grid(), v.volumes());
  std::copy_n(v.data(), v.size(), c.data());
  return c;
}

void expect_error(const Volume& fixed, const Volume& moving, const reg::Params& p,
                  const std::string& needle) {
  try {
    reg::register_images(fixed, moving, p);
    FAIL() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

reg::Params params() {
  reg::Params p;
  p.threads = 2;
  return p;
}

} // namespace

TEST(BadInput, EmptyImage) { expect_error(Volume{}, tmpl(), params(), "fixed image is empty"); }

TEST(BadInput, ConstantImage) {
  expect_error(tmpl(), Volume(tmpl().grid(), 1, 42.0f), params(), "moving image is constant");
}

TEST(BadInput, NonFiniteVoxels) {
  Volume v = copy(tmpl());
  v.data()[1000] = std::numeric_limits<float>::quiet_NaN();
  expect_error(v, tmpl(), params(), "non-finite");
}

TEST(BadInput, FourDimensionalImage) {
  Volume v(tmpl().grid(), 2, 1.0f);
  v.data()[5] = 2;
  expect_error(tmpl(), v, params(), "4D");
}

TEST(BadInput, AbsurdVoxelSizes) {
  for (const double mm : {0.01, 50.0}) {
    Volume v = copy(tmpl());
    for (int a = 0; a < 3; ++a) v.grid().affine[a][a] = mm;
    expect_error(v, tmpl(), params(), "absurd voxel size");
  }
}

TEST(BadInput, EmptyBrainMask) {
  // one bright voxel in an otherwise empty image: nothing to register
  Volume v(tmpl().grid(), 1, 0.0f);
  v.at(40, 50, 40) = 100.0f;
  expect_error(tmpl(), v, params(), "brain mask is (nearly) empty");
}

TEST(BadInput, NoOverlapAfterInitialisation) {
  Volume far = copy(tmpl());
  far.grid().affine[0][3] += 400.0; // the moving brain sits 40 cm away in world space
  reg::Params p = params();
  p.initialize_by_moments = false;
  expect_error(tmpl(), far, p, "no overlap after initialisation");
  // the centre-of-mass initialisation recovers from it
  p.initialize_by_moments = true;
  p.model = reg::Model::rigid;
  const reg::Result r = reg::register_images(tmpl(), far, p);
  EXPECT_NEAR(r.transform.matrix[0][3], 400.0, 0.5);
  EXPECT_FALSE(r.qc.flagged) << r.qc.flag_reason;
}

TEST(BadInput, DivergingOptimizer) {
  const Case c = make_case(load_ch2bet(), {10, 5, -5, 10, -5, 5}, 2.0);
  reg::Params p = params();
  for (const double step : {500.0, 5000.0}) { // first steps of 0.5 and 5 m
    p.step_mm = step;
    expect_error(c.subject, tmpl(), p, "diverged");
  }
}

TEST(BadInput, InconsistentParams) {
  reg::Params p = params();
  p.iterations = {10, 10};
  expect_error(tmpl(), tmpl(), p, "one entry per level");
  p = params();
  p.sampling_fraction = 0;
  expect_error(tmpl(), tmpl(), p, "sampling_fraction");
  p = params();
  p.model = reg::Model::nonlinear;
  p.bspline_levels = 5;
  expect_error(tmpl(), tmpl(), p, "bspline_levels");
}
