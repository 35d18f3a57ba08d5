// Sizes a file claims, checked before anything is allocated from them. FFmpeg allocates a frame (or, for
// Y4M, a whole raw frame as one packet) from the header's width and height: a 74-byte PNG declaring
// 16000 x 16000 cost 824 MB before its error, a Y4M declaring 100000 x 100000 failed with "Device or
// resource busy". VideoReader runs check_media_header on the first bytes of every regular file before
// FFmpeg opens it, check_frame_size on every stream FFmpeg reports (pipes and streams included), and
// sets the decoder's max_pixels to the same limit.
//
// Recognised headers: PNG (IHDR), JPEG (SOFn), BMP, Y4M. A header whose frames exceed the limit, or
// whose pixels cannot fit in the file (raw formats: the frame's bytes; PNG: deflate's best ratio,
// 1032:1), is an fx::Error of one line. Anything else passes (FFmpeg's own checks then apply).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fx {

constexpr int64_t kMaxFrameSide = 16384;                   // pixels, width or height
constexpr int64_t kMaxFramePixels = int64_t(8192) * 8192;  // width x height (201 MB as RGB24)
constexpr size_t kMediaHeaderBytes = 64 * 1024;            // how much of a file check_media_header reads

// `what` names the source in the message ("'x.png'", "video 'x.mp4'").
void check_frame_size(int64_t width, int64_t height, const std::string& what);

struct MediaHeader {
  const char* format = nullptr;     // "png", "jpeg", "bmp", "y4m"; nullptr: not recognised
  int64_t width = -1, height = -1;  // as declared (-1: not found)
};

// `head`: the file's first bytes (at most kMediaHeaderBytes are looked at); `file_size`: its size in
// bytes, or -1 when unknown (a pipe): then only the limit is checked. Returns what it recognised.
MediaHeader check_media_header(const uint8_t* head, size_t n, int64_t file_size, const std::string& path);

}  // namespace fx
