// libFuzzer target: image and video headers (runtime/io/media_header.h). Arbitrary bytes through
// check_media_header (PNG, JPEG, BMP, Y4M: every size checked against the limits and the bytes present);
// those it lets through as a recognised still image or Y4M stream of at most 256 x 256 pixels are then
// opened and decoded by VideoReader from an in-memory file (FFmpeg's image and yuv4mpeg demuxers and
// decoders, under the same limits), so a header whose claim the check misses shows up as a large
// allocation (-malloc_limit_mb in scripts/sanitize_and_fuzz.sh). Every failure must be an fx::Error.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/error.h"
#include "runtime/io/media_header.h"
#include "runtime/io/video_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fx::MediaHeader m;
  try {
    m = fx::check_media_header(data, size, static_cast<int64_t>(size), "fuzz");
  } catch (const fx::Error&) {
    return 0;
  }
  // Decoding is only worth it (and only quick) for small frames of a format the check knows.
  if (!m.format || m.width <= 0 || m.height <= 0 || m.width > 256 || m.height > 256) return 0;
  static int fd = memfd_create("fuzz_media", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    fx::VideoReaderOptions o;
    o.threads = 1;
    fx::VideoReader r("/proc/self/fd/" + std::to_string(fd), o);
    fx::Frame f;
    for (int i = 0; i < 3 && r.read(f); ++i) {
    }
  } catch (const fx::Error&) {
  }
  return 0;
}
