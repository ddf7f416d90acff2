// Group level: published t tests (Student's sleep data), hand-derived regression, Benjamini &
// Hochberg's own example, R's lm when installed, simulations with known truth (bias, coverage,
// FWE and FDR control), exact sign-flip enumeration, bad participants.tsv input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/group.hpp"
#include "rewardpath/io/tsv.hpp"
#include "temp_dir.hpp"

namespace g = rewardpath::glm;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using rewardpath::Error;

namespace {

// Student (1908) / Cushny & Peebles: extra hours of sleep, same 10 patients under two drugs.
const double kDrug1[] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
const double kDrug2[] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

std::vector<std::string> subject_ids(int n) {
  std::vector<std::string> s;
  for (int i = 1; i <= n; ++i) s.push_back((i < 10 ? "0" : "") + std::to_string(i));
  return s;
}

g::GroupDesign one_sample(int n) {
  g::GroupSpec spec;
  spec.kind = g::GroupKind::one_sample;
  return g::make_group_design(std::vector<rewardpath::io::Table>{}, spec, subject_ids(n));
}

// participants table with columns participant_id + the given ones (values as text).
rewardpath::io::Table table(const std::vector<std::string>& cols,
                            const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> all{"participant_id"};
  all.insert(all.end(), cols.begin(), cols.end());
  rewardpath::io::Table t(all);
  for (const auto& r : rows) t.add_row(r);
  return t;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST(Group, SleepPairedMatchesPublishedT) {
  // R: t.test(extra ~ group, data = sleep, paired = TRUE): t = -4.0621, df = 9, p-value = 0.002833
  // for drug 1 - drug 2; here drug 2 - drug 1.
  MatrixXd a(10, 1), b(10, 1);
  for (int i = 0; i < 10; ++i) a(i, 0) = kDrug2[i], b(i, 0) = kDrug1[i];
  g::GroupSpec spec;
  spec.kind = g::GroupKind::paired;
  const auto d = g::make_group_design(std::vector<rewardpath::io::Table>{}, spec, subject_ids(10));
  EXPECT_EQ(d.columns, std::vector<std::string>{"intercept"});
  const auto r = g::group_test(d, g::paired_differences(a, b));
  EXPECT_NEAR(r.effect(0, 0), 1.58, 1e-12);
  EXPECT_NEAR(r.stat(0), 4.0621, 5e-5);
  EXPECT_EQ(r.dof(0), 9.0);
  EXPECT_NEAR(r.p(0), 0.002833, 5e-7);
  // z keeps the one-sided tail: R qnorm(0.00283289019738427 / 2, lower.tail = FALSE).
  EXPECT_NEAR(r.z(0), 2.98531221058991, 1e-9);

  // One-sided and reversed.
  g::GroupTestParams less;
  less.tail = g::Tail::less;
  const auto rl = g::group_test(d, g::paired_differences(b, a), {}, less);
  EXPECT_NEAR(rl.stat(0), -4.0621, 5e-5);
  EXPECT_NEAR(rl.p(0), 0.002833 / 2, 5e-7);
}

TEST(Group, SleepTwoSamplePooledMatchesPublishedT) {
  // R: t.test(extra ~ group, data = sleep, var.equal = TRUE): t = -1.8608, df = 18, p = 0.07919.
  std::vector<std::vector<std::string>> rows;
  MatrixXd y(20, 1);
  for (int i = 0; i < 20; ++i) {
    rows.push_back({"sub-" + std::to_string(i + 1), i < 10 ? "drug1" : "drug2"});
    y(i, 0) = i < 10 ? kDrug1[i] : kDrug2[i - 10];
  }
  g::GroupSpec spec;
  spec.kind = g::GroupKind::two_sample;
  spec.group_column = "group";
  spec.level_a = "drug1";
  spec.level_b = "drug2";
  const auto d = g::make_group_design({table({"group"}, rows)}, spec);
  EXPECT_EQ(d.columns, (std::vector<std::string>{"intercept", "group_drug1_minus_drug2"}));
  EXPECT_EQ(d.contrast, "group_drug1_minus_drug2");
  const auto r = g::group_test(d, y);
  EXPECT_NEAR(r.effect(0, 0), 0.75 - 2.33, 1e-12);
  EXPECT_NEAR(r.stat(0), -1.8608, 5e-5);
  EXPECT_EQ(r.dof(0), 18.0);
  EXPECT_NEAR(r.p(0), 0.07919, 5e-6);
  EXPECT_NEAR(r.p_fdr(0), r.p(0), 1e-15); // one test
  // The intercept is the mean of the group means.
  const auto ri = g::group_test(d, y, {"intercept"});
  EXPECT_NEAR(ri.effect(0, 0), (0.75 + 2.33) / 2, 1e-12);
}

TEST(Group, RegressionSlopeHandDerived) {
  // x = 1..5, y = 2 4 5 4 5: slope 0.6, Sxx 10, SSE 2.4, se = sqrt(0.8/10), t = 2.12132, r = 0.774597,
  // two-sided p (R: 2*pt(-sqrt(4.5), 3)) = 0.124027062657555.
  const auto t =
      table({"shaps"}, {{"sub-1", "1"}, {"sub-2", "2"}, {"sub-3", "3"}, {"sub-4", "4"}, {"sub-5", "5"}});
  g::GroupSpec spec;
  spec.covariates = {"shaps"};
  const auto d = g::make_group_design({t}, spec);
  ASSERT_EQ(d.covariate_means.size(), 1u);
  EXPECT_EQ(d.covariate_means[0], 3.0);
  EXPECT_EQ(d.matrix(0, 1), -2.0); // centred
  MatrixXd y(5, 1);
  y << 2, 4, 5, 4, 5;
  const auto r = g::group_test(d, y, {"shaps"});
  EXPECT_NEAR(r.effect(0, 0), 0.6, 1e-12);
  EXPECT_NEAR(r.se(0), std::sqrt(0.08), 1e-12);
  EXPECT_NEAR(r.stat(0), 0.6 / std::sqrt(0.08), 1e-10);
  EXPECT_EQ(r.dof(0), 3.0);
  EXPECT_NEAR(r.p(0), 0.124027062657555, 1e-10);
  const auto m = g::group_test(d, y); // intercept at the mean shaps = mean(y)
  EXPECT_NEAR(m.effect(0, 0), 4.0, 1e-12);
  EXPECT_NEAR(m.se(0), std::sqrt(0.8 / 5), 1e-12);

  const auto tab = g::group_roi_table(d, y, {"NAcc_L"}, {"shaps", "intercept"});
  ASSERT_EQ(tab.rows.size(), 2u);
  EXPECT_TRUE(tab.rows[0].covariate);
  EXPECT_NEAR(tab.rows[0].r, 6.0 / std::sqrt(60.0), 1e-12); // Pearson r = Sxy / sqrt(Sxx Syy)
  EXPECT_FALSE(tab.rows[1].covariate);
  EXPECT_TRUE(std::isnan(tab.rows[1].r));
}

TEST(Group, BenjaminiHochbergPublishedExample) {
  // Benjamini & Hochberg (1995), section 4: 15 p-values, q = 0.05 rejects the four smallest.
  const std::vector<double> ps{0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
                               0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000};
  // Hand-derived adjusted values: min over j >= i of 15 p_(j) / j.
  const std::vector<double> want{
      0.0015, 0.003,  0.0095, 0.035625,          0.0603,   0.0638571428571429, 0.0638571428571429,
      0.0645, 0.0765, 0.486,  0.581181818181818, 0.714875, 0.753230769230769,  0.813214285714286,
      1.0};
  // Shuffled, with a NaN that must not count.
  std::vector<int> order(15);
  for (int i = 0; i < 15; ++i) order[static_cast<std::size_t>(i)] = (i * 7) % 15;
  VectorXd p(16);
  for (int i = 0; i < 15; ++i) p(i) = ps[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])];
  p(15) = std::nan("");
  const VectorXd q = g::fdr_bh(p);
  int rejected = 0;
  for (int i = 0; i < 15; ++i) {
    EXPECT_NEAR(q(i), want[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])], 1e-12) << i;
    rejected += q(i) <= 0.05;
  }
  EXPECT_EQ(rejected, 4);
  EXPECT_TRUE(std::isnan(q(15)));
}

TEST(Group, MatchesRLinearModel) {
  if (!std::filesystem::exists("/usr/bin/Rscript"))
    GTEST_SKIP() << "Rscript not installed: no cross-check with R's lm";
  rewardpath::testdata::TempDir dir("rp_group");
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 27, V = 4;
  std::vector<std::vector<std::string>> rows;
  MatrixXd y(n, V);
  std::ofstream csv(dir / "data.csv");
  csv << "g,age";
  for (int v = 0; v < V; ++v) csv << ",y" << v;
  csv << "\n";
  for (int i = 0; i < n; ++i) {
    const bool pat = i % 3 != 0;
    const double age = 30 + 10 * z(rng);
    rows.push_back(
        {"sub-" + std::to_string(i), pat ? "patient" : "control", rewardpath::io::format_number(age)});
    csv << (pat ? 1 : 0) << "," << rewardpath::io::format_number(age);
    for (int v = 0; v < V; ++v) {
      y(i, v) = 0.4 * v * pat + 0.03 * age + z(rng);
      csv << "," << rewardpath::io::format_number(y(i, v));
    }
    csv << "\n";
  }
  csv.close();
  std::ofstream rs(dir / "fit.R");
  rs << "d <- read.csv('" << (dir / "data.csv").string() << "')\n"
     << "for (v in 0:" << V - 1 << ") {\n"
     << "  f <- lm(d[[paste0('y', v)]] ~ g + age, data = d); s <- summary(f)$coefficients\n"
     << "  a <- anova(lm(d[[paste0('y', v)]] ~ 1, data = d), f)\n"
     << "  cat(sprintf('%.17g %.17g %.17g %.17g %.17g %.17g\\n', s['g', 3], s['g', 4], s['age', 3], s['age', "
        "4],"
     << " a$F[2], a[['Pr(>F)']][2]))\n}\n";
  rs.close();
  const auto out = dir / "out.txt";
  const std::string cmd = "/usr/bin/Rscript " + (dir / "fit.R").string() + " > " + out.string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  g::GroupSpec spec;
  spec.kind = g::GroupKind::two_sample;
  spec.group_column = "group";
  spec.level_a = "patient";
  spec.level_b = "control";
  spec.covariates = {"age"};
  const auto d = g::make_group_design({table({"group", "age"}, rows)}, spec);
  const auto rg = g::group_test(d, y);
  const auto ra = g::group_test(d, y, {"age"});
  const auto rf = g::group_test(d, y, {"group_patient_minus_control", "age"});
  std::ifstream in(out);
  for (int v = 0; v < V; ++v) {
    double tg, pg, ta, pa, f, pf;
    ASSERT_TRUE(in >> tg >> pg >> ta >> pa >> f >> pf) << "R output unreadable: " << out;
    EXPECT_NEAR(rg.stat(v), tg, 1e-9 * std::max(1.0, std::abs(tg)));
    EXPECT_NEAR(rg.p(v) / pg, 1.0, 1e-8);
    EXPECT_NEAR(ra.stat(v), ta, 1e-9 * std::max(1.0, std::abs(ta)));
    EXPECT_NEAR(ra.p(v) / pa, 1.0, 1e-8);
    EXPECT_EQ(rf.kind, g::StatKind::F);
    EXPECT_NEAR(rf.stat(v) / f, 1.0, 1e-9);
    EXPECT_NEAR(rf.p(v) / pf, 1.0, 1e-8);
  }
}

TEST(Group, SimulationRecoversDifferenceAndSlopeWithNominalCoverage) {
  // 2000 replicates (columns) of a 30-subject two-sample design with a covariate: true
  // difference 1.0, slope 0.5, noise sd 1.5. 95% CIs (t_0.975,27 = 2.05183, R qt) must cover ~95%.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 30, V = 2000;
  std::vector<std::vector<std::string>> rows;
  std::vector<double> shaps(n), code(n);
  for (int i = 0; i < n; ++i) {
    shaps[static_cast<std::size_t>(i)] = 20 + 5 * z(rng);
    const bool pat = i < 13;
    code[static_cast<std::size_t>(i)] = pat;
    rows.push_back({"sub-" + std::to_string(i), pat ? "patient" : "control",
                    rewardpath::io::format_number(shaps[static_cast<std::size_t>(i)])});
  }
  MatrixXd y(n, V);
  for (int v = 0; v < V; ++v)
    for (int i = 0; i < n; ++i)
      y(i, v) = 3.0 + 1.0 * code[static_cast<std::size_t>(i)] + 0.5 * shaps[static_cast<std::size_t>(i)] +
                1.5 * z(rng);
  g::GroupSpec spec;
  spec.kind = g::GroupKind::two_sample;
  spec.group_column = "group";
  spec.level_a = "patient";
  spec.level_b = "control";
  spec.covariates = {"shaps"};
  const auto d = g::make_group_design({table({"group", "shaps"}, rows)}, spec);
  const double tcrit = 2.05183051648029;
  for (const auto& [expr, truth] :
       std::vector<std::pair<std::string, double>>{{"group_patient_minus_control", 1.0}, {"shaps", 0.5}}) {
    const auto r = g::group_test(d, y, {expr});
    const VectorXd err = r.effect.row(0).transpose().array() - truth;
    const double bias = err.mean();
    const double mean_se = r.se.mean();
    int covered = 0;
    for (int v = 0; v < V; ++v) covered += std::abs(err(v)) <= tcrit * r.se(v);
    const double coverage = covered / static_cast<double>(V);
    // Bias within 4 standard errors of the mean of 2000 estimates; coverage within ~4 binomial sd.
    std::printf("[ measured ] %s: bias %.4f (mean SE %.4f), 95%% CI coverage %.4f\n", expr.c_str(), bias,
                mean_se, coverage);
    EXPECT_LT(std::abs(bias), 4 * mean_se / std::sqrt(V)) << expr;
    EXPECT_NEAR(coverage, 0.95, 0.02) << expr;
    // The SE is right: the spread of the estimates matches the mean reported SE.
    EXPECT_NEAR(std::sqrt((err.array() - bias).square().sum() / (V - 1)) / mean_se, 1.0, 0.06) << expr;
  }
}

TEST(Group, NullFamilyWiseErrorIsNominal) {
  // 200 null families x 500 tests, one-sample sign flipping (n = 14, 199 flips): a family has a
  // false positive when min p_fwe <= 0.05. The test is exact: rate 0.05, binomial(200, 0.05)
  // has mean 10 and sd 3.1.
  std::mt19937_64 rng(21);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 14, V = 500, families = 200;
  const auto d = one_sample(n);
  g::GroupTestParams params;
  params.permutations = 199;
  int hits = 0, hits_bonf = 0;
  MatrixXd y(n, V);
  for (int f = 0; f < families; ++f) {
    for (int v = 0; v < V; ++v)
      for (int i = 0; i < n; ++i) y(i, v) = z(rng);
    params.seed = static_cast<std::uint64_t>(f + 1);
    const auto r = g::group_test(d, y, {}, params);
    EXPECT_EQ(r.permutation.count, 200);
    hits += r.p_fwe.minCoeff() <= 0.05;
    hits_bonf += r.p.minCoeff() <= 0.05 / V;
  }
  std::printf("[ measured ] sign-flip max-T: %d / %d null families with p_fwe <= 0.05 (Bonferroni %d)\n",
              hits, families, hits_bonf);
  EXPECT_GE(hits, 2);
  EXPECT_LE(hits, 20);
  EXPECT_LE(hits_bonf, hits + 6); // Bonferroni is not more liberal than max-T
}

TEST(Group, NullFreedmanLaneWithNuisanceCovariate) {
  // Two-sample with a strong nuisance covariate and no group effect: Freedman-Lane row
  // permutation keeps the family-wise rate near 5% (150 families x 100 tests, 99 permutations).
  std::mt19937_64 rng(8);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 16, V = 100, families = 150;
  std::vector<std::vector<std::string>> rows;
  std::vector<double> age(n);
  for (int i = 0; i < n; ++i) {
    age[static_cast<std::size_t>(i)] = 30 + 8 * z(rng) + (i % 2 ? 5 : 0); // correlated with group
    rows.push_back({"sub-" + std::to_string(i), i % 2 ? "a" : "b",
                    rewardpath::io::format_number(age[static_cast<std::size_t>(i)])});
  }
  g::GroupSpec spec;
  spec.kind = g::GroupKind::two_sample;
  spec.group_column = "dx";
  spec.level_a = "a";
  spec.level_b = "b";
  spec.covariates = {"age"};
  const auto d = g::make_group_design({table({"dx", "age"}, rows)}, spec);
  g::GroupTestParams params;
  params.permutations = 99;
  int hits = 0;
  MatrixXd y(n, V);
  for (int f = 0; f < families; ++f) {
    for (int v = 0; v < V; ++v)
      for (int i = 0; i < n; ++i) y(i, v) = 0.3 * age[static_cast<std::size_t>(i)] + z(rng);
    params.seed = static_cast<std::uint64_t>(100 + f);
    const auto r = g::group_test(d, y, {}, params);
    EXPECT_TRUE(r.permutation.freedman_lane);
    EXPECT_EQ(r.permutation.scheme, g::PermutationScheme::permute);
    hits += r.p_fwe.minCoeff() <= 0.05;
  }
  std::printf("[ measured ] Freedman-Lane: %d / %d null families with p_fwe <= 0.05\n", hits, families);
  // binomial(150, 0.05): mean 7.5, sd 2.7
  EXPECT_GE(hits, 1);
  EXPECT_LE(hits, 17);
}

TEST(Group, FdrControlsFalseDiscoveries) {
  // 1000 tests, 100 with a real effect, 40 replicates: mean false discovery proportion among
  // BH rejections at q = 0.1 must stay <= q m0/m = 0.09 (+ Monte Carlo slack), and power > 0.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 12, V = 1000, reps = 40;
  const auto d = one_sample(n);
  double fdp_sum = 0.0;
  int true_hits = 0;
  MatrixXd y(n, V);
  for (int rep = 0; rep < reps; ++rep) {
    for (int v = 0; v < V; ++v)
      for (int i = 0; i < n; ++i) y(i, v) = z(rng) + (v < 100 ? 1.2 : 0.0);
    const auto r = g::group_test(d, y);
    int rej = 0, false_rej = 0;
    for (int v = 0; v < V; ++v)
      if (r.p_fdr(v) <= 0.1) {
        ++rej;
        false_rej += v >= 100;
        true_hits += v < 100;
      }
    fdp_sum += rej ? static_cast<double>(false_rej) / rej : 0.0;
  }
  std::printf("[ measured ] BH q = 0.1: mean FDP %.4f, true positives %d of %d\n", fdp_sum / reps, true_hits,
              reps * 100);
  EXPECT_LT(fdp_sum / reps, 0.09 + 0.02);
  EXPECT_GT(fdp_sum / reps, 0.03); // not trivially conservative
  EXPECT_GT(true_hits, reps * 50);
}

TEST(Group, ExactSignFlipsMatchBruteForce) {
  // n = 8: all 256 sign flips are enumerated; p_fwe is a multiple of 1/256 and equals a naive
  // enumeration of max |t| over the three tests.
  std::mt19937_64 rng(4);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 8, V = 3;
  MatrixXd y(n, V);
  for (int v = 0; v < V; ++v)
    for (int i = 0; i < n; ++i) y(i, v) = z(rng) + 0.5 * v;
  g::GroupTestParams params;
  params.permutations = 5000;
  const auto r = g::group_test(one_sample(n), y, {}, params);
  EXPECT_TRUE(r.permutation.exact);
  EXPECT_EQ(r.permutation.count, 256);
  auto t_of = [&](const VectorXd& x) {
    const double m = x.mean();
    const double sd = std::sqrt((x.array() - m).square().sum() / (n - 1));
    return m / (sd / std::sqrt(n));
  };
  std::vector<double> maxes;
  for (int s = 0; s < 256; ++s) {
    double mx = 0.0;
    for (int v = 0; v < V; ++v) {
      VectorXd x = y.col(v);
      for (int i = 0; i < n; ++i)
        if ((s >> i) & 1) x(i) = -x(i);
      mx = std::max(mx, std::abs(t_of(x)));
    }
    maxes.push_back(mx);
  }
  for (int v = 0; v < V; ++v) {
    const double obs = std::abs(t_of(y.col(v)));
    EXPECT_NEAR(r.stat(v), t_of(y.col(v)), 1e-10);
    const auto ge =
        std::count_if(maxes.begin(), maxes.end(), [&](double m) { return m >= obs * (1 - 1e-12); });
    EXPECT_DOUBLE_EQ(r.p_fwe(v), ge / 256.0) << v;
    EXPECT_DOUBLE_EQ(r.p_fwe(v) * 256, std::round(r.p_fwe(v) * 256));
  }
  std::sort(maxes.begin(), maxes.end());
  EXPECT_NEAR(r.permutation.fwe_threshold, maxes[256 - 12], 1e-9); // floor(0.05 * 256) = 12
}

TEST(Group, ExactSignFlipsOneSidedFreedmanLaneAndF) {
  // Intercept + covariate, n = 8, all 256 flips, against a naive implementation of the papers'
  // recipes: (a) one-sided (less) t for the intercept with the covariate as nuisance
  // (Freedman-Lane: flip the residuals of y on the centred covariate, refit the full model);
  // (b) F for {intercept, x} (no nuisance: flip y itself).
  const int n = 8, V = 3;
  const std::vector<double> xs{3, 7, 1, 4, 9, 2, 5, 6};
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < n; ++i)
    rows.push_back(
        {"sub-" + std::to_string(i), rewardpath::io::format_number(xs[static_cast<std::size_t>(i)])});
  g::GroupSpec spec;
  spec.covariates = {"x"};
  const auto d = g::make_group_design({table({"x"}, rows)}, spec);
  const MatrixXd X = d.matrix;
  std::mt19937_64 rng(12);
  std::normal_distribution<double> z(0.0, 1.0);
  MatrixXd y(n, V);
  for (int v = 0; v < V; ++v)
    for (int i = 0; i < n; ++i) y(i, v) = z(rng) - 0.6 * v + 0.2 * X(i, 1);
  auto stat = [&](const VectorXd& yy, const MatrixXd& c) {
    const MatrixXd xtxi = (X.transpose() * X).inverse();
    const VectorXd b = xtxi * X.transpose() * yy;
    const double s2 = (yy - X * b).squaredNorm() / (n - 2);
    const VectorXd cb = c * b;
    if (c.rows() == 1) return cb(0) / std::sqrt(s2 * (c * xtxi * c.transpose())(0, 0));
    return (cb.transpose() * (c * xtxi * c.transpose()).inverse() * cb)(0, 0) / (c.rows() * s2);
  };
  struct Case {
    std::vector<std::string> contrast;
    g::Tail tail;
  };
  for (const Case& cs : {Case{{"intercept"}, g::Tail::less}, Case{{"intercept", "x"}, g::Tail::two_sided}}) {
    const bool f = cs.contrast.size() == 2;
    MatrixXd c(static_cast<Eigen::Index>(cs.contrast.size()), 2);
    if (f)
      c << 1, 0, 0, 1;
    else
      c << 1, 0;
    g::GroupTestParams params;
    params.permutations = 300;
    params.tail = cs.tail;
    const auto r = g::group_test(d, y, cs.contrast, params);
    ASSERT_TRUE(r.permutation.exact);
    EXPECT_EQ(r.permutation.freedman_lane, !f);
    // What gets flipped: residuals of y on the nuisance (the covariate) for (a), y for (b).
    MatrixXd e = y;
    if (!f)
      for (int v = 0; v < V; ++v) e.col(v) -= X.col(1) * (X.col(1).dot(y.col(v)) / X.col(1).squaredNorm());
    auto ranked = [&](const VectorXd& yy) { return f ? stat(yy, c) : -stat(yy, c); }; // less: -t
    std::vector<double> maxes;
    for (int s = 0; s < 256; ++s) {
      double mx = -1e300;
      for (int v = 0; v < V; ++v) {
        VectorXd x = e.col(v);
        for (int i = 0; i < n; ++i)
          if ((s >> i) & 1) x(i) = -x(i);
        mx = std::max(mx, ranked(x));
      }
      maxes.push_back(mx);
    }
    for (int v = 0; v < V; ++v) {
      const double obs = ranked(y.col(v));
      EXPECT_NEAR(f ? r.stat(v) : -r.stat(v), obs, 1e-9 * std::max(1.0, std::abs(obs)));
      const auto ge = std::count_if(maxes.begin(), maxes.end(),
                                    [&](double m) { return m >= obs - 1e-9 * std::abs(obs); });
      EXPECT_DOUBLE_EQ(r.p_fwe(v), ge / 256.0) << v << (f ? " F" : " t less");
    }
    std::printf("[ measured ] exact flips, %s: p_fwe %.4f %.4f %.4f\n", f ? "F" : "t less", r.p_fwe(0),
                r.p_fwe(1), r.p_fwe(2));
    EXPECT_LT(r.p_fwe.minCoeff(), 0.2); // the tests are not degenerate (test 2 has a real effect)
  }
}

TEST(Group, DeterministicAtAnyThreadCount) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 20, V = 3000;
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < n; ++i) rows.push_back({"sub-" + std::to_string(i), i < 9 ? "patient" : "control"});
  g::GroupSpec spec;
  spec.kind = g::GroupKind::two_sample;
  spec.group_column = "group";
  spec.level_a = "patient";
  spec.level_b = "control";
  const auto d = g::make_group_design({table({"group"}, rows)}, spec);
  Eigen::MatrixXf y(n, V);
  for (int v = 0; v < V; ++v)
    for (int i = 0; i < n; ++i) y(i, v) = static_cast<float>(z(rng) + (v == 0 && i < 9 ? 5.0 : 0.0));
  g::GroupTestParams params;
  params.permutations = 150;
  params.chunk = 256;
  params.seed = 77;
  g::GroupResult one;
  {
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, 1);
    one = g::group_test(d, y, {}, params);
  }
  const auto many = g::group_test(d, y, {}, params);
  EXPECT_EQ(one.permutation.max_distribution, many.permutation.max_distribution);
  EXPECT_EQ(one.p_fwe, many.p_fwe);
  EXPECT_EQ(one.stat, many.stat);
  EXPECT_LE(many.p_fwe(0),
            0.05); // the one real (5 sd) difference survives (Bonferroni-like threshold ~5.9 here)
  // float and double inputs agree
  const auto dbl = g::group_test(d, MatrixXd(y.cast<double>()), {}, params);
  EXPECT_EQ(dbl.p_fwe, many.p_fwe);
  // A different seed gives a different (but similar) null distribution.
  params.seed = 78;
  const auto other = g::group_test(d, y, {}, params);
  EXPECT_NE(other.permutation.max_distribution, many.permutation.max_distribution);
  EXPECT_NEAR(other.permutation.fwe_threshold, many.permutation.fwe_threshold, 1.0);
}

TEST(Group, ZeroVarianceAndMissingValues) {
  const int n = 9;
  std::mt19937_64 rng(2);
  std::normal_distribution<double> z(0.0, 1.0);
  MatrixXd y(n, 4);
  for (int i = 0; i < n; ++i) y(i, 0) = 2.5, y(i, 1) = z(rng), y(i, 2) = z(rng) + 1, y(i, 3) = 0.0;
  y(4, 2) = std::nan("");
  g::GroupTestParams params;
  params.permutations = 100;
  const auto r = g::group_test(one_sample(n), y, {}, params);
  EXPECT_EQ(r.stat(0), 0.0);
  EXPECT_EQ(r.p(0), 1.0);
  EXPECT_EQ(r.se(0), 0.0);
  EXPECT_NEAR(r.effect(0, 0), 2.5, 1e-12);
  EXPECT_EQ(r.p(3), 1.0);
  EXPECT_EQ(r.n(2), n - 1);
  EXPECT_EQ(r.dof(2), n - 2.0);
  // Same as testing the 8 subjects that have the value.
  MatrixXd y8(n - 1, 1);
  for (int i = 0, j = 0; i < n; ++i)
    if (i != 4) y8(j++, 0) = y(i, 2);
  const auto r8 = g::group_test(one_sample(n - 1), y8);
  EXPECT_NEAR(r.stat(2), r8.stat(0), 1e-12);
  EXPECT_NEAR(r.p(2), r8.p(0), 1e-14);
  EXPECT_TRUE(std::isnan(r.p_fwe(2)));
  EXPECT_FALSE(std::isnan(r.p_fwe(1)));
  EXPECT_EQ(r.permutation.complete_tests, 3);
  // Zero-variance tests are left out of the maximum: same p_fwe as without them (same flips).
  EXPECT_EQ(r.p_fwe(0), 1.0);
  const auto r1 = g::group_test(one_sample(n), MatrixXd(y.col(1)), {}, params);
  EXPECT_EQ(r.p_fwe(1), r1.p_fwe(0));
  // Equal up to rounding: the statistics of a 4-column and a 1-column problem may be vectorised
  // differently (e.g. FMA contraction in an x86-64-v3 build).
  ASSERT_EQ(r.permutation.max_distribution.size(), r1.permutation.max_distribution.size());
  for (Eigen::Index i = 0; i < r1.permutation.max_distribution.size(); ++i)
    EXPECT_NEAR(r.permutation.max_distribution[i], r1.permutation.max_distribution[i],
                1e-12 * std::abs(r1.permutation.max_distribution[i]))
        << "permutation " << i;
  // Too few values for a test: NaN, no crash.
  MatrixXd y2 = y.leftCols(2);
  for (int i = 1; i < n; ++i) y2(i, 1) = std::nan("");
  const auto r2 = g::group_test(one_sample(n), y2);
  EXPECT_TRUE(std::isnan(r2.stat(1)));
  EXPECT_TRUE(std::isnan(r2.p_fdr(1)));
}

TEST(Group, ParticipantsAndPhenotypeFromBids) {
  rewardpath::testdata::TempDir dir("rp_group");
  {
    std::ofstream p(dir / "participants.tsv");
    p << "participant_id\tgroup\tage\n"
         "sub-01\tpatient\t30\nsub-02\tcontrol\t41\nsub-03\tpatient\tn/a\nsub-04\tcontrol\t28\n"
         "sub-05\tpatient\t35\nsub-06\tcontrol\t50\nsub-07\tother\t33\nsub-08\tpatient\t44\n"
         "sub-10\tpatient\t38\n";
    std::filesystem::create_directories(dir / "phenotype");
    std::ofstream s(dir / "phenotype" / "shaps.tsv");
    s << "participant_id\tshaps\n01\t3\n02\t1\n03\t4\n04\tabc\n05\t2\n06\t0\n07\t5\n10\t10\n";
  }
  g::GroupSpec spec;
  spec.kind = g::GroupKind::two_sample;
  spec.group_column = "group";
  spec.level_a = "patient";
  spec.level_b = "control";
  spec.covariates = {"age", "shaps"};
  // Data for sub-09 (which no table knows), sub-08 .. sub-01 in reverse order, then sub-10.
  const std::vector<std::string> subjects{"sub-09", "08", "07", "06", "05", "04", "03", "02", "01", "10"};
  const auto d = g::make_group_design(dir.path(), spec, subjects);
  EXPECT_EQ(d.participants, (std::vector<std::string>{"sub-06", "sub-05", "sub-02", "sub-01", "sub-10"}));
  EXPECT_EQ(d.rows, (std::vector<std::int64_t>{3, 4, 7, 8, 9}));
  ASSERT_EQ(d.excluded.size(), 5u);
  auto reason = [&](const std::string& id) {
    for (const auto& e : d.excluded)
      if (e.participant_id == id) return e.reason;
    return std::string("(not excluded)");
  };
  EXPECT_NE(reason("sub-09").find("not in participants.tsv"), std::string::npos) << reason("sub-09");
  EXPECT_NE(reason("sub-08").find("shaps: not in shaps.tsv"), std::string::npos) << reason("sub-08");
  EXPECT_NE(reason("sub-07").find("'other'"), std::string::npos) << reason("sub-07");
  EXPECT_NE(reason("sub-04").find("'abc' is not a number (shaps.tsv line 5)"), std::string::npos)
      << reason("sub-04");
  EXPECT_NE(reason("sub-03").find("age is n/a (participants.tsv line 4)"), std::string::npos)
      << reason("sub-03");
  EXPECT_EQ(d.columns,
            (std::vector<std::string>{"intercept", "group_patient_minus_control", "age", "shaps"}));
  EXPECT_NEAR(d.covariate_means[0], (50 + 35 + 41 + 30 + 38) / 5.0, 1e-12);
  EXPECT_NEAR(d.covariate_means[1], (0 + 2 + 1 + 3 + 10) / 5.0, 1e-12);
  EXPECT_EQ(d.matrix(4, 1), 0.5); // sub-10 is a patient
  EXPECT_EQ(d.matrix(0, 1), -0.5);
  // select_rows picks the data rows of the included subjects.
  MatrixXd all(10, 1);
  for (int i = 0; i < 10; ++i) all(i, 0) = i;
  EXPECT_EQ(g::select_rows(d, all).col(0), (VectorXd(5) << 3, 4, 7, 8, 9).finished());

  // Without sub-10: 4 subjects for 4 columns.
  const std::string msg = message_of([&] {
    g::make_group_design(dir.path(), spec, {"01", "02", "05", "06", "07"});
  });
  EXPECT_NE(msg.find("4 subject(s) remain but 4 design column(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sub-07: group is 'other'"), std::string::npos) << msg;
  // A column in two tables is ambiguous.
  {
    std::ofstream e(dir / "phenotype" / "extra.tsv");
    e << "participant_id\tage\n01\t30\n";
  }
  const std::string amb = message_of([&] { g::make_group_design(dir.path(), spec, subjects); });
  EXPECT_NE(amb.find("'age' appears in several tables (participants.tsv, extra.tsv)"), std::string::npos)
      << amb;
}

TEST(Group, BadInputNamesFileColumnAndSubject) {
  const auto t = table({"group", "age"}, {{"sub-01", "patient", "30"},
                                          {"sub-02", "control", "40"},
                                          {"sub-03", "patient", "n/a"},
                                          {"sub-04", "control", "33"},
                                          {"sub-05", "patient", "29"},
                                          {"sub-06", "control", "51"}});
  g::GroupSpec spec;
  spec.kind = g::GroupKind::two_sample;
  spec.group_column = "diagnosis";
  spec.level_a = "patient";
  spec.level_b = "control";
  std::string msg = message_of([&] { g::make_group_design({t}, spec); });
  EXPECT_NE(msg.find("'diagnosis' not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("participant_id, group, age"), std::string::npos) << msg;

  spec.group_column = "group";
  spec.level_a = "patients";
  msg = message_of([&] { g::make_group_design({t}, spec); });
  EXPECT_NE(msg.find("no level 'patients'; levels present: control, patient"), std::string::npos) << msg;

  spec.level_a = "patient";
  spec.covariates = {"age"};
  const auto d = g::make_group_design({t}, spec);
  ASSERT_EQ(d.excluded.size(), 1u);
  EXPECT_EQ(d.excluded[0].participant_id, "sub-03");
  EXPECT_NE(d.excluded[0].reason.find("age is n/a"), std::string::npos);
  EXPECT_EQ(d.participants.size(), 5u);

  // Only three subjects with data: 3 columns need 4.
  msg = message_of([&] { g::make_group_design({t}, spec, {"01", "02", "03", "04"}); });
  EXPECT_NE(msg.find("3 subject(s) remain but 3 design column(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sub-03: age is n/a"), std::string::npos) << msg;

  // A constant covariate makes the design rank-deficient.
  const auto tc = table({"group", "site"}, {{"sub-01", "patient", "1"},
                                            {"sub-02", "control", "1"},
                                            {"sub-03", "patient", "1"},
                                            {"sub-04", "control", "1"}});
  spec.covariates = {"site"};
  msg = message_of([&] { g::make_group_design({tc}, spec); });
  EXPECT_NE(msg.find("site"), std::string::npos) << msg;

  // Unknown contrast column, duplicate participant, bad covariate name.
  spec.covariates = {"age"};
  spec.contrast = "shaps";
  msg = message_of([&] { g::make_group_design({t}, spec); });
  EXPECT_NE(msg.find("no design column 'shaps'"), std::string::npos) << msg;
  spec.contrast.clear();
  const auto dup = table({"group", "age"}, {{"sub-01", "patient", "1"}, {"01", "control", "2"}});
  msg = message_of([&] { g::make_group_design({dup}, spec); });
  EXPECT_NE(msg.find("'sub-01' appears twice"), std::string::npos) << msg;
  spec.covariates = {"2nd-visit"};
  EXPECT_THROW(g::make_group_design({t}, spec), Error);

  // Data rows that do not match the design.
  spec.covariates = {"age"};
  const auto d5 = g::make_group_design({t}, spec);
  msg = message_of([&] { g::group_test(d5, MatrixXd::Zero(6, 2)); });
  EXPECT_NE(msg.find("6 rows but the design has 5 subjects"), std::string::npos) << msg;
}

TEST(Group, RoiTableWritesTsvAndJson) {
  rewardpath::testdata::TempDir dir("rp_group");
  std::mt19937_64 rng(6);
  std::normal_distribution<double> z(0.0, 1.0);
  const int n = 12;
  std::vector<std::vector<std::string>> rows;
  std::vector<double> shaps(n);
  for (int i = 0; i < n; ++i) {
    shaps[static_cast<std::size_t>(i)] = i;
    rows.push_back({"sub-" + std::to_string(i), rewardpath::io::format_number(i)});
  }
  rows[2][1] = "n/a";
  g::GroupSpec spec;
  spec.covariates = {"shaps"};
  const auto d = g::make_group_design({table({"shaps"}, rows)}, spec);
  MatrixXd v(d.participants.size(), 3);
  for (Eigen::Index i = 0; i < v.rows(); ++i)
    v(i, 0) = 1 + z(rng), v(i, 1) = z(rng),
         v(i, 2) = 0.3 * shaps[static_cast<std::size_t>(d.rows[static_cast<std::size_t>(i)])] + z(rng);
  g::GroupTestParams params;
  params.permutations = 500;
  const auto tab = g::group_roi_table(d, v, {"NAcc_L", "NAcc_R", "VTA"}, {"intercept", "shaps"}, params);
  ASSERT_EQ(tab.rows.size(), 6u);
  EXPECT_EQ(tab.rows[5].roi, "VTA");
  EXPECT_EQ(tab.rows[5].n, 11);
  EXPECT_EQ(tab.permutation.size(), 2u);
  EXPECT_FALSE(tab.permutation[0].exact); // 2^11 = 2048 > 500: random flips
  EXPECT_EQ(tab.permutation[0].count, 501);
  g::write_group_roi_table(tab, dir / "group_roi.tsv");
  const auto back = rewardpath::io::read_tsv(dir / "group_roi.tsv");
  EXPECT_EQ(back.columns(), (std::vector<std::string>{"roi", "contrast", "n", "effect", "se", "t", "dof", "p",
                                                      "z", "p_fdr", "p_fwe", "slope", "r"}));
  ASSERT_EQ(back.row_count(), 6u);
  EXPECT_EQ(back.cell(0, 11), "n/a");
  EXPECT_NEAR(back.number(5, 12), tab.rows[5].r, 1e-12);
  EXPECT_NEAR(back.number(5, 7), tab.rows[5].p, 1e-15);
  const auto j = rewardpath::io::read_json(dir / "group_roi.json");
  EXPECT_EQ(j["Design"]["Excluded"][0]["participant_id"], "sub-2");
  EXPECT_EQ(j["Rows"].size(), 6u);
  EXPECT_EQ(j["Test"]["PermutationByContrast"][0]["Scheme"], "sign_flip"); // a mean
  EXPECT_EQ(j["Test"]["PermutationByContrast"][1]["Scheme"], "permute");   // a slope
  EXPECT_EQ(j["Test"]["PermutationByContrast"][1]["FreedmanLane"], true);
  params.scheme = g::PermutationScheme::permute;
  EXPECT_THROW(g::group_roi_table(d, v, {"NAcc_L", "NAcc_R", "VTA"}, {"intercept"}, params), Error);
}
