// Video and still-image decoding with FFmpeg (libavformat + libavcodec + libswscale).
//
// VideoReader opens anything libavformat demuxes (mp4, mkv, avi, ...; H.264, HEVC, MPEG-4 part 2,
// msmpeg4, ...) and still images / numbered image sequences through the image2 demuxers (jpg, png);
// also "-" (standard input: a stream format, or an MP4 with its index first), a folder or glob of images
// ("frames/", "shots/*.jpg": natural order, one frame each), a camera ("/dev/video0", "v4l2:DEVICE":
// FFmpeg's video4linux2 device, libavdevice loaded at run time) and network streams (rtsp://, http://,
// ...; a live source that drops is reopened with backoff, VideoReaderOptions::reconnect_s).
// Frames come out as packed RGB24 together with the codec's motion vectors (decoded with
// AV_CODEC_EXPORT_DATA_MVS, i.e. `-flags2 +export_mvs`). Output is deterministic: the same file gives
// the same pixels and the same vectors on every run (see VideoReaderOptions for the threading).
//
// Robustness: packets or frames that do not decode are skipped (box.mp4's first frame, a damaged
// GOP, the partial last frame of a truncated file) and counted: frame numbers follow the source's
// timestamps, so a skipped frame leaves a gap (missing_frames()); read() returns false at the end.
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
#include <functional>
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
// (content sliding right / down for dx, dy > 0), then src = dst - (dx, dy), i.e.
//     dst = src + motion,   motion = (dst_x - src_x, dst_y - src_y) = (dx, dy).
// source = -1: forward prediction (list 0: P blocks, forward half of B blocks), normally from a past
// frame; source = +1: backward prediction (list 1 of B blocks), from a future frame. FFmpeg does not
// say WHICH reference picture: with several reference frames (or B frames) a vector may point two or
// more frames away, so treat it as a hint. Intra blocks have no vector.
// A bi-predicted block gives two entries (one per direction). Blocks are 16x16, 16x8, 8x16 or 8x8
// (smaller H.264 partitions are reported as 8x8 with the vector of their top-left 4x4).
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
  int64_t index = -1;        // the source's frame number: from the timestamp (time * fps, rounded), so
                             // frames lost to damage leave a gap (VideoReader::missing_frames());
                             // 0, 1, 2, ... where there are no timestamps; always increasing
  double time_s = 0.0;       // presentation time relative to the stream start (from the best-effort
                             // timestamp; index / fps when the container has none)
  std::vector<CodecMotionVector> mvs;  // empty for intra frames and codecs that export none
  bool key_frame = false;
  char pict_type = '?';      // 'I', 'P', 'B', ... ('?' when unknown)
};

struct VideoReaderOptions {
  // Export the codec's motion vectors (Frame::mvs). FFmpeg fills them from the decoder's per-picture
  // tables, which frame-threaded decoding may still be writing when the vectors are exported (the
  // exported set then varies from run to run), so with motion vectors on the decoder uses slice
  // threads only; with them off it also decodes several frames in parallel. Pixels are identical
  // either way.
  bool motion_vectors = true;
  int threads = 0;  // decoder threads; 0 = one per core (FFmpeg caps it)
  // Live sources (a camera, a network stream that is not a seekable file): when one drops (ends or
  // fails), it is reopened with backoff (0.25 s doubling to 4 s) until a frame decodes or this many
  // seconds pass (then read() returns false). 0: no reconnection.
  double reconnect_s = 30;
  // Polled during blocking reads and reconnection waits; true ends the stream (read() returns false).
  std::function<bool()> interrupt;
  double image_fps = 25;  // the frame rate given to a folder or glob of images
};

class VideoReader {
 public:
  explicit VideoReader(const std::string& path, const VideoReaderOptions& options = {});
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

  // Damage seen so far: source frames the timestamps skipped (dropped or undecodable; the first of
  // them, -1 if none), and packets / frames the decoder rejected.
  int64_t missing_frames() const;
  int64_t first_missing_frame() const;
  int64_t decode_errors() const;
  int64_t reconnects() const;  // times a live source was reopened after dropping
  bool is_live() const;

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
