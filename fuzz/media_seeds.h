// Small valid still images and Y4M streams built by hand (no encoder library needed): the media fuzzer's
// seeds (fuzz/make_fuzz_seeds.cpp) and the header checks' tests (valid files must still decode).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace fx::fuzz {

inline void put_be32(std::string& s, uint32_t v) {
  for (int k = 3; k >= 0; --k) s += static_cast<char>(v >> (8 * k));
}
inline void put_le(std::string& s, uint32_t v, int bytes) {
  for (int k = 0; k < bytes; ++k) s += static_cast<char>(v >> (8 * k));
}

inline uint32_t crc32(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

// A w x h RGB PNG of a gradient; the image data in stored (uncompressed) deflate blocks.
inline std::string png_image(int w, int h) {
  std::string raw;
  for (int y = 0; y < h; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < w; ++x) raw += {static_cast<char>(x * 5), static_cast<char>(y * 7), static_cast<char>(x + y)};
  }
  std::string z = "\x78\x01";
  for (size_t off = 0; off < raw.size() || off == 0; off += 65535) {
    size_t len = std::min<size_t>(65535, raw.size() - off);
    z += static_cast<char>(off + len >= raw.size() ? 1 : 0);
    put_le(z, static_cast<uint32_t>(len), 2);
    put_le(z, static_cast<uint32_t>(~len & 0xFFFF), 2);
    z += raw.substr(off, len);
    if (raw.empty()) break;
  }
  uint32_t a = 1, b = 0;  // Adler-32
  for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  put_be32(z, b << 16 | a);
  auto chunk = [](const std::string& type, const std::string& data) {
    std::string c;
    put_be32(c, static_cast<uint32_t>(data.size()));
    c += type + data;
    put_be32(c, crc32(type + data));
    return c;
  };
  std::string ihdr;
  put_be32(ihdr, static_cast<uint32_t>(w));
  put_be32(ihdr, static_cast<uint32_t>(h));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", "");
}

// A w x h 24-bit uncompressed BMP (bottom-up rows padded to 4 bytes).
inline std::string bmp_image(int w, int h) {
  const uint32_t row = static_cast<uint32_t>((w * 3 + 3) / 4 * 4);
  std::string s = "BM";
  put_le(s, 54 + row * static_cast<uint32_t>(h), 4);
  put_le(s, 0, 4);
  put_le(s, 54, 4);
  put_le(s, 40, 4);
  put_le(s, static_cast<uint32_t>(w), 4);
  put_le(s, static_cast<uint32_t>(h), 4);
  put_le(s, 1, 2);
  put_le(s, 24, 2);
  put_le(s, 0, 4);
  put_le(s, row * static_cast<uint32_t>(h), 4);
  put_le(s, 2835, 4);
  put_le(s, 2835, 4);
  put_le(s, 0, 4);
  put_le(s, 0, 4);
  for (int y = 0; y < h; ++y) {
    std::string r;
    for (int x = 0; x < w; ++x) r += {static_cast<char>(x * 3), static_cast<char>(y * 5), static_cast<char>(x ^ y)};
    r.resize(row, '\0');
    s += r;
  }
  return s;
}

// `frames` frames of a w x h Y4M stream (C420jpeg or C444).
inline std::string y4m_stream(int w, int h, int frames, bool yuv444 = false) {
  std::string s = "YUV4MPEG2 W" + std::to_string(w) + " H" + std::to_string(h) + " F25:1 Ip A1:1 " +
                  (yuv444 ? "C444" : "C420jpeg") + "\n";
  const size_t luma = static_cast<size_t>(w) * h;
  const size_t chroma = yuv444 ? luma : static_cast<size_t>((w + 1) / 2) * ((h + 1) / 2);
  for (int f = 0; f < frames; ++f) {
    s += "FRAME\n";
    for (size_t i = 0; i < luma; ++i) s += static_cast<char>(16 + (i + f * 3) % 200);
    s += std::string(2 * chroma, static_cast<char>(128 + f));
  }
  return s;
}

}  // namespace fx::fuzz
