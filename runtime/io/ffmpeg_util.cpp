#include "runtime/io/ffmpeg_util.h"

#include <atomic>
#include <cctype>
#include <mutex>
#include <new>

extern "C" {
#include <libavutil/log.h>
}

#include "runtime/io/video_reader.h"

namespace fx {

namespace {
std::atomic<bool> g_log_level_set{false};
std::once_flag g_log_once;
}  // namespace

void set_ffmpeg_log_level(int level) {
  g_log_level_set.store(true);
  av_log_set_level(level);
}

namespace ffmpeg {

std::string error_string(int errnum) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(errnum, buf, sizeof buf) < 0) return "error " + std::to_string(errnum);
  return buf;
}

std::string lower_first(std::string s) {
  // Only when the second letter is lower case too: keeps acronyms ("EOF") intact.
  if (s.size() >= 2 && std::isupper(static_cast<unsigned char>(s[0])) &&
      std::islower(static_cast<unsigned char>(s[1])))
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

void init_logging() {
  std::call_once(g_log_once, [] {
    if (!g_log_level_set.load()) av_log_set_level(AV_LOG_FATAL);
  });
}

FramePtr alloc_frame() {
  AVFrame* f = av_frame_alloc();
  if (!f) throw std::bad_alloc();
  return FramePtr(f);
}

PacketPtr alloc_packet() {
  AVPacket* p = av_packet_alloc();
  if (!p) throw std::bad_alloc();
  return PacketPtr(p);
}

}  // namespace ffmpeg
}  // namespace fx
