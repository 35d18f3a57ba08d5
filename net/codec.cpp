#include "net/codec.h"

#include <lz4.h>
#include <turbojpeg.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "runtime/error.h"

namespace fx::net {

namespace {

struct TjHandle {
  tjhandle h = nullptr;
  explicit TjHandle(bool compress) : h(compress ? tjInitCompress() : tjInitDecompress()) {
    if (!h) throw Error("cannot initialise libjpeg-turbo");
  }
  ~TjHandle() { tjDestroy(h); }
};

tjhandle jpeg_compressor() {
  thread_local TjHandle h(true);
  return h.h;
}
tjhandle jpeg_decompressor() {
  thread_local TjHandle h(false);
  return h.h;
}

uint32_t atlas_cols_for(uint32_t count, const BlockGrid& g) {
  if (count == static_cast<uint32_t>(g.count())) return static_cast<uint32_t>(g.cols());
  uint32_t c = static_cast<uint32_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  return std::max<uint32_t>(1, c);
}

// Copies block k of an image into / out of a packed buffer (B rows of B * 3 bytes).
void gather_block(const uint8_t* img, const BlockGrid& g, int k, uint8_t* out, size_t out_stride) {
  const int B = g.block, bx = k % g.cols(), by = k / g.cols();
  for (int y = 0; y < B; ++y)
    std::memcpy(out + y * out_stride, img + (static_cast<size_t>(by * B + y) * g.width + bx * B) * 3,
                static_cast<size_t>(B) * 3);
}
void scatter_block(const uint8_t* in, size_t in_stride, const BlockGrid& g, int k, uint8_t* img) {
  const int B = g.block, bx = k % g.cols(), by = k / g.cols();
  for (int y = 0; y < B; ++y)
    std::memcpy(img + (static_cast<size_t>(by * B + y) * g.width + bx * B) * 3, in + y * in_stride,
                static_cast<size_t>(B) * 3);
}

}  // namespace

Codec parse_codec(const std::string& name) {
  if (name == "raw") return Codec::Raw;
  if (name == "lossless" || name == "zstd") return Codec::Zstd;
  if (name == "lz4") return Codec::Lz4;
  if (name == "jpeg") return Codec::Jpeg;
  throw Error("unknown codec '" + name + "' (raw, lossless, lz4 or jpeg)");
}

const char* codec_name(Codec c) {
  switch (c) {
    case Codec::Raw: return "raw";
    case Codec::Zstd: return "lossless";
    case Codec::Lz4: return "lz4";
    case Codec::Jpeg: return "jpeg";
  }
  return "?";
}

Codec codec_from_int(int v) {
  if (v < 0 || v > 3) throw Error("unknown block codec " + std::to_string(v));
  return static_cast<Codec>(v);
}

std::vector<uint8_t> pack_bitmap(const std::vector<uint8_t>& flags) {
  std::vector<uint8_t> bits((flags.size() + 7) / 8, 0);
  for (size_t k = 0; k < flags.size(); ++k)
    if (flags[k]) bits[k / 8] |= static_cast<uint8_t>(1u << (k % 8));
  return bits;
}

void unpack_bitmap(const uint8_t* bits, size_t size, int n, std::vector<uint8_t>& flags) {
  if (n < 0 || size != (static_cast<size_t>(n) + 7) / 8)
    throw Error("block bitmap of " + std::to_string(size) + " bytes for " + std::to_string(n) + " blocks");
  flags.assign(static_cast<size_t>(n), 0);
  for (int k = 0; k < n; ++k) flags[static_cast<size_t>(k)] = (bits[k / 8] >> (k % 8)) & 1u;
  if (n % 8 && (bits[size - 1] >> (n % 8)) != 0) throw Error("block bitmap has padding bits set");
}

void encode_blocks(const uint8_t* img, const BlockGrid& g, const std::vector<uint8_t>& fresh, const EncodeOptions& opt,
                   EncodedBlocks& out) {
  const int n = g.count();
  if (fresh.size() != static_cast<size_t>(n)) throw Error("encode_blocks: fresh mask of wrong size");
  uint32_t count = 0;
  for (uint8_t f : fresh) count += f != 0;
  out.count = count;
  out.atlas_cols = 0;
  out.payload.clear();
  if (count == 0) return;
  const size_t bb = g.block_bytes(), row = static_cast<size_t>(g.block) * 3;
  if (opt.codec == Codec::Jpeg) {
    const uint32_t ac = atlas_cols_for(count, g), ar = (count + ac - 1) / ac;
    const int aw = static_cast<int>(ac) * g.block, ah = static_cast<int>(ar) * g.block;
    std::vector<uint8_t> atlas(static_cast<size_t>(aw) * ah * 3, 128);
    uint32_t i = 0;
    for (int k = 0; k < n; ++k) {
      if (!fresh[static_cast<size_t>(k)]) continue;
      size_t cx = i % ac, cy = i / ac;
      gather_block(img, g, k, atlas.data() + (cy * g.block * aw + cx * g.block) * 3, static_cast<size_t>(aw) * 3);
      ++i;
    }
    unsigned long size = tjBufSize(aw, ah, TJSAMP_420);
    out.payload.resize(size);
    unsigned char* buf = out.payload.data();
    if (tjCompress2(jpeg_compressor(), atlas.data(), aw, 0, ah, TJPF_RGB, &buf, &size, TJSAMP_420,
                    std::clamp(opt.jpeg_quality, 1, 100), TJFLAG_ACCURATEDCT | TJFLAG_NOREALLOC) != 0)
      throw Error(std::string("JPEG encoding failed: ") + tjGetErrorStr2(jpeg_compressor()));
    out.payload.resize(size);
    out.atlas_cols = ac;
    return;
  }
  std::vector<uint8_t> raw(count * bb);
  uint32_t i = 0;
  for (int k = 0; k < n; ++k)
    if (fresh[static_cast<size_t>(k)]) gather_block(img, g, k, raw.data() + (i++) * bb, row);
  switch (opt.codec) {
    case Codec::Raw: out.payload = std::move(raw); break;
    case Codec::Zstd: {
      out.payload.resize(ZSTD_compressBound(raw.size()));
      size_t r = ZSTD_compress(out.payload.data(), out.payload.size(), raw.data(), raw.size(), opt.zstd_level);
      if (ZSTD_isError(r)) throw Error(std::string("zstd compression failed: ") + ZSTD_getErrorName(r));
      out.payload.resize(r);
      break;
    }
    case Codec::Lz4: {
      out.payload.resize(static_cast<size_t>(LZ4_compressBound(static_cast<int>(raw.size()))));
      int r =
          LZ4_compress_default(reinterpret_cast<const char*>(raw.data()), reinterpret_cast<char*>(out.payload.data()),
                               static_cast<int>(raw.size()), static_cast<int>(out.payload.size()));
      if (r <= 0) throw Error("LZ4 compression failed");
      out.payload.resize(static_cast<size_t>(r));
      break;
    }
    case Codec::Jpeg: break;
  }
}

void decode_blocks(const uint8_t* payload, size_t size, Codec codec, uint32_t count, uint32_t atlas_cols,
                   const BlockGrid& g, const std::vector<uint8_t>& fresh, uint8_t* dst) {
  const int n = g.count();
  if (fresh.size() != static_cast<size_t>(n)) throw Error("block update: fresh mask of wrong size");
  uint32_t marked = 0;
  for (uint8_t f : fresh) marked += f != 0;
  if (marked != count)
    throw Error("block update: " + std::to_string(count) + " blocks announced, " + std::to_string(marked) +
                " marked fresh");
  if (count == 0) {
    if (size != 0) throw Error("block update: payload without fresh blocks");
    return;
  }
  const size_t bb = g.block_bytes(), row = static_cast<size_t>(g.block) * 3;
  if (codec == Codec::Jpeg) {
    if (atlas_cols == 0 || atlas_cols > count) throw Error("block update: invalid JPEG atlas width");
    const uint32_t ar = (count + atlas_cols - 1) / atlas_cols;
    const int64_t aw64 = static_cast<int64_t>(atlas_cols) * g.block, ah64 = static_cast<int64_t>(ar) * g.block;
    if (aw64 > 65535 || ah64 > 65535) throw Error("block update: JPEG atlas too large");
    const int aw = static_cast<int>(aw64), ah = static_cast<int>(ah64);
    int w = 0, h = 0, sub = 0, cs = 0;
    if (size == 0 || size > 0xffffffffu ||
        tjDecompressHeader3(jpeg_decompressor(), payload, static_cast<unsigned long>(size), &w, &h, &sub, &cs) != 0)
      throw Error("block update: payload is not a JPEG image");
    if (w != aw || h != ah)
      throw Error("block update: JPEG of " + std::to_string(w) + "x" + std::to_string(h) + " for an atlas of " +
                  std::to_string(aw) + "x" + std::to_string(ah));
    std::vector<uint8_t> atlas(static_cast<size_t>(aw) * ah * 3);
    if (tjDecompress2(jpeg_decompressor(), payload, static_cast<unsigned long>(size), atlas.data(), aw, 0, ah, TJPF_RGB,
                      TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING) != 0)
      throw Error(std::string("block update: corrupt JPEG (") + tjGetErrorStr2(jpeg_decompressor()) + ")");
    uint32_t i = 0;
    for (int k = 0; k < n; ++k) {
      if (!fresh[static_cast<size_t>(k)]) continue;
      size_t cx = i % atlas_cols, cy = i / atlas_cols;
      scatter_block(atlas.data() + (cy * g.block * aw + cx * g.block) * 3, static_cast<size_t>(aw) * 3, g, k, dst);
      ++i;
    }
    return;
  }
  const size_t expect = count * bb;
  std::vector<uint8_t> raw;
  const uint8_t* src = payload;
  switch (codec) {
    case Codec::Raw:
      if (size != expect)
        throw Error("block update: " + std::to_string(size) + " payload bytes for " + std::to_string(count) +
                    " raw blocks");
      break;
    case Codec::Zstd: {
      unsigned long long declared = ZSTD_getFrameContentSize(payload, size);
      if (declared != expect) throw Error("block update: zstd payload does not declare the expected size");
      raw.resize(expect);
      size_t r = ZSTD_decompress(raw.data(), raw.size(), payload, size);
      if (ZSTD_isError(r) || r != expect) throw Error("block update: corrupt zstd payload");
      src = raw.data();
      break;
    }
    case Codec::Lz4: {
      if (size > 0x7fffffffu || expect > 0x7fffffffu) throw Error("block update: LZ4 payload too large");
      raw.resize(expect);
      int r = LZ4_decompress_safe(reinterpret_cast<const char*>(payload), reinterpret_cast<char*>(raw.data()),
                                  static_cast<int>(size), static_cast<int>(expect));
      if (r < 0 || static_cast<size_t>(r) != expect) throw Error("block update: corrupt LZ4 payload");
      src = raw.data();
      break;
    }
    case Codec::Jpeg: break;
  }
  uint32_t i = 0;
  for (int k = 0; k < n; ++k)
    if (fresh[static_cast<size_t>(k)]) scatter_block(src + (i++) * bb, row, g, k, dst);
}

std::vector<uint8_t> encode_motion(const std::vector<Label>& motion) {
  std::vector<uint8_t> raw(motion.size() * 4);
  for (size_t k = 0; k < motion.size(); ++k) {
    uint16_t dx = static_cast<uint16_t>(shift_dx(motion[k])), dy = static_cast<uint16_t>(shift_dy(motion[k]));
    raw[k * 4 + 0] = static_cast<uint8_t>(dx), raw[k * 4 + 1] = static_cast<uint8_t>(dx >> 8);
    raw[k * 4 + 2] = static_cast<uint8_t>(dy), raw[k * 4 + 3] = static_cast<uint8_t>(dy >> 8);
  }
  std::vector<uint8_t> out(ZSTD_compressBound(raw.size()));
  size_t r = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
  if (ZSTD_isError(r)) throw Error(std::string("zstd compression failed: ") + ZSTD_getErrorName(r));
  out.resize(r);
  return out;
}

void decode_motion(const uint8_t* data, size_t size, int n, std::vector<Label>& motion) {
  const size_t expect = static_cast<size_t>(n) * 4;
  if (ZSTD_getFrameContentSize(data, size) != expect) throw Error("motion field does not declare the expected size");
  std::vector<uint8_t> raw(expect);
  size_t r = ZSTD_decompress(raw.data(), raw.size(), data, size);
  if (ZSTD_isError(r) || r != expect) throw Error("corrupt motion field");
  motion.resize(static_cast<size_t>(n));
  for (size_t k = 0; k < motion.size(); ++k) {
    int dx = static_cast<int16_t>(raw[k * 4] | raw[k * 4 + 1] << 8);
    int dy = static_cast<int16_t>(raw[k * 4 + 2] | raw[k * 4 + 3] << 8);
    motion[k] = pack_shift(dx, dy);
  }
}

}  // namespace fx::net
