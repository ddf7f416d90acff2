#include "rewardpath/glm/contrast.hpp"

#include <cctype>
#include <cmath>
#include <map>
#include <utility>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "rewardpath/core/error.hpp"
#include "rewardpath/glm/stats.hpp"

namespace rewardpath::glm {
namespace {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

struct Parser {
  const std::string& s;
  const std::vector<std::string>& columns;
  std::vector<std::string>* names_seen = nullptr; // set: collect the names, match no column
  std::size_t i = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("contrast '" + s + "': " + what + " at position " + std::to_string(i + 1) +
                " (write e.g. \"a - b\" or \"0.5*a + 0.5*b - c\")");
  }
  void skip() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool name_start(char c) const { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
  bool number_start(char c) const { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }

  double number() {
    std::size_t used = 0;
    double v = 0.0;
    try {
      v = std::stod(s.substr(i), &used);
    } catch (const std::exception&) {
      fail("expected a number");
    }
    i += used;
    return v;
  }
  std::string name() {
    const std::size_t b = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.'))
      ++i;
    return s.substr(b, i - b);
  }
  int column_of(const std::string& n) const {
    if (names_seen) {
      names_seen->push_back(n);
      return 0;
    }
    for (std::size_t j = 0; j < columns.size(); ++j)
      if (columns[j] == n) return static_cast<int>(j);
    throw Error("contrast '" + s + "': no design column '" + n + "'; columns are: " + join(columns));
  }

  VectorXd parse() {
    VectorXd w = VectorXd::Zero(static_cast<Index>(names_seen ? 1 : columns.size()));
    skip();
    if (i >= s.size()) fail("empty expression");
    bool first = true;
    while (true) {
      skip();
      double sign = 1.0;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '-' ? -1.0 : 1.0;
        ++i;
      } else if (!first) {
        fail("expected '+' or '-'");
      }
      first = false;
      // term := factor (('*' | '/') factor)*
      double coef = sign;
      int col = -1;
      bool divide = false;
      while (true) {
        skip();
        if (i >= s.size()) fail("expected a column name or number");
        if (number_start(s[i])) {
          const double v = number();
          if (divide) {
            if (v == 0.0) fail("division by zero");
            coef /= v;
          } else {
            coef *= v;
          }
        } else if (name_start(s[i])) {
          if (divide) fail("can only divide by a number");
          if (col >= 0) fail("a term can hold only one column name");
          col = column_of(name());
        } else {
          fail(std::string("unexpected '") + s[i] + "'");
        }
        skip();
        if (i < s.size() && (s[i] == '*' || s[i] == '/')) {
          divide = s[i] == '/';
          ++i;
          continue;
        }
        break;
      }
      if (col < 0) fail("a term without a column name");
      w(col) += coef;
      skip();
      if (i >= s.size()) break;
    }
    return w;
  }
};

// C (X_w'X_w)^-1 C' for every series. With AR(0) or AR(1) many series share their coefficient
// (rho is binned), hence their form: each distinct form is computed once and series point to it.
struct QuadForms {
  std::vector<MatrixXd> distinct;
  std::vector<std::int32_t> of_series; // index into `distinct`, per series
  const MatrixXd& operator[](Index v) const {
    return distinct[static_cast<std::size_t>(of_series[static_cast<std::size_t>(v)])];
  }
};

QuadForms quad_forms(const FirstLevelFit& fit, const MatrixXd& c) {
  const Index V = fit.series();
  QuadForms q;
  q.of_series.resize(static_cast<std::size_t>(V));
  auto form = [&](Index v) {
    const MatrixXd xtx = fit.whitened_xtx(v);
    const Eigen::LLT<MatrixXd> llt(xtx);
    return MatrixXd(c * llt.solve(c.transpose()));
  };
  if (fit.ar_order <= 1) {
    std::map<long, std::int32_t> seen;
    for (Index v = 0; v < V; ++v) {
      const long key = fit.ar_order == 0 ? 0 : std::lround(static_cast<double>(fit.ar(0, v)) * 1e6);
      auto [it, added] = seen.try_emplace(key, static_cast<std::int32_t>(q.distinct.size()));
      if (added) q.distinct.push_back(form(v));
      q.of_series[static_cast<std::size_t>(v)] = it->second;
    }
  } else {
    q.distinct.resize(static_cast<std::size_t>(V));
    tbb::parallel_for(tbb::blocked_range<Index>(0, V, 256), [&](const tbb::blocked_range<Index>& r) {
      for (Index v = r.begin(); v != r.end(); ++v) {
        q.distinct[static_cast<std::size_t>(v)] = form(v);
        q.of_series[static_cast<std::size_t>(v)] = static_cast<std::int32_t>(v);
      }
    });
  }
  return q;
}

void finish_t(ContrastResult& r) {
  const Index V = r.effect.cols();
  r.stat.resize(V);
  r.z.resize(V);
  r.p.resize(V);
  tbb::parallel_for(tbb::blocked_range<Index>(0, V, 1024), [&](const tbb::blocked_range<Index>& rg) {
    for (Index v = rg.begin(); v != rg.end(); ++v) {
      const double var = r.variance(0, v);
      if (!(var > 0.0)) {
        r.stat(v) = 0.0, r.z(v) = 0.0, r.p(v) = 1.0;
        continue;
      }
      // One tail computation for both: z = sign(t) isf(sf(|t|)), p = sf(t) = 1 - sf(|t|) for t < 0.
      const double t = r.effect(0, v) / std::sqrt(var);
      const double ls = log_t_sf(std::abs(t), r.dof);
      r.stat(v) = t;
      r.z(v) = t >= 0 ? norm_isf_log(ls) : -norm_isf_log(ls);
      r.p(v) = t >= 0 ? std::exp(ls) : -std::expm1(ls);
    }
  });
}

// Packed upper triangle (row by row) <-> symmetric q x q.
void pack(const MatrixXd& m, Eigen::Ref<VectorXd> out) {
  Index k = 0;
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = i; j < m.cols(); ++j) out(k++) = m(i, j);
}
MatrixXd unpack(const Eigen::Ref<const VectorXd>& packed, Index q) {
  MatrixXd m(q, q);
  Index k = 0;
  for (Index i = 0; i < q; ++i)
    for (Index j = i; j < q; ++j) m(i, j) = m(j, i) = packed(k++);
  return m;
}
Index packed_size(Index q) { return q * (q + 1) / 2; }

std::string run_name(std::size_t i) { return "run " + std::to_string(i + 1); }

// Same contrast in every run: expressions when both have them (designs may differ between runs,
// e.g. in confound columns, so weights need not match), else the weights.
void check_same_contrast(const ContrastResult& a, const ContrastResult& b, std::size_t i) {
  if (!a.expressions.empty() && !b.expressions.empty()) {
    if (a.expressions != b.expressions)
      throw Error("fixed effects: " + run_name(i) + " has contrast '" + join(b.expressions) +
                  "', run 1 has '" + join(a.expressions) + "'");
    return;
  }
  if (a.weights.rows() != b.weights.rows() || a.weights.cols() != b.weights.cols() || a.weights != b.weights)
    throw Error("fixed effects: the contrast weights of " + run_name(i) + " differ from those of run 1");
}

ContrastResult fixed_effects_f(const std::vector<ContrastResult>& runs) {
  const ContrastResult& first = runs[0];
  const Index q = first.effect.rows(), V = first.effect.cols();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const ContrastResult& r = runs[i];
    if (r.effect.rows() != q || static_cast<Index>(r.dof_num) != q)
      throw Error("fixed effects: " + run_name(i) + " has an F contrast of " +
                  std::to_string(r.effect.rows()) + " rows, run 1 of " + std::to_string(q));
    if (r.covariance.rows() != packed_size(q) || r.covariance.cols() != V)
      throw Error("fixed effects: " + run_name(i) + " has no effect covariance (" +
                  std::to_string(packed_size(q)) + " x " + std::to_string(V) +
                  " expected): make F contrasts with contrast_f");
  }
  ContrastResult out;
  out.kind = StatKind::F;
  out.expressions = first.expressions;
  out.weights = first.weights;
  out.dof_num = static_cast<double>(q);
  out.dof = 0.0;
  for (const auto& r : runs) out.dof += r.dof;
  out.effect = MatrixXd::Zero(q, V);
  out.variance = MatrixXd::Zero(q, V);
  out.covariance = MatrixXd::Zero(packed_size(q), V);
  out.stat = VectorXd::Zero(V);
  out.z = VectorXd::Zero(V);
  out.p = VectorXd::Ones(V);
  tbb::parallel_for(tbb::blocked_range<Index>(0, V, 256), [&](const tbb::blocked_range<Index>& rg) {
    for (Index v = rg.begin(); v != rg.end(); ++v) {
      MatrixXd w = MatrixXd::Zero(q, q);
      VectorXd we = VectorXd::Zero(q);
      bool ok = true;
      for (const auto& r : runs) {
        const MatrixXd cov = unpack(r.covariance.col(v), q);
        // Singular (sigma2 = 0) or not positive definite: no usable run, as contrast_f's F = 0.
        const Eigen::LLT<MatrixXd> llt(cov);
        if (llt.info() != Eigen::Success || !(cov.diagonal().minCoeff() > 0.0) || !(llt.rcond() > 1e-12)) {
          ok = false;
          break;
        }
        w += llt.solve(MatrixXd::Identity(q, q));
        we += llt.solve(VectorXd(r.effect.col(v)));
      }
      if (!ok) continue;
      const Eigen::LLT<MatrixXd> wl(w);
      const VectorXd e = wl.solve(we);
      const MatrixXd cov = wl.solve(MatrixXd::Identity(q, q));
      out.effect.col(v) = e;
      out.variance.col(v) = cov.diagonal();
      pack(cov, out.covariance.col(v));
      const double f = e.dot(w * e) / out.dof_num;
      const double lp = log_f_sf(f, out.dof_num, out.dof);
      out.stat(v) = f;
      out.p(v) = std::exp(lp);
      out.z(v) = norm_isf_log(lp);
    }
  });
  return out;
}

} // namespace

Eigen::Index packed_row(Eigen::Index i, Eigen::Index j, Eigen::Index q) {
  if (i > j) std::swap(i, j);
  return i * q - i * (i - 1) / 2 + (j - i); // rows 0..i-1 hold q, q-1, .. elements
}

Eigen::MatrixXd ContrastResult::covariance_at(Eigen::Index v) const {
  const Index q = effect.rows();
  if (covariance.rows() != packed_size(q) || v < 0 || v >= covariance.cols())
    throw Error("contrast result has no effect covariance for series " + std::to_string(v));
  return unpack(covariance.col(v), q);
}

Eigen::VectorXd parse_contrast(const std::string& expression, const std::vector<std::string>& columns) {
  Parser p{expression, columns};
  return p.parse();
}

std::vector<std::string> contrast_column_names(const std::string& expression) {
  static const std::vector<std::string> none;
  std::vector<std::string> names;
  Parser p{expression, none, &names};
  p.parse();
  return names;
}

ContrastResult contrast_t(const FirstLevelFit& fit, const Eigen::VectorXd& w) {
  if (w.size() != fit.beta.rows())
    throw Error("contrast has " + std::to_string(w.size()) + " weights, the design " +
                std::to_string(fit.beta.rows()) + " columns");
  if (w.isZero(0.0)) throw Error("contrast weights are all zero");
  ContrastResult r;
  r.kind = StatKind::t;
  r.weights = w.transpose();
  r.dof = fit.dof;
  r.effect = w.transpose() * fit.beta;
  const auto q = quad_forms(fit, r.weights);
  r.variance.resize(1, fit.series());
  for (Index v = 0; v < fit.series(); ++v) r.variance(0, v) = fit.sigma2(v) * q[v](0, 0);
  finish_t(r);
  return r;
}

ContrastResult contrast_f(const FirstLevelFit& fit, const Eigen::MatrixXd& c) {
  if (c.cols() != fit.beta.rows() || c.rows() < 1)
    throw Error("F contrast needs rows of " + std::to_string(fit.beta.rows()) + " weights");
  ContrastResult r;
  r.kind = StatKind::F;
  r.weights = c;
  r.dof = fit.dof;
  const Eigen::FullPivLU<MatrixXd> lu(c);
  if (lu.rank() < c.rows()) throw Error("F contrast rows are linearly dependent; drop the redundant rows");
  r.dof_num = static_cast<double>(c.rows());
  r.effect = c * fit.beta;
  const auto q = quad_forms(fit, c);
  const Index V = fit.series();
  r.variance.resize(c.rows(), V);
  r.covariance.resize(packed_size(c.rows()), V);
  r.stat.resize(V);
  r.z.resize(V);
  r.p.resize(V);
  tbb::parallel_for(tbb::blocked_range<Index>(0, V, 512), [&](const tbb::blocked_range<Index>& rg) {
    for (Index v = rg.begin(); v != rg.end(); ++v) {
      const MatrixXd cov = fit.sigma2(v) * q[v];
      r.variance.col(v) = cov.diagonal();
      pack(cov, r.covariance.col(v));
      if (!(fit.sigma2(v) > 0.0)) {
        r.stat(v) = 0.0, r.z(v) = 0.0, r.p(v) = 1.0;
        continue;
      }
      const VectorXd e = r.effect.col(v);
      const double f = e.dot(cov.llt().solve(e)) / r.dof_num;
      r.stat(v) = f;
      const double lp = log_f_sf(f, r.dof_num, r.dof);
      r.p(v) = std::exp(lp);
      r.z(v) = norm_isf_log(lp);
    }
  });
  return r;
}

ContrastResult contrast(const FirstLevelFit& fit, const std::string& expression) {
  ContrastResult r = contrast_t(fit, parse_contrast(expression, fit.columns));
  r.expressions = {expression};
  return r;
}

ContrastResult contrast(const FirstLevelFit& fit, const std::vector<std::string>& rows) {
  if (rows.empty()) throw Error("F contrast needs at least one row");
  MatrixXd c(static_cast<Index>(rows.size()), static_cast<Index>(fit.columns.size()));
  for (std::size_t i = 0; i < rows.size(); ++i)
    c.row(static_cast<Index>(i)) = parse_contrast(rows[i], fit.columns).transpose();
  ContrastResult r = contrast_f(fit, c);
  r.expressions = rows;
  return r;
}

ContrastResult fixed_effects(const std::vector<ContrastResult>& runs) {
  if (runs.empty()) throw Error("fixed effects need at least one run");
  const Index V = runs[0].effect.cols();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].kind != runs[0].kind)
      throw Error("fixed effects: " + run_name(i) + " has " + (runs[i].kind == StatKind::t ? "a t" : "an F") +
                  " contrast, run 1 " + (runs[0].kind == StatKind::t ? "a t" : "an F") + " contrast");
    if (runs[i].effect.cols() != V)
      throw Error("fixed effects: " + run_name(i) + " has " + std::to_string(runs[i].effect.cols()) +
                  " series, run 1 has " + std::to_string(V));
    check_same_contrast(runs[0], runs[i], i);
  }
  if (runs[0].kind == StatKind::F) return fixed_effects_f(runs);
  ContrastResult r;
  r.kind = StatKind::t;
  r.expressions = runs[0].expressions;
  r.weights = runs[0].weights;
  r.effect = MatrixXd::Zero(1, V);
  r.variance = MatrixXd::Zero(1, V);
  r.dof = 0.0;
  for (const auto& run : runs) r.dof += run.dof;
  for (Index v = 0; v < V; ++v) {
    double sw = 0.0, se = 0.0;
    bool ok = true;
    for (const auto& run : runs) {
      const double var = run.variance(0, v);
      if (!(var > 0.0)) {
        ok = false;
        break;
      }
      sw += 1.0 / var;
      se += run.effect(0, v) / var;
    }
    if (!ok) continue;
    r.effect(0, v) = se / sw;
    r.variance(0, v) = 1.0 / sw;
  }
  finish_t(r);
  return r;
}

} // namespace rewardpath::glm
