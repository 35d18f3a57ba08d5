// What a block's residual means to the network: per clip, the distribution of the block residuals the
// planner's change test sees (runtime/motion/change_test.h) and of the first layers' output change that
// the same residuals cause, and how well each residual statistic ranks that change.
//
//   measure_change PLAN.fsp CLIP... [--frames N] [--threads T] [--variant G:Y:S]... [--csv FILE]
//
// Per frame t >= 1 of each clip (letterboxed to the plan's input): the motion aligner matches I_t against
// I_{t-1} (16-px blocks, default options); A = I_{t-1} with every block moved by its vector (what a
// reference of moved blocks would hold); per block, the residual of I_t against A (mean and quadrant peak
// |I - A|, the block's contrast, its offset), and for the first ops whose output stride is at most 4 the
// change of their output |f(I_t) - f(A)| over the block's interior positions (the positions whose window
// stays inside the block), in units of the map's mean |f(I_t)| ("abs") and of the block's own mean
// |f - mean f| over those positions ("rel": the change against the structure the layer sees there).
// Each --variant G:Y:S transforms the decoded frames first (v' = 255 (G v / 255)^Y + N(0, S)): the same
// clip as a darker, lower-contrast or noisier camera would record it (default: 1:1:0 only).
// Prints, per clip and variant, percentiles (over the blocks that are not flat constant, e.g. letterbox
// bars) and the rank correlation (Spearman) of each residual statistic with each op's change; then per
// change criterion the share of blocks it flags in each variant and how many of the blocks it flags in the
// first variant it also flags in the others (the same motion, seen darker or noisier: a test that means
// the same thing on any exposure flags the same blocks). --csv writes one row per block and frame.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ops/thread_pool.h"
#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/motion/aligner.h"
#include "runtime/motion/change_test.h"
#include "runtime/sparse/labels.h"
#include "runtime/sparse/reference.h"

using namespace fx;

namespace {

struct Row {
  float mean_abs, peak, contrast, offset, noise;
  std::vector<float> abs_change, rel_change;  // per measured op
};

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * static_cast<double>(i + j);  // ties: mean rank
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += ra[i], mb += rb[i];
  ma /= n, mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

const char* arg_value(int& i, int argc, char** argv) {
  if (i + 1 >= argc) throw Error(std::string("missing value after ") + argv[i]);
  return argv[++i];
}

struct Variant {
  double gain = 1, gamma = 1, noise = 0;
};

struct ClipRun {
  std::vector<Row> rows;  // (frame - 1) * blocks + block
  double level = 0;       // mean pixel value
};

struct Measurer {
  std::shared_ptr<const Plan> plan;
  std::shared_ptr<ThreadPool> pool;
  DenseExecutor* exec;
  std::vector<int> ops, out_tensor;
  int frames;

  ClipRun run(const std::string& clip, const Variant& var) {
    const int W = plan->input_w(), H = plan->input_h(), B = 16, cols = W / B, rows = H / B;
    std::mt19937 rng(12345);
    std::normal_distribution<double> gauss(0.0, 1.0);
    uint8_t lut[256];
    for (int v = 0; v < 256; ++v)
      lut[v] =
          static_cast<uint8_t>(std::clamp(std::lround(255.0 * std::pow(var.gain * v / 255.0, var.gamma)), 0L, 255L));
    VideoReader reader(clip);
    MotionAligner aligner(W, H, AlignerOptions{});
    NoiseTracker tracker;
    MotionField field, prev_field;
    std::vector<uint8_t> cur(static_cast<size_t>(W) * H * 3), prev, moved(cur.size());
    std::vector<Label> labels(static_cast<size_t>(cols) * rows);
    std::vector<std::vector<float>> f_cur(ops.size());
    ClipRun out;
    double level = 0;
    int n = 0;
    Frame f;
    for (int t = 0; t < frames && reader.read(f); ++t, ++n) {
      for (uint8_t& v : f.rgb) {
        double x = lut[v];
        if (var.noise > 0) x += var.noise * gauss(rng);
        v = static_cast<uint8_t>(std::clamp(std::lround(x), 0L, 255L));
      }
      double sum = 0;
      for (uint8_t v : f.rgb) sum += v;
      level += sum / static_cast<double>(f.rgb.size());
      letterbox_rgb(f.rgb.data(), f.width, f.height, W, H, cur.data(), nullptr, pool.get());
      if (t == 0) {
        prev = cur;
        continue;
      }
      aligner.estimate(cur.data(), prev.data(), t > 1 ? &prev_field : nullptr, {}, field, pool.get());
      prev_field = field;
      for (size_t k = 0; k < labels.size(); ++k) labels[k] = pack_shift(field.blocks[k].mv.dx, field.blocks[k].mv.dy);
      apply_block_update(prev.data(), labels, cur.data(), W, H, B, moved.data());
      std::vector<BlockResidual> res(labels.size());
      for (int by = 0; by < rows; ++by)
        for (int bx = 0; bx < cols; ++bx) {
          const BlockMotion& m = field.at(bx, by);
          res[static_cast<size_t>(by) * cols + bx] =
              block_residual(cur.data(), prev.data(), W, B, bx, by, m.mv.dx, m.mv.dy);
        }
      const float noise_level = tracker.update(res);

      // The first ops on I_t, kept, then on A.
      std::vector<float> scale(ops.size());
      rgb_to_planar_float(cur.data(), W, H, exec->input_data());
      exec->run_ops(0, ops.back() + 1);
      for (size_t k = 0; k < ops.size(); ++k) {
        const MapView m = exec->map_of(out_tensor[k]);
        f_cur[k].resize(static_cast<size_t>(m.h) * m.w * m.c);
        double s = 0;
        for (int y = 0; y < m.h; ++y)
          for (int x = 0; x < m.w; ++x)
            for (int ch = 0; ch < m.c; ++ch) {
              const float v = m.at(y, x)[ch];
              f_cur[k][(static_cast<size_t>(y) * m.w + x) * m.c + ch] = v;
              s += std::fabs(v);
            }
        scale[k] = static_cast<float>(s / static_cast<double>(f_cur[k].size()));
      }
      rgb_to_planar_float(moved.data(), W, H, exec->input_data());
      exec->run_ops(0, ops.back() + 1);
      for (int by = 0; by < rows; ++by)
        for (int bx = 0; bx < cols; ++bx) {
          const size_t b = static_cast<size_t>(by) * cols + bx;
          Row r{res[b].mean_abs, res[b].peak_abs, res[b].contrast, res[b].offset, noise_level, {}, {}};
          for (size_t k = 0; k < ops.size(); ++k) {
            const MapView m = exec->map_of(out_tensor[k]);
            const int st = W / m.w, np = B / st;  // footprint np x np positions; the interior without its ring
            const int y0 = by * np + 1, y1 = (by + 1) * np - 1, x0 = bx * np + 1, x1 = (bx + 1) * np - 1;
            double d = 0, mean = 0, dev = 0;
            int cnt = 0;
            for (int y = y0; y < y1; ++y)
              for (int x = x0; x < x1; ++x)
                for (int ch = 0; ch < m.c; ++ch) {
                  const float a = f_cur[k][(static_cast<size_t>(y) * m.w + x) * m.c + ch];
                  d += std::fabs(a - m.at(y, x)[ch]);
                  mean += a;
                  ++cnt;
                }
            if (cnt) mean /= cnt;
            for (int y = y0; y < y1; ++y)
              for (int x = x0; x < x1; ++x)
                for (int ch = 0; ch < m.c; ++ch)
                  dev += std::fabs(f_cur[k][(static_cast<size_t>(y) * m.w + x) * m.c + ch] - mean);
            d = cnt ? d / cnt : 0;
            dev = cnt ? dev / cnt : 0;
            r.abs_change.push_back(static_cast<float>(d / scale[k]));
            r.rel_change.push_back(static_cast<float>(d / (dev + 0.05 * scale[k])));
          }
          out.rows.push_back(std::move(r));
        }
      std::swap(prev, cur);
      cur.resize(prev.size());
    }
    out.level = n ? level / n : 0;
    return out;
  }
};

}  // namespace

int main(int argc, char** argv) try {
  std::vector<std::string> pos;
  int frames = 30, threads = 2;
  std::vector<Variant> variants;
  std::string csv;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--frames")
      frames = std::atoi(arg_value(i, argc, argv));
    else if (a == "--threads")
      threads = std::atoi(arg_value(i, argc, argv));
    else if (a == "--variant") {
      Variant v;
      if (std::sscanf(arg_value(i, argc, argv), "%lf:%lf:%lf", &v.gain, &v.gamma, &v.noise) != 3)
        throw Error("--variant wants GAIN:GAMMA:NOISE, e.g. 0.3:1:2");
      variants.push_back(v);
    } else if (a == "--csv")
      csv = arg_value(i, argc, argv);
    else if (a.rfind("--", 0) == 0)
      throw Error("unknown option " + a);
    else
      pos.push_back(a);
  }
  if (pos.size() < 2) {
    std::fprintf(stderr,
                 "usage: measure_change PLAN.fsp CLIP... [--frames N] [--threads T] [--variant G:Y:S]... "
                 "[--csv FILE]\n");
    return 2;
  }
  if (variants.empty()) variants.push_back(Variant{});
  Measurer M;
  M.plan = Plan::load_file(pos[0]);
  M.pool = std::make_shared<ThreadPool>(threads);
  DenseExecutor exec(M.plan, M.pool);
  M.exec = &exec;
  M.frames = frames;
  const int W = M.plan->input_w();

  // The ops measured: the leading convolutions with an output stride <= 4 (their block footprint has an
  // interior).
  for (int i = 0; i < M.plan->op_count() && M.ops.size() < 4; ++i) {
    const auto* o = M.plan->fb().ops()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const int t = o->outputs()->Get(0);
    if (M.plan->tensor(t).layout != PlanLayout::NHWC || !o->name() ||
        o->name()->str().find("Conv") == std::string::npos)
      continue;
    const MapView m = exec.map_of(t);
    if (m.w == 0 || W / m.w > 4) break;
    M.ops.push_back(i);
    M.out_tensor.push_back(t);
  }
  std::printf("ops measured:");
  for (size_t k = 0; k < M.ops.size(); ++k) {
    const auto* o = M.plan->fb().ops()->Get(static_cast<flatbuffers::uoffset_t>(M.ops[k]));
    std::printf(" %d (%s, stride %d)", M.ops[k], o->name()->c_str(), W / exec.map_of(M.out_tensor[k]).w);
  }
  std::printf("\n");
  std::ofstream out;
  if (!csv.empty()) {
    out.open(csv);
    out << "clip,variant,frame,block,mean_abs,peak,contrast,offset,noise";
    for (int op : M.ops) out << ",abs" << op << ",rel" << op;
    out << "\n";
  }

  // The criteria compared: the aligner's (block mean above tau = 0.025, 6.4 grey levels) and the change
  // test at a few thresholds.
  const float taus[] = {0.2f, 0.3f, 0.4f, 0.6f};
  struct Crit {
    std::string name;
    std::function<bool(const Row&)> flag;
  };
  std::vector<Crit> crits;
  crits.push_back({"aligner tau 0.025", [](const Row& r) { return r.mean_abs > 0.025f * 255; }});
  for (float t : taus) {
    ChangeTestOptions o;
    o.tau_rel = t;
    char name[64];
    std::snprintf(name, sizeof name, "change test %.2f", t);
    crits.push_back({name, [o](const Row& r) {
                       return changed(o, BlockResidual{r.mean_abs, r.peak, r.contrast, r.offset}, r.noise,
                                      change_floor(o, r.noise));
                     }});
  }

  for (size_t c = 1; c < pos.size(); ++c) {
    std::vector<ClipRun> runs;
    for (const Variant& v : variants) runs.push_back(M.run(pos[c], v));
    const size_t n = runs[0].rows.size();
    // Blocks that are flat constant in the first variant (letterbox bars) say nothing about the test.
    std::vector<char> keep(n);
    for (size_t i = 0; i < n; ++i) keep[i] = runs[0].rows[i].contrast > 0 || runs[0].rows[i].mean_abs > 0;
    for (size_t v = 0; v < runs.size(); ++v) {
      const std::vector<Row>& all = runs[v].rows;
      std::vector<double> mean_abs, peak, contrast, norm, noise_lv;
      ChangeTestOptions cto;
      for (size_t i = 0; i < all.size() && i < n; ++i) {
        if (!keep[i]) continue;
        const Row& r = all[i];
        mean_abs.push_back(r.mean_abs);
        peak.push_back(r.peak);
        contrast.push_back(r.contrast);
        noise_lv.push_back(r.noise);
        norm.push_back(normalised_residual(BlockResidual{r.mean_abs, r.peak, r.contrast, r.offset}, r.noise,
                                           change_floor(cto, r.noise)));
        if (out.is_open()) {
          const size_t blocks = static_cast<size_t>(W / 16) * (W / 16);
          out << pos[c] << "," << v << "," << i / blocks + 1 << "," << i % blocks << "," << r.mean_abs << "," << r.peak
              << "," << r.contrast << "," << r.offset << "," << r.noise;
          for (size_t k = 0; k < M.ops.size(); ++k) out << "," << r.abs_change[k] << "," << r.rel_change[k];
          out << "\n";
        }
      }
      std::printf("\n%s, variant %.2f:%.2f:%.1f: %zu blocks x frames, mean pixel %.1f, noise level p50 %.2f\n",
                  pos[c].c_str(), variants[v].gain, variants[v].gamma, variants[v].noise, mean_abs.size(),
                  runs[v].level, pct(noise_lv, 0.5));
      auto line = [&](const char* name, const std::vector<double>& x) {
        std::printf("  %-24s p10 %7.3f  p50 %7.3f  p90 %7.3f  p99 %7.3f\n", name, pct(x, 0.1), pct(x, 0.5), pct(x, 0.9),
                    pct(x, 0.99));
      };
      line("mean |I-A| (grey)", mean_abs);
      line("peak quadrant (grey)", peak);
      line("contrast (grey)", contrast);
      line("(peak-noise)/(c+floor)", norm);
      for (size_t k = 0; k < M.ops.size(); ++k) {
        std::vector<double> ab, rel;
        for (size_t i = 0; i < all.size() && i < n; ++i)
          if (keep[i]) ab.push_back(all[i].abs_change[k]), rel.push_back(all[i].rel_change[k]);
        char name[64];
        std::snprintf(name, sizeof name, "op %d change (x scale)", M.ops[k]);
        line(name, ab);
        std::snprintf(name, sizeof name, "op %d change (x local)", M.ops[k]);
        line(name, rel);
        std::printf(
            "    Spearman with the change (x scale / x local): mean %.3f / %.3f, peak %.3f / %.3f, "
            "normalised %.3f / %.3f\n",
            spearman(mean_abs, ab), spearman(mean_abs, rel), spearman(peak, ab), spearman(peak, rel),
            spearman(norm, ab), spearman(norm, rel));
      }
    }
    // Per criterion: share flagged per variant, and the share of the first variant's flagged blocks that
    // each other variant flags too (same frame, same block).
    std::printf("\n%s: blocks flagged per variant (share) and agreement with variant 0 (recall)\n", pos[c].c_str());
    for (const Crit& cr : crits) {
      std::printf("  %-20s", cr.name.c_str());
      std::vector<char> base(n);
      size_t nb = 0, kept = 0;
      for (size_t i = 0; i < n; ++i)
        if (keep[i]) ++kept, nb += (base[i] = cr.flag(runs[0].rows[i]));
      for (size_t v = 0; v < runs.size(); ++v) {
        size_t f = 0, both = 0;
        for (size_t i = 0; i < n && i < runs[v].rows.size(); ++i) {
          if (!keep[i]) continue;
          const bool x = cr.flag(runs[v].rows[i]);
          f += x;
          both += x && base[i];
        }
        std::printf("  %5.1f%% (%5.1f%%)", 100.0 * f / std::max<size_t>(1, kept), nb ? 100.0 * both / nb : 100.0);
      }
      std::printf("\n");
    }
    // The same for the network's own change at each op, above the first variant's 90th percentile.
    for (size_t k = 0; k < M.ops.size(); ++k) {
      std::vector<double> ab0;
      for (size_t i = 0; i < n; ++i)
        if (keep[i]) ab0.push_back(runs[0].rows[i].abs_change[k]);
      const double thr = pct(ab0, 0.9);
      std::printf("  op %d change > %.3f ", M.ops[k], thr);
      size_t nb = 0, kept = 0;
      for (size_t i = 0; i < n; ++i)
        if (keep[i]) ++kept, nb += runs[0].rows[i].abs_change[k] > thr;
      for (size_t v = 0; v < runs.size(); ++v) {
        size_t f = 0, both = 0;
        for (size_t i = 0; i < n && i < runs[v].rows.size(); ++i) {
          if (!keep[i]) continue;
          const bool x = runs[v].rows[i].abs_change[k] > thr;
          f += x;
          both += x && runs[0].rows[i].abs_change[k] > thr;
        }
        std::printf("  %5.1f%% (%5.1f%%)", 100.0 * f / std::max<size_t>(1, kept), nb ? 100.0 * both / nb : 100.0);
      }
      std::printf("\n");
    }
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
