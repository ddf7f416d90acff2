#pragma once
// Simulated [11C]raclopride TACs (modules/simulate) as pet::FrameTiming / TACs.
#include <string>
#include <vector>

#include "rewardpath/pet/frames.hpp"
#include "rewardpath/pet/plasma.hpp"
#include "rewardpath/simulate/pet.hpp"

namespace pet_test {

namespace sim = rewardpath::simulate::pet;
namespace pet = rewardpath::pet;

inline pet::FrameTiming timing_of(const sim::FrameSchedule& s) {
  pet::FrameTiming t;
  t.start_s = s.start_s;
  t.duration_s = s.duration_s;
  t.half_life_s = sim::kC11HalfLifeS;
  return t;
}

// A target that satisfies SRTM's assumptions: one tissue with the same V_ND as the reference
// (K1/k2 = 0.4) and V_T = V_ND (1 + bp), no blood.
inline sim::Kinetics one_tissue_target(double r1, double bp) {
  sim::Kinetics k;
  k.K1 = 0.1 * r1;
  k.k2 = k.K1 / 0.4 / (1.0 + bp);
  k.k3 = 0.0;
  k.k4 = 0.0;
  k.vb = 0.0;
  return k;
}

// Metabolite-corrected plasma (and whole blood) sampled every 1 s to the end of the scan.
inline pet::ArterialInput dense_input(const sim::PlasmaInput& in, double end_s) {
  pet::ArterialInput a;
  for (double t = 0.0; t <= end_s + 1e-9; t += 1.0) {
    a.time_s.push_back(t);
    a.plasma.push_back(in.plasma(t));
    a.whole_blood.push_back(in.whole_blood(t));
  }
  return a;
}

} // namespace pet_test
