// The nearest-rank percentile: the smallest value with at least a share p of the list at or below it
// (p = 0.5: the median of an odd list, the lower middle of an even one); 0 for an empty list.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace fx {

template <typename T>
double percentile(std::vector<T> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return static_cast<double>(v[std::min(v.size() - 1, i > 0 ? i - 1 : 0)]);
}

}  // namespace fx
