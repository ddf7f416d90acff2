#include "rewardpath/core/statistics.hpp"

#include <algorithm>
#include <limits>

namespace rewardpath {

namespace {

// O(n): the upper middle by nth_element, the lower middle as the largest value below it.
template <class T> double median_in_place(std::vector<T>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  const double upper = *mid;
  if (v.size() % 2) return upper;
  return 0.5 * (static_cast<double>(*std::max_element(v.begin(), mid)) + upper);
}

} // namespace

double median(std::vector<double> values) { return median_in_place(values); }
double median(std::vector<float> values) { return median_in_place(values); }

} // namespace rewardpath
