// A small fixed-capacity tensor shape for the kernels of the plain (row-major) ops, so invoke paths
// need no heap memory.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace fx {

struct Shape {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int64_t d[kMaxRank] = {};

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    for (int64_t v : dims) d[rank++] = v;
  }
  template <typename It>
  static Shape from(It begin, It end) {
    Shape s;
    for (It it = begin; it != end && s.rank < kMaxRank; ++it) s.d[s.rank++] = static_cast<int64_t>(*it);
    return s;
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= d[i];
    return n;
  }
  int64_t operator[](int i) const { return d[i]; }
  bool operator==(const Shape& o) const {
    if (rank != o.rank) return false;
    for (int i = 0; i < rank; ++i)
      if (d[i] != o.d[i]) return false;
    return true;
  }
};

}  // namespace fx
