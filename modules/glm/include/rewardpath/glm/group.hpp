#pragma once
// Group-level (second-level) statistics: a subjects x columns design from participants.tsv,
// OLS across subjects for a subjects x tests matrix (ROIs or voxels), two-sided t/F tests,
// Benjamini-Hochberg FDR, max-statistic permutation FWE, and the group ROI table. See docs/group.md.
//
// Design columns (names usable in contrast expressions, see contrast.hpp):
//   "intercept"                      always first. one_sample / paired: the mean (of the
//                                    within-subject differences for paired) at the covariates'
//                                    mean; two_sample: the average of the two group means.
//   "group_<A>_minus_<B>"            two_sample only: +0.5 for level A, -0.5 for level B, so its
//                                    beta is mean(A) - mean(B) (adjusted for covariates). Levels
//                                    are sanitised to [A-Za-z0-9_] in the name.
//   "<covariate>"                    each covariate, mean-centred over the included subjects.
// Default contrast: "intercept" (one_sample, paired), "group_<A>_minus_<B>" (two_sample). A
// covariate name as the contrast tests its slope.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "rewardpath/glm/contrast.hpp"
#include "rewardpath/io/json.hpp"
#include "rewardpath/io/tsv.hpp"

namespace rewardpath::glm {

enum class GroupKind {
  one_sample, // one value per subject
  two_sample, // one value per subject, subjects split by a participants.tsv column
  paired      // two values per subject: the test runs on first - second (see paired_differences)
};

struct GroupSpec {
  GroupKind kind = GroupKind::one_sample;
  std::string group_column;            // two_sample: e.g. "group"
  std::string level_a;                 // two_sample: e.g. "patient"  (effect = A - B)
  std::string level_b;                 // two_sample: e.g. "control"
  std::vector<std::string> covariates; // numeric columns, e.g. {"shaps", "age"}
  std::string contrast;                // expression over the design columns; empty = default
};

// A subject left out of the design, and why ("age is n/a (participants.tsv line 4)").
struct Exclusion {
  std::string participant_id;
  std::string reason;
};

struct GroupDesign {
  GroupKind kind = GroupKind::one_sample;
  std::vector<std::string> participants; // included subjects ("sub-01"), one per design row
  std::vector<std::int64_t> rows;        // their index in the subject list given to make_group_design
  std::vector<std::string> columns;
  Eigen::MatrixXd matrix; // subjects x columns, full column rank
  std::string contrast;   // default contrast expression
  std::vector<std::string> covariates;
  std::vector<double> covariate_means; // subtracted from each covariate
  std::vector<Exclusion> excluded;
  std::vector<std::string> sources; // tables the values came from
};

// Design from an already-read participants table (tables[0], participants.tsv) and optional
// further tables (phenotype/*.tsv) joined on participant_id ("sub-" prefix optional everywhere).
// A needed column is looked up in every table; it must exist in exactly one.
// `subjects`: the subjects that have data, in the order of the data rows (with or without
// "sub-"); empty = every row of tables[0]. Subjects are excluded, with the reason recorded, when
// absent from a table that holds a needed column, when a needed value is n/a or not a number, or
// (two_sample) when their level is neither A nor B. Throws rewardpath::Error naming the file, the
// column and the subject for: a missing column (listing those present), a level absent from the
// data (listing the levels present), duplicate participant_ids, fewer than columns + 1 subjects
// left, a rank-deficient design (e.g. a constant covariate) or a bad contrast.
GroupDesign make_group_design(const std::vector<io::Table>& tables, const GroupSpec& spec,
                              const std::vector<std::string>& subjects = {});
// Reads BIDS_ROOT/participants.tsv and every BIDS_ROOT/phenotype/*.tsv (sorted). A one_sample or
// paired design without covariates needs no table (then `subjects` must be given).
GroupDesign make_group_design(const std::filesystem::path& bids_root, const GroupSpec& spec,
                              const std::vector<std::string>& subjects);

// Rows of `y` (one per subject of the list given to make_group_design) kept by the design.
Eigen::MatrixXd select_rows(const GroupDesign& design, const Eigen::Ref<const Eigen::MatrixXd>& y);
// Paired designs: first - second, element by element (same shape; NaN propagates).
Eigen::MatrixXd paired_differences(const Eigen::Ref<const Eigen::MatrixXd>& first,
                                   const Eigen::Ref<const Eigen::MatrixXd>& second);

enum class Tail {
  two_sided, // default for group tests: p = P(|T| >= |t|)
  greater,   // p = P(T >= t)
  less       // p = P(T <= t)
};
enum class PermutationScheme {
  automatic, // sign flipping when the contrast weighs the intercept (a mean: one_sample and
             // paired defaults), row permutation otherwise (group differences, slopes)
  sign_flip, // assumes independent, symmetric errors
  permute    // assumes exchangeable errors; cannot test a mean (throws for such contrasts)
};

struct GroupTestParams {
  Tail tail = Tail::two_sided; // t contrasts; F is always upper-tailed
  int permutations = 0;        // 0: no FWE; e.g. 5000. Sign flipping enumerates all 2^n flips
                               // instead when 2^n <= permutations.
  std::uint64_t seed = 1;
  PermutationScheme scheme = PermutationScheme::automatic;
  double alpha = 0.05;       // for the reported FWE threshold
  std::int64_t chunk = 4096; // tests per block (GEMM width, TBB grain)
};

struct PermutationSummary {
  int count = 0;      // permutations in the null distribution, identity included
  bool exact = false; // every sign flip enumerated
  PermutationScheme scheme = PermutationScheme::automatic; // the one used
  bool freedman_lane = false; // nuisance columns present: residuals of the reduced model permuted
  double fwe_threshold = 0.0; // statistic (|t| two-sided, t, -t for less, F) with p_fwe <= alpha
  double alpha = 0.05;
  std::uint64_t seed = 0;
  std::int64_t complete_tests = 0;  // tests without missing values (the only ones in the max)
  Eigen::VectorXd max_distribution; // the maximum statistic of each permutation (identity first)
};

struct GroupResult {
  StatKind kind = StatKind::t;
  std::vector<std::string> expressions; // one (t) or several (F rows)
  Eigen::MatrixXd weights;              // q x columns
  Tail tail = Tail::two_sided;
  // Per test (columns of y):
  Eigen::MatrixXd effect; // q x V, contrast estimates
  Eigen::VectorXd se;     // t only: standard error of the effect
  Eigen::VectorXd stat;   // t or F
  Eigen::VectorXd dof;    // residual degrees of freedom (n - columns; per test, see n)
  Eigen::VectorXi n;      // subjects with a finite value for the test
  Eigen::VectorXd p;      // t: per `tail`; F: P(F >= f)
  Eigen::VectorXd z;      // t: sign of t with the normal quantile of the one-sided tail
                          // (|z| from p/2 when two-sided); F: from p. Exact in the tails.
  Eigen::VectorXd p_fdr;  // Benjamini-Hochberg adjusted p over tests with a finite p
  Eigen::VectorXd p_fwe;  // permutation max-statistic; NaN without permutations or for tests
                          // with missing values
  PermutationSummary permutation;
};

// OLS across subjects. `y`: subjects (design rows) x tests, float or double. NaN entries:
// the subject is dropped for that test only (n and dof per test; a test with n <= columns or a
// rank-deficient reduced design gets NaN statistics). Tests with zero residual variance get
// se = 0, t = 0, z = 0, p = 1 (F: 0, 0, 1). `contrast`: empty = the design's contrast; one
// expression = t, several = F. Deterministic for any number of TBB threads.
GroupResult group_test(const GroupDesign& design, const Eigen::Ref<const Eigen::MatrixXd>& y,
                       const std::vector<std::string>& contrast = {}, const GroupTestParams& params = {});
GroupResult group_test(const GroupDesign& design, const Eigen::Ref<const Eigen::MatrixXf>& y,
                       const std::vector<std::string>& contrast = {}, const GroupTestParams& params = {});

// Benjamini-Hochberg (1995) adjusted p-values (monotone, capped at 1); NaN entries stay NaN and
// do not count in m. Reject at level q where fdr_bh(p) <= q.
Eigen::VectorXd fdr_bh(const Eigen::Ref<const Eigen::VectorXd>& p);

// Two-sided p-value of t with `dof` degrees of freedom (exact tail, stats.hpp).
double two_sided_t_p(double t, double dof);

// The group ROI table: one row per ROI and contrast.
struct GroupRoiRow {
  std::string roi;
  std::string contrast;
  int n = 0;
  double effect = 0.0; // contrast estimate (mean, group difference or slope)
  double se = 0.0;
  double t = 0.0;
  double dof = 0.0;
  double p = 0.0; // per params.tail (two-sided by default)
  double z = 0.0;
  double p_fdr = 0.0;     // over the ROIs, per contrast
  double p_fwe = 0.0;     // permutation max over the ROIs, per contrast (NaN without permutations)
  bool covariate = false; // the contrast is one covariate's slope
  double r = 0.0;         // covariate contrasts: partial correlation t / sqrt(t^2 + dof) (= Pearson r
                          // when the design is intercept + that covariate); NaN otherwise
};

struct GroupRoiTable {
  GroupDesign design;
  GroupTestParams params;
  std::vector<GroupRoiRow> rows;
  std::vector<PermutationSummary> permutation; // per contrast
};

// `values`: design subjects (rows, as in design.participants) x ROIs; names per column.
// `contrasts`: t expressions, empty = the design's contrast.
GroupRoiTable group_roi_table(const GroupDesign& design, const Eigen::Ref<const Eigen::MatrixXd>& values,
                              const std::vector<std::string>& roi_names,
                              const std::vector<std::string>& contrasts = {},
                              const GroupTestParams& params = {});

// Columns: roi contrast n effect se t dof p z p_fdr p_fwe slope r (slope and r n/a unless the
// contrast is a covariate's slope).
io::Table to_table(const GroupRoiTable& table);
// Design (columns, participants, exclusions with reasons, covariate means), test settings,
// permutation summaries and the rows.
io::Json to_json(const GroupRoiTable& table);
// Writes `tsv` and its sidecar (same name, .json), both atomically.
void write_group_roi_table(const GroupRoiTable& table, const std::filesystem::path& tsv);

} // namespace rewardpath::glm
