// Video and still-image decoding with FFmpeg (libavformat + libavcodec + libswscale).
//
// VideoReader opens anything libavformat demuxes (mp4, mkv, avi, ...; H.264, HEVC, MPEG-4 part 2,
// msmpeg4, ...) and still images / numbered image sequences through the image2 demuxers (jpg, png).
// Frames come out as packed RGB24 together with the codec's motion vectors (decoded with
// AV_CODEC_EXPORT_DATA_MVS, i.e. `-flags2 +export_mvs`).
//
// Robustness: packets or frames that do not decode are skipped (box.mp4's first frame, a damaged
// GOP, the partial last frame of a truncated file); read() returns false at the end of the stream.
// Errors are fx::Error with one line:
//   cannot open video 'x.mp4': No such file or directory
//   'notes.txt' is not a video or image (invalid data found when processing input)
//   video 'x.mp4' is truncated or corrupt (invalid data found when processing input)
//   video 'x.mp4' has no decodable video stream
//   video 'x.mp4' is truncated or corrupt: no frame decodes
// The constructor decodes the first frame (so width()/height() are those of real decoded frames and a
// file without any decodable frame fails at open); read() hands it out first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/io/letterbox.h"

namespace fx {

// One codec motion vector, exactly as FFmpeg's AVMotionVector reports it.
//
// Convention (precise): the block of w x h pixels whose CENTRE is (dst_x, dst_y) in the current frame
// is predicted from the block whose centre is (src_x, src_y) in the reference frame. Coordinates are
// pixels of the decoded (source) frame, not of a letterboxed image. So the block's top-left corner is
// (dst_x - w/2, dst_y - h/2), and
//     src = dst + (motion_x, motion_y) / motion_scale        (integer division, truncating)
// If the picture content moves by (+dx, +dy) pixels from the reference frame to the current frame
// (e.g. a pan showing an object sliding right/down), then src = dst - (dx, dy), i.e.
//     dst = src + motion,   motion = (dst_x - src_x, dst_y - src_y) = (dx, dy).
// source < 0: the reference is a past frame (P prediction, or the forward list of a B frame);
// source > 0: a future frame (backward prediction of a B frame). Intra blocks have no vector.
// motion_x / motion_y keep the codec's sub-pixel precision in units of 1/motion_scale pixel
// (2 for MPEG-4 part 2 half-pel, 4 for H.264 quarter-pel).
struct CodecMotionVector {
  int16_t w = 0, h = 0;
  int32_t src_x = 0, src_y = 0;
  int32_t dst_x = 0, dst_y = 0;
  int8_t source = -1;
  int32_t motion_x = 0, motion_y = 0;
  uint16_t motion_scale = 1;
};

struct Frame {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // RGB24, packed rows (stride width * 3)
  int64_t index = -1;        // 0, 1, 2, ... in output order among the frames delivered (skipped frames
                             // take no index)
  double time_s = 0.0;       // presentation time relative to the stream start (from the best-effort
                             // timestamp; index / fps when the container has none)
  std::vector<CodecMotionVector> mvs;  // empty for intra frames and codecs that export none
  bool key_frame = false;
  char pict_type = '?';      // 'I', 'P', 'B', ... ('?' when unknown)
};

class VideoReader {
 public:
  explicit VideoReader(const std::string& path);
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;
  VideoReader(VideoReader&&) noexcept;
  VideoReader& operator=(VideoReader&&) noexcept;

  // Next frame as RGB24 (plus MVs). Reuses f's buffers: no reallocation while the size is unchanged.
  // Returns false at the end of the stream (and on every later call).
  bool read(Frame& f);

  // Next frame converted straight from the decoder's YUV into the letterboxed model input
  // (dst_w x dst_h RGB24, grey 114 padding, geometry of letterbox_info()) in one swscale pass. f.width
  // / f.height become dst_w / dst_h; MVs stay in source-frame pixels. The resampling is swscale's
  // bilinear filter, close to but not bit-identical with letterbox_rgb() (cv2 INTER_LINEAR); use
  // read() + letterbox_rgb() where Ultralytics-exact pixels matter.
  bool read_letterboxed(Frame& f, int dst_w, int dst_h, LetterboxInfo* info = nullptr);

  int width() const;                       // of the decoded frames
  int height() const;
  double fps() const;                      // the stream's frame rate (image2 reports 25 for stills)
  int64_t frame_count_estimate() const;    // from the container (nb_frames or duration * fps); -1 unknown
  std::string codec_name() const;          // FFmpeg's codec name: "h264", "mpeg4", "msmpeg4v3", "png"
  bool is_image() const;                   // opened through an image demuxer (still image / sequence)
  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// FFmpeg's own logging (av_log) is silenced to AV_LOG_FATAL the first time media I/O is used, because
// the reader and writer report errors themselves. Call this (e.g. with AV_LOG_WARNING = 24) to see it;
// an explicit call wins over the default.
void set_ffmpeg_log_level(int level);

}  // namespace fx
