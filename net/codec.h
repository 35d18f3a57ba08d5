// Payload codecs of an update's fresh blocks (schema/wire.fbs BlockSet) and of its block motion field.
//
// Blocks: the B x B pixel blocks of the plan's input image (packed RGB24, W x H, multiples of B); block
// k = by * cols + bx. An update names its fresh blocks with a bitmap and carries their pixels:
//   raw:      count * B * B * 3 bytes, block after block, each block row after row;
//   lossless: the same bytes compressed with zstd (level 1 by default);
//   lz4:      the same bytes compressed with LZ4;
//   jpeg:     one JPEG (libjpeg-turbo, 4:2:0, accurate DCT) of an atlas: atlas_cols x ceil(count /
//             atlas_cols) cells of B x B, block i in cell (i % atlas_cols, i / atlas_cols); a full update
//             uses the image's own layout (atlas_cols = cols).
// With JPEG the sender decodes its own bytes (decode_blocks) and uses the decoded pixels wherever the
// receiver will, so both sides hold identical images.
//
// Decoding never trusts a size from the payload: the decoded size follows from count and the block size
// (count <= number of blocks), a zstd frame must declare exactly that size, LZ4 must produce exactly
// that many bytes, and a JPEG's header must declare the atlas' exact width and height; anything else is
// an fx::Error with one line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/sparse/labels.h"

namespace fx::net {

enum class Codec { Raw = 0, Zstd = 1, Lz4 = 2, Jpeg = 3 };

// "raw", "lossless" (= "zstd"), "zstd", "lz4", "jpeg"; throws fx::Error otherwise.
Codec parse_codec(const std::string& name);
const char* codec_name(Codec c);
// Throws fx::Error for a value outside the enum.
Codec codec_from_int(int v);

struct BlockGrid {
  int width = 0, height = 0, block = 16;
  int cols() const { return width / block; }
  int rows() const { return height / block; }
  int count() const { return cols() * rows(); }
  size_t block_bytes() const { return static_cast<size_t>(block) * block * 3; }
};

// One byte per block (0 / 1) <-> a bitmap of ceil(n / 8) bytes (bit k % 8 of byte k / 8). unpack throws
// fx::Error when the size is wrong or a padding bit is set.
std::vector<uint8_t> pack_bitmap(const std::vector<uint8_t>& flags);
void unpack_bitmap(const uint8_t* bits, size_t size, int n, std::vector<uint8_t>& flags);

struct EncodeOptions {
  Codec codec = Codec::Raw;
  int jpeg_quality = 90;
  int zstd_level = 1;
};

struct EncodedBlocks {
  std::vector<uint8_t> payload;
  uint32_t count = 0;
  uint32_t atlas_cols = 0;  // JPEG only
};

// Encodes the blocks of `img` with fresh[k] != 0.
void encode_blocks(const uint8_t* img, const BlockGrid& g, const std::vector<uint8_t>& fresh, const EncodeOptions& opt,
                   EncodedBlocks& out);

// Writes the decoded pixels of the fresh blocks into `dst` (W x H RGB24); other pixels are untouched.
void decode_blocks(const uint8_t* payload, size_t size, Codec codec, uint32_t count, uint32_t atlas_cols,
                   const BlockGrid& g, const std::vector<uint8_t>& fresh, uint8_t* dst);

// The motion field of an update: one shift label per block (never kInvalid) as zstd-compressed int16
// (dx, dy) pairs. decode throws fx::Error unless the data decompresses to exactly n pairs.
std::vector<uint8_t> encode_motion(const std::vector<Label>& motion);
void decode_motion(const uint8_t* data, size_t size, int n, std::vector<Label>& motion);

}  // namespace fx::net
