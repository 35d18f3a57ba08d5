// Writes a clip as another camera or edit would have delivered it, for checking the planner on videos we
// do not have (perf/RESULTS.md, "Faithful reuse"):
//
//   make_variant IN OUT.mp4 [--frames N] [--gain G] [--gamma Y] [--noise S] [--fade-from F --fade-frames K]
//                [--cut CLIP2 --cut-at K]
//
//   --gain / --gamma / --noise  v' = 255 (G v / 255)^Y + N(0, S) per channel (a darker, flatter or noisier
//                               camera; the noise is seeded, the same on every run)
//   --fade-from F --fade-frames K  from frame F on, the gain falls linearly to 0 over K frames (fade out)
//   --cut CLIP2 --cut-at K      frames K.. come from CLIP2 (resized to IN's size): a scene cut
// Encoded with H.264 (crf 20) when this FFmpeg has libx264, else MPEG-4, so the codec's quantisation of
// dark content is part of the result as in a real recording.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/io/video_writer.h"

using namespace fx;

int main(int argc, char** argv) try {
  std::vector<std::string> pos;
  int frames = 1 << 30, fade_from = -1, fade_frames = 30, cut_at = -1;
  double gain = 1, gamma = 1, noise = 0;
  std::string cut;
  auto value = [&](int& i) -> const char* {
    if (i + 1 >= argc) throw Error(std::string("missing value after ") + argv[i]);
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--frames")
      frames = std::atoi(value(i));
    else if (a == "--gain")
      gain = std::atof(value(i));
    else if (a == "--gamma")
      gamma = std::atof(value(i));
    else if (a == "--noise")
      noise = std::atof(value(i));
    else if (a == "--fade-from")
      fade_from = std::atoi(value(i));
    else if (a == "--fade-frames")
      fade_frames = std::max(1, std::atoi(value(i)));
    else if (a == "--cut")
      cut = value(i);
    else if (a == "--cut-at")
      cut_at = std::atoi(value(i));
    else if (a.rfind("--", 0) == 0)
      throw Error("unknown option " + a);
    else
      pos.push_back(a);
  }
  if (pos.size() != 2) {
    std::fprintf(stderr,
                 "usage: make_variant IN OUT.mp4 [--frames N] [--gain G] [--gamma Y] [--noise S] "
                 "[--fade-from F --fade-frames K] [--cut CLIP2 --cut-at K]\n");
    return 2;
  }
  VideoReader in(pos[0]);
  std::unique_ptr<VideoReader> second;
  if (!cut.empty()) second = std::make_unique<VideoReader>(cut);
  VideoWriterOptions wo;
  wo.crf = 20;
  VideoWriter out;
  std::mt19937 rng(4242);
  std::normal_distribution<double> gauss(0.0, 1.0);
  Frame f, g;
  int n = 0;
  for (; n < frames && in.read(f); ++n) {
    if (second && n >= cut_at && cut_at >= 0) {
      if (!second->read(g)) break;
      std::vector<uint8_t> rs(f.rgb.size());
      resize_linear(g.rgb.data(), g.width, g.height, 0, rs.data(), f.width, f.height, 0, 3);
      f.rgb.swap(rs);
    }
    if (!out.is_open()) out.open(pos[1], f.width, f.height, in.fps() > 0 ? in.fps() : 30.0, wo);
    double gn = gain;
    if (fade_from >= 0 && n >= fade_from)
      gn *= std::max(0.0, 1.0 - static_cast<double>(n - fade_from + 1) / fade_frames);
    for (uint8_t& v : f.rgb) {
      double x = 255.0 * std::pow(gn * v / 255.0, gamma);
      if (noise > 0) x += noise * gauss(rng);
      v = static_cast<uint8_t>(std::clamp(std::lround(x), 0L, 255L));
    }
    out.write(f);
  }
  out.close();
  std::printf("%s: %d frames\n", pos[1].c_str(), n);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
