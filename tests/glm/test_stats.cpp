// t -> p -> z against scipy.stats (values computed with scipy 1.10: t.sf, norm.isf, f.sf).
#include <cmath>

#include <gtest/gtest.h>

#include "rewardpath/glm/stats.hpp"

namespace g = rewardpath::glm;

TEST(Stats, TailsMatchScipy) {
  struct Case {
    double t, dof, p, z;
  };
  const Case cases[] = {{2, 10, 0.036694017385370196, 1.790409932268829},
                        {-2, 10, 0.9633059826146297, -1.7904099322688278},
                        {5, 50, 3.716606123616282e-06, 4.4808908455750185},
                        {12, 200, 1.21106800262333e-25, 10.402223737090992},
                        {40, 100, 1.2310538010700368e-63, 16.799475684947822},
                        {0.5, 300, 0.3087208112771127, 0.49947950366499794}};
  for (const auto& c : cases) {
    EXPECT_NEAR(std::exp(g::log_t_sf(c.t, c.dof)) / c.p, 1.0, 1e-9) << c.t << " " << c.dof;
    EXPECT_NEAR(g::t_to_z(c.t, c.dof), c.z, 1e-8 * std::max(1.0, std::fabs(c.z))) << c.t << " " << c.dof;
  }
  EXPECT_NEAR(std::exp(g::log_f_sf(3, 2, 50)), 0.05882330655225382, 1e-10);
  EXPECT_NEAR(std::exp(g::log_f_sf(20, 3, 100)) / 3.1126062267743846e-10, 1.0, 1e-8);
}

TEST(Stats, ZBeyondDoublePrecisionOfP) {
  // P(T > 200, dof 300) underflows a double; z must still be finite, monotone and match the normal
  // tail of the same log p.
  const double z1 = g::t_to_z(150.0, 300.0), z2 = g::t_to_z(200.0, 300.0);
  EXPECT_TRUE(std::isfinite(z1));
  EXPECT_GT(z2, z1);
  EXPECT_NEAR(g::log_norm_sf(z2), g::log_t_sf(200.0, 300.0), 1e-6 * std::fabs(g::log_t_sf(200.0, 300.0)));
  // Large dof: t -> z.
  EXPECT_NEAR(g::t_to_z(3.0, 1e7), 3.0, 1e-5);
  EXPECT_NEAR(g::norm_isf_log(std::log(0.025)), 1.959963984540054, 1e-12);
}
