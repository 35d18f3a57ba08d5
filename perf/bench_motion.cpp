// Times MotionAligner::estimate() on consecutive frames of real clips, letterboxed to the plan input
// (default 640 x 640, 1600 blocks of 16 px), with the reference = the previous decoded frame.
//
//   bench_motion [--frames N] [--threads T] [--size S] [--window W] [--tau T] [clip.mp4 ...]
//
// Default clips: /work/shared/assets/video/davis/*.mp4 and cockatoo.mp4 (those present), else the repo's
// assets/*.mp4. Modes, per clip:
//   noseed      no previous field, no codec hints (seeds: zero only)
//   seeded      the previous frame's field as seeds
//   seeded+mv   previous field + codec motion vectors (codec_hints())
//   worst       tau = 0: every block whose best seed is not an exact match is searched exhaustively
// and two synthetic common cases on the clip's first frame: a static scene (cur == ref) and an exact
// global pan of (-5, 3) px; finally independent noise frames (every block exhaustive). Prints ms per frame (median and
// mean over the frames) and the field stats.
#include <dirent.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/thread_pool.h"
#include "runtime/error.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/motion/aligner.h"

using namespace fx;

namespace {

using Clock = std::chrono::steady_clock;

struct Clip {
  std::string name;
  std::vector<std::vector<uint8_t>> frames;
  std::vector<std::vector<CodecHint>> hints;
};

bool exists(const std::string& p) {
  FILE* f = std::fopen(p.c_str(), "rb");
  if (f) std::fclose(f);
  return f != nullptr;
}

std::vector<std::string> list_mp4(const std::string& dir) {
  std::vector<std::string> r;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".mp4") == 0) r.push_back(dir + "/" + n);
    }
    closedir(d);
  }
  std::sort(r.begin(), r.end());
  return r;
}

double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

struct Summary {
  double median_ms = 0, mean_ms = 0, cpu_ms = 0;  // wall median / mean, process CPU time mean
  MotionStats stats;  // means over frames
};

template <class Fn>
Summary run_mode(const MotionAligner& al, int pairs, ThreadPool* pool, Fn&& call) {
  std::vector<double> ms;
  Summary s;
  MotionField prev, out;
  bool have_prev = false;
  for (int i = 0; i < pairs; ++i) {
    const double c0 = cpu_ms();
    const auto t0 = Clock::now();
    call(i, have_prev ? &prev : nullptr, out, pool);
    const auto t1 = Clock::now();
    s.cpu_ms += (cpu_ms() - c0) / pairs;
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    const MotionStats st = MotionAligner::stats(out);
    s.stats.candidate_share += st.candidate_share / pairs;
    s.stats.exposed_share += st.exposed_share / pairs;
    s.stats.median_mv += st.median_mv / pairs;
    s.stats.stride_aligned_share += st.stride_aligned_share / pairs;
    s.stats.mean_cost += st.mean_cost / pairs;
    std::swap(prev, out);
    have_prev = true;
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  s.median_ms = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  for (double v : ms) s.mean_ms += v / ms.size();
  return s;
}

void print(const char* clip, const char* mode, const Summary& s) {
  std::printf("%-18s %-10s %8.2f %8.2f %8.2f   %6.1f%% %6.1f%% %6.2f %6.1f%% %7.4f\n", clip, mode, s.median_ms,
              s.mean_ms, s.cpu_ms, 100 * s.stats.candidate_share, 100 * s.stats.exposed_share, s.stats.median_mv,
              100 * s.stats.stride_aligned_share, s.stats.mean_cost);
}

}  // namespace

int main(int argc, char** argv) {
  int max_frames = 40, threads = 1, size = 640;
  AlignerOptions opt;
  std::vector<std::string> clips;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value after %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--frames") max_frames = std::atoi(next());
    else if (a == "--threads") threads = std::atoi(next());
    else if (a == "--size") size = std::atoi(next());
    else if (a == "--window") opt.window = std::atoi(next());
    else if (a == "--tau") opt.tau = static_cast<float>(std::atof(next()));
    else if (a == "--help" || a == "-h") {
      std::printf("bench_motion [--frames N] [--threads T] [--size S] [--window W] [--tau T] [clip.mp4 ...]\n");
      return 0;
    } else clips.push_back(a);
  }
  if (clips.empty()) {
    clips = list_mp4("/work/shared/assets/video/davis");
    if (exists("/work/shared/assets/video/cockatoo.mp4")) clips.push_back("/work/shared/assets/video/cockatoo.mp4");
    if (clips.empty()) clips = list_mp4("assets");
  }
  if (clips.empty()) {
    std::fprintf(stderr, "no clips (pass paths to .mp4 files)\n");
    return 1;
  }
  std::unique_ptr<ThreadPool> pool;
  if (threads > 1) pool = std::make_unique<ThreadPool>(threads);

  try {
    MotionAligner al(size, size, opt);
    AlignerOptions worst_opt = opt;
    worst_opt.tau = 0;
    MotionAligner al_worst(size, size, worst_opt);
    std::printf("motion aligner: %dx%d, block %d, window +-%d, tau %.3f, isa %s, threads %d, up to %d frames\n",
                size, size, opt.block, opt.window, opt.tau, isa_name(best_isa()), threads, max_frames);
    std::printf("%-18s %-10s %8s %8s %8s   %7s %7s %6s %7s %7s\n", "clip", "mode", "med ms", "mean ms", "cpu ms",
                "cand", "expo", "med|v|", "align8", "cost");
    Summary total_seeded, total_mv, total_worst;
    int nclips = 0;
    for (const std::string& path : clips) {
      Clip c;
      c.name = path.substr(path.find_last_of('/') + 1);
      VideoReader r(path);
      Frame f;
      LetterboxInfo lb;
      while (static_cast<int>(c.frames.size()) < max_frames && r.read_letterboxed(f, size, size, &lb)) {
        c.frames.push_back(f.rgb);
        c.hints.push_back(codec_hints(f.mvs, lb));
      }
      const int pairs = static_cast<int>(c.frames.size()) - 1;
      if (pairs < 1) continue;
      const char* name = c.name.c_str();
      auto cur = [&](int i) { return c.frames[i + 1].data(); };
      auto ref = [&](int i) { return c.frames[i].data(); };
      const std::vector<CodecHint> none;
      print(name, "noseed",
            run_mode(al, pairs, pool.get(), [&](int i, const MotionField*, MotionField& out, ThreadPool* p) {
              al.estimate(cur(i), ref(i), nullptr, none, out, p);
            }));
      const Summary s1 =
          run_mode(al, pairs, pool.get(), [&](int i, const MotionField* prev, MotionField& out, ThreadPool* p) {
            al.estimate(cur(i), ref(i), prev, none, out, p);
          });
      print(name, "seeded", s1);
      const Summary s2 =
          run_mode(al, pairs, pool.get(), [&](int i, const MotionField* prev, MotionField& out, ThreadPool* p) {
            al.estimate(cur(i), ref(i), prev, c.hints[i + 1], out, p);
          });
      print(name, "seeded+mv", s2);
      const int wpairs = std::min(pairs, 5);
      const Summary s3 =
          run_mode(al_worst, wpairs, pool.get(), [&](int i, const MotionField* prev, MotionField& out, ThreadPool* p) {
            al_worst.estimate(cur(i), ref(i), prev, none, out, p);
          });
      print(name, "worst", s3);
      // synthetic common cases on the first frame
      const std::vector<uint8_t>& f0 = c.frames[0];
      std::vector<uint8_t> pan(f0.size());
      const int pdx = -5, pdy = 3;  // cur(p) = f0(p + v)
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          const int sx = std::min(std::max(x + pdx, 0), size - 1), sy = std::min(std::max(y + pdy, 0), size - 1);
          std::memcpy(&pan[(static_cast<size_t>(y) * size + x) * 3], &f0[(static_cast<size_t>(sy) * size + sx) * 3], 3);
        }
      print(name, "static",
            run_mode(al, 10, pool.get(), [&](int, const MotionField* prev, MotionField& out, ThreadPool* p) {
              al.estimate(f0.data(), f0.data(), prev, none, out, p);
            }));
      print(name, "pan",
            run_mode(al, 10, pool.get(), [&](int, const MotionField* prev, MotionField& out, ThreadPool* p) {
              al.estimate(pan.data(), f0.data(), prev, none, out, p);
            }));
      total_seeded.mean_ms += s1.mean_ms;
      total_mv.mean_ms += s2.mean_ms;
      total_worst.mean_ms += s3.mean_ms;
      total_seeded.cpu_ms += s1.cpu_ms;
      total_mv.cpu_ms += s2.cpu_ms;
      total_worst.cpu_ms += s3.cpu_ms;
      ++nclips;
    }
    {
      // worst case for the whole frame: independent noise images, so every block is searched
      // exhaustively ((2 * window + 1)^2 SADs each)
      std::vector<uint8_t> a(static_cast<size_t>(size) * size * 3), b(a.size());
      uint32_t h = 12345;
      for (auto& v : a) v = static_cast<uint8_t>((h = h * 1664525u + 1013904223u) >> 24);
      for (auto& v : b) v = static_cast<uint8_t>((h = h * 1664525u + 1013904223u) >> 24);
      const std::vector<CodecHint> none;
      print("noise", "all-exh",
            run_mode(al, 5, pool.get(), [&](int, const MotionField* prev, MotionField& out, ThreadPool* p) {
              al.estimate(a.data(), b.data(), prev, none, out, p);
            }));
    }
    if (nclips > 0)
      std::printf(
          "mean over %d clips (wall / cpu ms per frame): seeded %.2f / %.2f, seeded+mv %.2f / %.2f, worst %.2f / "
          "%.2f\n",
          nclips, total_seeded.mean_ms / nclips, total_seeded.cpu_ms / nclips, total_mv.mean_ms / nclips,
          total_mv.cpu_ms / nclips, total_worst.mean_ms / nclips, total_worst.cpu_ms / nclips);
  } catch (const fx::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
