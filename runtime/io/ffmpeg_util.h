// Internal helpers shared by the FFmpeg-based reader and writer (not a public header).
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace fx {
namespace ffmpeg {

struct FormatInputDeleter {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameDeleter {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};

using FormatInputPtr = std::unique_ptr<AVFormatContext, FormatInputDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;

// av_strerror as a std::string ("No such file or directory").
std::string error_string(int errnum);

// Lower-cases the first letter ("Invalid data ..." -> "invalid data ...") for use inside parentheses.
std::string lower_first(std::string s);

// Applies the default (quiet) FFmpeg log level once, unless set_ffmpeg_log_level() was called.
void init_logging();

FramePtr alloc_frame();
PacketPtr alloc_packet();

}  // namespace ffmpeg
}  // namespace fx
