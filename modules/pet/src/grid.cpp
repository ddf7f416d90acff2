#include "grid.hpp"

#include <algorithm>
#include <cmath>

namespace rewardpath::pet::detail {

FineGrid make_grid(const FrameTiming& timing, double max_step_s, double origin_s) {
  std::vector<double> knots{std::min(0.0, origin_s)};
  const std::vector<double> mid = timing.mid_s();
  for (std::size_t i = 0; i < timing.size(); ++i) {
    knots.push_back(timing.start_s[i]);
    knots.push_back(mid[i]);
    knots.push_back(timing.start_s[i] + timing.duration_s[i]);
  }
  std::sort(knots.begin(), knots.end());
  // Merge knots closer than 1 ms (contiguous frames share a boundary).
  std::vector<double> merged;
  for (double k : knots) {
    if (merged.empty() || k - merged.back() > 1e-3) merged.push_back(k);
  }
  FineGrid g;
  for (std::size_t i = 0; i + 1 < merged.size(); ++i) {
    const double a = merged[i], b = merged[i + 1];
    const auto n = static_cast<std::size_t>(std::max(1.0, std::ceil((b - a) / max_step_s)));
    for (std::size_t j = 0; j < n; ++j) g.t.push_back((a + (b - a) * static_cast<double>(j) / n) / 60.0);
  }
  g.t.push_back(merged.back() / 60.0);
  const auto nearest = [&](double s) {
    const double tm = s / 60.0;
    auto it = std::lower_bound(g.t.begin(), g.t.end(), tm - 1e-3 / 60.0);
    return static_cast<std::size_t>(it - g.t.begin());
  };
  for (std::size_t i = 0; i < timing.size(); ++i) {
    g.start_index.push_back(nearest(timing.start_s[i]));
    g.mid_index.push_back(nearest(mid[i]));
    g.end_index.push_back(nearest(timing.start_s[i] + timing.duration_s[i]));
  }
  return g;
}

std::vector<double> FineGrid::at_mids(const std::vector<double>& y) const {
  std::vector<double> out(mid_index.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = y[mid_index[i]];
  return out;
}

std::vector<double> FineGrid::frame_means(const std::vector<double>& y) const {
  std::vector<double> out(start_index.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    double area = 0.0;
    for (std::size_t n = start_index[i]; n < end_index[i]; ++n)
      area += 0.5 * (y[n] + y[n + 1]) * (t[n + 1] - t[n]);
    out[i] = area / (t[end_index[i]] - t[start_index[i]]);
  }
  return out;
}

std::vector<double> interp_linear(const std::vector<double>& x, const std::vector<double>& y,
                                  const std::vector<double>& xq) {
  std::vector<double> out(xq.size(), 0.0);
  std::size_t j = 0;
  for (std::size_t i = 0; i < xq.size(); ++i) {
    const double q = xq[i];
    if (x.empty() || q < x.front()) {
      out[i] = 0.0;
      continue;
    }
    if (q >= x.back()) {
      out[i] = y.back();
      continue;
    }
    if (j > 0 && x[j] > q) j = 0; // xq not sorted: restart
    while (j + 1 < x.size() && x[j + 1] <= q) ++j;
    const double h = x[j + 1] - x[j];
    const double f = h > 0.0 ? (q - x[j]) / h : 0.0;
    out[i] = y[j] + f * (y[j + 1] - y[j]);
  }
  return out;
}

void tac_curve(const FrameTiming& timing, const std::vector<double>& tac, std::vector<double>& x_min,
               std::vector<double>& y) {
  const std::vector<double> mid = timing.mid_s();
  x_min.clear();
  y.clear();
  x_min.push_back(timing.start_s.front() / 60.0); // no activity before the first frame starts
  y.push_back(0.0);
  for (std::size_t i = 0; i < mid.size(); ++i) {
    x_min.push_back(mid[i] / 60.0);
    y.push_back(tac[i]);
  }
}

std::vector<double> frame_consistent_curve(const FineGrid& grid, const FrameTiming& timing,
                                           const std::vector<double>& tac) {
  std::vector<double> x, y;
  tac_curve(timing, tac, x, y);
  std::vector<double> c = interp_linear(x, y, grid.t);
  const std::size_t n = timing.size();
  for (int pass = 0; pass < 4; ++pass) {
    const std::vector<double> m = grid.frame_means(c);
    std::vector<double> delta(grid.t.size(), 0.0), count(grid.t.size(), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      const double d = tac[i] - m[i];
      for (std::size_t j = grid.start_index[i]; j <= grid.end_index[i]; ++j) {
        delta[j] += d;
        count[j] += 1.0;
      }
    }
    for (std::size_t j = 0; j < c.size(); ++j) {
      if (count[j] > 0.0) c[j] += delta[j] / count[j];
    }
  }
  return c;
}

void conv_exp(const std::vector<double>& t, const std::vector<double>& u, double k,
              std::vector<double>& out) {
  out.assign(t.size(), 0.0);
  for (std::size_t j = 0; j + 1 < t.size(); ++j) {
    const double h = t[j + 1] - t[j];
    const double a = u[j], b = u[j + 1];
    const double kh = k * h;
    double e, i0, i1; // e = exp(-kh); i0 = int_0^h e^{-k(h-s)} ds; i1 = int_0^h e^{-k(h-s)} s ds / h
    if (kh < 1e-4) {
      e = 1.0 - kh + 0.5 * kh * kh;
      i0 = h * (1.0 - 0.5 * kh + kh * kh / 6.0);
      i1 = h * (0.5 - kh / 6.0 + kh * kh / 24.0);
    } else {
      e = std::exp(-kh);
      i0 = (1.0 - e) / k;
      i1 = (h / k - (1.0 - e) / (k * k)) / h;
    }
    out[j + 1] = out[j] * e + a * i0 + (b - a) * i1;
  }
}

std::vector<double> cumulative_integral(const std::vector<double>& t, const std::vector<double>& y) {
  std::vector<double> out(t.size(), 0.0);
  for (std::size_t j = 0; j + 1 < t.size(); ++j)
    out[j + 1] = out[j] + 0.5 * (y[j] + y[j + 1]) * (t[j + 1] - t[j]);
  return out;
}

} // namespace rewardpath::pet::detail
