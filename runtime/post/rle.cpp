#include "runtime/post/rle.h"

#include <string>

#include "runtime/error.h"

namespace fx {

std::vector<uint32_t> rle_encode(const Mask& m) {
  if (m.width < 0 || m.height < 0 || m.data.size() != static_cast<size_t>(m.width) * static_cast<size_t>(m.height))
    throw Error("rle_encode: mask data does not match its size");
  std::vector<uint32_t> counts;
  uint8_t prev = 0;
  uint32_t run = 0;
  const size_t w = static_cast<size_t>(m.width), h = static_cast<size_t>(m.height);
  for (size_t x = 0; x < w; ++x) {
    const uint8_t* col = m.data.data() + x;
    for (size_t y = 0; y < h; ++y) {
      const uint8_t v = col[y * w] ? 1 : 0;
      if (v != prev) {
        counts.push_back(run);
        run = 0;
        prev = v;
      }
      ++run;
    }
  }
  counts.push_back(run);
  return counts;
}

Mask rle_decode(const std::vector<uint32_t>& counts, int width, int height) {
  if (width < 0 || height < 0) throw Error("rle_decode: negative mask size");
  Mask m;
  m.width = width;
  m.height = height;
  const uint64_t total = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  uint64_t sum = 0;
  for (uint32_t c : counts) sum += c;
  if (sum != total)
    throw Error("rle_decode: counts sum to " + std::to_string(sum) + ", mask " + std::to_string(width) + "x" +
                std::to_string(height) + " has " + std::to_string(total) + " pixels");
  m.data.assign(static_cast<size_t>(total), 0);
  uint64_t pos = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (i & 1) {
      for (uint64_t k = pos; k < pos + counts[i]; ++k) {
        const size_t x = static_cast<size_t>(k / static_cast<uint64_t>(height));
        const size_t y = static_cast<size_t>(k % static_cast<uint64_t>(height));
        m.data[y * static_cast<size_t>(width) + x] = 1;
      }
    }
    pos += counts[i];
  }
  return m;
}

int64_t rle_area(const std::vector<uint32_t>& counts) {
  int64_t a = 0;
  for (size_t i = 1; i < counts.size(); i += 2) a += counts[i];
  return a;
}

std::string rle_to_coco_string(const std::vector<uint32_t>& counts) {
  std::string s;
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = counts[i];
    if (i > 2) x -= static_cast<int64_t>(counts[i - 2]);
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;  // arithmetic shift (C++20 guarantees it; every supported compiler does it)
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

std::vector<uint32_t> rle_from_coco_string(const std::string& s) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= s.size()) throw Error("rle string: truncated at the end");
      const int c = static_cast<unsigned char>(s[p]) - 48;
      if (c < 0 || c > 63)
        throw Error("rle string: invalid character at offset " + std::to_string(p));
      if (k >= 7) throw Error("rle string: count too long at offset " + std::to_string(p));
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= static_cast<int64_t>(-1) * (static_cast<int64_t>(1) << (5 * k));
    }
    if (counts.size() > 2) x += static_cast<int64_t>(counts[counts.size() - 2]);
    if (x < 0 || x > 0xffffffffLL) throw Error("rle string: count out of range before offset " + std::to_string(p));
    counts.push_back(static_cast<uint32_t>(x));
  }
  return counts;
}

}  // namespace fx
