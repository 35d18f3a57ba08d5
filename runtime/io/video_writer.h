// Video encoding with FFmpeg: RGB24 frames in, a video file out.
//
// Default: H.264 (libx264, yuv420p, crf 23, preset veryfast) when this FFmpeg has libx264 and the
// container takes H.264, else MPEG-4 part 2 (mpeg4, qscale 3). The container follows the file name's
// extension (.mp4, .mkv, .avi, .mov, ...). 4:2:0 encoders need even sizes: an odd width / height is
// encoded one pixel smaller (the last column / row is dropped). YUV output is BT.601 limited range and
// tagged so (VideoReader reads it back with the same matrix).
//
// Errors are fx::Error with one line, e.g.
//   cannot write video '/nonexistent/x.mp4': No such file or directory
//   cannot write video 'x.xyz': unknown container format (use a name ending in .mp4, .mkv, .avi, ...)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace fx {

struct Frame;

struct VideoWriterOptions {
  std::string codec;            // FFmpeg encoder name ("libx264", "mpeg4", "ffv1", ...); "" = default
  int crf = 23;                 // libx264 / libx265 quality
  std::string preset = "veryfast";  // libx264 / libx265 speed preset
  int qscale = 3;               // fixed quantiser for the other lossy encoders (mpeg4: 1 best .. 31)
  int gop = -1;                 // keyframe interval; -1 = encoder default
  int max_b_frames = -1;        // -1 = encoder default
  // ffv1 (lossless) and png store RGB (bgr0 / rgb24), so RGB frames round-trip exactly; mjpeg uses
  // full-range yuv420p, the other encoders limited-range yuv420p.
};

class VideoWriter {
 public:
  VideoWriter();
  VideoWriter(const std::string& path, int width, int height, double fps, const VideoWriterOptions& opt = {});
  ~VideoWriter();  // close(), ignoring errors
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;
  VideoWriter(VideoWriter&&) noexcept;
  VideoWriter& operator=(VideoWriter&&) noexcept;

  void open(const std::string& path, int width, int height, double fps, const VideoWriterOptions& opt = {});
  // One RGB24 frame of the opened width x height; stride in bytes (0 = width * 3).
  void write(const uint8_t* rgb, int stride = 0);
  void write(const Frame& f);  // f.width / f.height must match
  // Flushes the encoder and finishes the file. Idempotent.
  void close();

  bool is_open() const;
  int64_t frames_written() const;
  std::string codec_name() const;  // encoder in use ("libx264", "mpeg4", ...)

  // True when this FFmpeg build has the named encoder (VideoWriterOptions::codec).
  static bool has_encoder(const std::string& name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes one RGB24 image; the format follows the extension (.png lossless, .jpg, .bmp, .ppm, ...).
// Errors as VideoWriter ("cannot write video 'x.png': ...").
void write_image(const std::string& path, const uint8_t* rgb, int width, int height, int stride = 0);

}  // namespace fx
