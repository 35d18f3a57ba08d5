#include "runtime/io/media_header.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "runtime/error.h"

namespace fx {

namespace {

uint32_t be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t le16(const uint8_t* p) { return uint32_t(p[1]) << 8 | p[0]; }
uint32_t le32(const uint8_t* p) { return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]; }

void need_bytes(const std::string& path, const char* format, int64_t w, int64_t h, int64_t need, int64_t have) {
  if (have < 0 || have >= need) return;
  throw Error("'" + path + "' is truncated or corrupt: its " + format + " header declares " + std::to_string(w) + "x" +
              std::to_string(h) + " pixels, which need at least " + std::to_string(need) + " bytes; the file has " +
              std::to_string(have));
}

void check_png(const uint8_t* p, size_t n, int64_t size, const std::string& path, MediaHeader& m) {
  // Signature, then the IHDR chunk: length, "IHDR", width, height, bit depth, colour type, ...
  if (n < 8 + 8 + 13 || std::memcmp(p + 12, "IHDR", 4) != 0) return;
  int64_t w = be32(p + 16), h = be32(p + 20);
  m.width = w, m.height = h;
  check_frame_size(w, h, "'" + path + "'");
  int depth = p[24], type = p[25];
  int channels = type == 2 ? 3 : type == 4 ? 2 : type == 6 ? 4 : 1;
  int64_t row = (w * channels * depth + 7) / 8 + 1;  // + the filter byte
  // Deflate cannot compress better than about 1032:1, so the image data needs at least this much.
  need_bytes(path, "PNG", w, h, 8 + 25 + h * row / 1032, size);
}

void check_jpeg(const uint8_t* p, size_t n, const std::string& path, MediaHeader& m) {
  // Markers after SOI: FF xx, then a big-endian length that includes itself; SOFn carries the size.
  size_t i = 2;
  while (i + 4 <= n) {
    if (p[i] != 0xFF) return;
    uint8_t mk = p[i + 1];
    if (mk == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (mk == 0xD8 || (mk >= 0xD0 && mk <= 0xD7) || mk == 0x01) {  // no length
      i += 2;
      continue;
    }
    size_t len = be16(p + i + 2);
    bool sof = mk >= 0xC0 && mk <= 0xCF && mk != 0xC4 && mk != 0xC8 && mk != 0xCC;
    if (sof && i + 9 <= n) {
      int64_t h = be16(p + i + 5), w = be16(p + i + 7);
      m.width = w, m.height = h;
      if (w > 0 && h > 0) check_frame_size(w, h, "'" + path + "'");
      return;
    }
    if (mk == 0xDA || len < 2) return;  // scan data follows: no frame header before it
    i += 2 + len;
  }
}

void check_bmp(const uint8_t* p, size_t n, int64_t size, const std::string& path, MediaHeader& m) {
  if (n < 34 || le32(p + 14) < 40) return;  // BITMAPINFOHEADER or later
  int64_t w = static_cast<int32_t>(le32(p + 18)), h = static_cast<int32_t>(le32(p + 22));
  if (h < 0) h = -h;  // top-down
  m.width = w, m.height = h;
  check_frame_size(w, h, "'" + path + "'");
  int64_t bpp = le16(p + 28);
  if (le32(p + 30) != 0 || bpp == 0) return;  // compressed: no size bound from the header
  int64_t row = (w * bpp + 31) / 32 * 4;
  need_bytes(path, "BMP", w, h, static_cast<int64_t>(le32(p + 10)) + row * h, size);
}

void check_y4m(const uint8_t* p, size_t n, int64_t size, const std::string& path, MediaHeader& m) {
  // "YUV4MPEG2 W<w> H<h> F.. I.. A.. C<colourspace> X..\n", then "FRAME[ params]\n" + raw planes per frame.
  size_t end = 0;
  while (end < n && p[end] != '\n') ++end;
  if (end == n) return;  // FFmpeg reports the malformed header
  std::string head(reinterpret_cast<const char*>(p), end);
  int64_t w = -1, h = -1;
  std::string cs = "420jpeg";
  size_t i = 9;
  while (i < head.size()) {
    while (i < head.size() && head[i] == ' ') ++i;
    size_t j = head.find(' ', i);
    if (j == std::string::npos) j = head.size();
    std::string tok = head.substr(i, j - i);
    i = j;
    if (tok.size() < 2) continue;
    auto number = [&]() -> int64_t {
      int64_t v = 0;
      for (size_t k = 1; k < tok.size(); ++k) {
        if (tok[k] < '0' || tok[k] > '9') return -1;
        v = v * 10 + (tok[k] - '0');
        if (v > (int64_t(1) << 40)) return v;  // large enough to fail the limit, no overflow
      }
      return v;
    };
    if (tok[0] == 'W') w = number();
    if (tok[0] == 'H') h = number();
    if (tok[0] == 'C') cs = tok.substr(1);
  }
  if (w <= 0 || h <= 0) return;
  m.width = w, m.height = h;
  check_frame_size(w, h, "'" + path + "'");
  // Samples per pixel, in halves: 4:2:0 and 4:1:1 1.5, 4:2:2 2, 4:4:4 3 (+1 with alpha), mono 1.
  int64_t halves = cs.rfind("mono", 0) == 0       ? 2
                   : cs.rfind("444alpha", 0) == 0 ? 8
                   : cs.rfind("444", 0) == 0      ? 6
                   : cs.rfind("422", 0) == 0      ? 4
                                                  : 3;
  // More than 8 bits per sample ("420p10", "mono16") takes two bytes.
  size_t digits = cs.rfind("mono", 0) == 0 ? 4 : cs.find('p');
  if (digits != std::string::npos && digits + 1 < cs.size() && std::atoi(cs.c_str() + digits + (cs[digits] == 'p')) > 8)
    halves *= 2;
  need_bytes(path, "Y4M", w, h, static_cast<int64_t>(end) + 1 + 6 + w * h * halves / 2, size);
}

}  // namespace

void check_frame_size(int64_t width, int64_t height, const std::string& what) {
  if (width > kMaxFrameSide || height > kMaxFrameSide || width * height > kMaxFramePixels)
    throw Error(what + " declares " + std::to_string(width) + "x" + std::to_string(height) + " frames; at most " +
                std::to_string(kMaxFrameSide) + " pixels a side and " + std::to_string(kMaxFramePixels) +
                " pixels a frame are supported");
}

MediaHeader check_media_header(const uint8_t* head, size_t n, int64_t file_size, const std::string& path) {
  n = std::min(n, kMediaHeaderBytes);
  MediaHeader m;
  static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n >= 8 && std::memcmp(head, png, 8) == 0) {
    m.format = "png";
    check_png(head, n, file_size, path, m);
  } else if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) {
    m.format = "jpeg";
    check_jpeg(head, n, path, m);
  } else if (n >= 2 && head[0] == 'B' && head[1] == 'M') {
    m.format = "bmp";
    check_bmp(head, n, file_size, path, m);
  } else if (n >= 10 && std::memcmp(head, "YUV4MPEG2 ", 10) == 0) {
    m.format = "y4m";
    check_y4m(head, n, file_size, path, m);
  }
  return m;
}

}  // namespace fx
