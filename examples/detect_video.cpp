// Runs a compiled plan on a video through the C++ wrapper (fluxshard/fluxshard.hpp) and prints, per
// class, how many detections the video had, then the frame count, mean time per frame and mean share of
// FLOPs reused from the feature cache.
//
// usage: detect_video_cpp PLAN.fsp VIDEO [dense|exact|fluxshard] [MAX_FRAMES]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "fluxshard/fluxshard.hpp"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: detect_video_cpp PLAN.fsp VIDEO [dense|exact|fluxshard] [MAX_FRAMES]\n");
    return 2;
  }
  const std::string mode = argc > 3 ? argv[3] : "fluxshard";
  const long max_frames = argc > 4 ? std::atol(argv[4]) : 0;
  try {
    fluxshard::Plan plan(argv[1]);
    fluxshard::SessionOptions opt;
    if (mode == "dense") opt.mode = FX_MODE_DENSE;
    else if (mode == "exact") opt.mode = FX_MODE_EXACT;
    else if (mode == "fluxshard") opt.mode = FX_MODE_FLUXSHARD;
    else throw fluxshard::Error(FX_ERROR_INVALID_ARGUMENT, "unknown mode '" + mode + "'");
    fluxshard::Session session(plan, opt);
    fluxshard::Video video(argv[2]);

    std::map<std::string, long> per_class;
    long frames = 0, detections = 0;
    double ms = 0, flop_hit = 0;
    while ((max_frames <= 0 || frames < max_frames) && video.read()) {
      session.push(video);
      for (const fluxshard::Detection& d : session.detections()) per_class[plan.class_name(d.cls)]++;
      detections += session.detection_count();
      ms += session.last_ms();
      flop_hit += session.last_flop_hit();
      ++frames;
    }
    for (const auto& [name, n] : per_class) std::printf("%-16s %ld\n", name.c_str(), n);
    std::printf("frames %ld detections %ld mean_ms %.2f mean_flop_hit %.3f (%s, %s)\n", frames, detections,
                frames ? ms / frames : 0.0, frames ? flop_hit / frames : 0.0, mode.c_str(),
                fluxshard::version().c_str());
    return 0;
  } catch (const fluxshard::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
