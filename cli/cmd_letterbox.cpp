#include <cstdio>

#include "cli/commands.h"
#include "runtime/error.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/npy.h"
#include "runtime/io/video_reader.h"

namespace fx::cli {

int cmd_letterbox(const Args& args) {
  args.max_positionals(1);
  const std::string& input = args.positional(0, "INPUT (video or image)");
  if (!args.has("-o")) throw UsageError("fluxshard letterbox: missing -o OUT.npy");
  int size = args.get_int("--size", 640, 32, 8192);
  int frame_no = args.get_int("--frame", 0, 0, 1 << 30);
  VideoReader reader(input);
  Frame f;
  for (int i = 0; i <= frame_no; ++i)
    if (!reader.read(f)) throw Error("'" + input + "' has only " + std::to_string(i) + " frames");
  std::vector<uint8_t> rgb(static_cast<size_t>(3) * size * size);
  letterbox_rgb(f.rgb.data(), f.width, f.height, size, size, rgb.data());  // Ultralytics' LetterBox
  std::vector<float> x(static_cast<size_t>(3) * size * size);
  rgb_to_planar_float(rgb.data(), size, size, x.data());
  write_npy(args.get("-o"), {1, 3, size, size}, x.data());
  std::printf("%s frame %d -> %s [1,3,%d,%d]\n", input.c_str(), frame_no, args.get("-o").c_str(), size, size);
  return 0;
}

}  // namespace fx::cli
