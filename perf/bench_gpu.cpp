// GPU benchmark (run by perf/gpu_check.sh):
//  1. device ceilings, measured: fp32 FMA throughput (independent fma chains) and copy bandwidth;
//  2. the main convolution kernels on YOLO11 layer shapes, fp32 and fp16: time, achieved TFLOP/s and
//     GB/s (compulsory traffic: input + weights + output once), and their share of the ceilings;
//  3. dense inference of a plan (DenseExecutor on the CUDA backend, CUDA graph): median of warm runs, fp32 and fp16, device
//     only and with the input / output copies;
//  4. the motion search on a 1024 x 1024 frame (kernel only, and with uploads / download);
//  5. --sparse: the sparse cost curve (runtime/sparse/cost_curve.h) of the plan on the GPU, fp32 and
//     fp16, against dense GPU inference on the same device in the same run;
//  6. --sessions N: N fluxshard sessions sharing the device (one set of weights, a stream each), served
//     one frame at a time as the server's compute thread serves them, on real frames (the goldens',
//     panned and edited: tests/real_sequence.h): per-frame latency of a session vs dense on the GPU, its
//     host-side share (letterbox, motion planning, labels and staging), how many 30 fps sessions one GPU
//     sustains, device memory per session.
//
//   bench_gpu [--plan PLAN.fsp | --onnx MODEL.onnx | --synth yolo11{n,s,m,l,x} [--imgsz N] [--save-onnx FILE]]
//             [--runs N] [--json FILE] [--skip-kernels] [--skip-motion] [--profile] [--sparse] [--sessions N]
// --profile: each op of the plan timed alone (plain launch + synchronisation, median of runs; the
// launch-and-sync floor is printed), the ops that take longest, and the time per op kind.
// --synth builds the model in process (as `fluxshard synth`, seed 0, detect) so that the large scales need
// no model file on the GPU machine; --save-onnx writes it out for the PyTorch peer.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "compiler/synth/yolo11_synth.h"
#include "ops/conv/conv_cuda.h"
#include "ops/cuda/check.h"
#include "ops/motion/sad_cuda.h"
#include "runtime/cuda/cuda_backend.h"
#include "runtime/dense_executor.h"
#include "runtime/cuda/cuda_probe.h"
#include "runtime/session.h"
#include "runtime/sparse/cost_curve.h"
#include "runtime/util/clock.h"
#include "runtime/util/json.h"
#include "real_sequence.h"

using namespace fx;
using namespace fx::cuda;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Median over `runs` of the time of `reps` back-to-back launches on the default stream, per launch (ms).
template <class F>
double time_ms(F&& launch, int runs, int reps = 1) {
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  launch();  // warm-up
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> t;
  for (int r = 0; r < runs; ++r) {
    CUDA_CHECK(cudaEventRecord(e0));
    for (int k = 0; k < reps; ++k) launch();
    CUDA_CHECK(cudaEventRecord(e1));
    CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms / reps);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return median(t);
}

struct Ceilings {
  double tflops = 0, gbps = 0;
};

struct ConvShape {
  const char* name;
  int cin, cout, k, s, h, w, group;
};

struct Row {
  std::string name;
  double ms = 0, tflops = 0, gbps = 0;
};

// Each op alone: host time of run_ops(i, i + 1) (launch, kernel, synchronisation), median of `runs`.
void profile_ops(DenseExecutor& exec, int runs) {
  const Plan& plan = exec.plan();
  const int n = plan.op_count();
  std::vector<std::vector<double>> t(static_cast<size_t>(n));
  for (int r = 0; r < runs + 1; ++r)
    for (int i = 0; i < n; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      exec.run_ops(i, i + 1);
      exec.backend().synchronize();
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0) t[static_cast<size_t>(i)].push_back(ms);  // the first round warms up
    }
  struct OpTime {
    int op;
    double ms;
  };
  std::vector<OpTime> ops;
  double total = 0, floor_ms = 1e9;
  for (int i = 0; i < n; ++i) {
    ops.push_back({i, median(t[static_cast<size_t>(i)])});
    total += ops.back().ms;
    floor_ms = std::min(floor_ms, ops.back().ms);
  }
  std::map<std::string, std::pair<double, int>> by_kind;
  for (const OpTime& o : ops) {
    auto& k = by_kind[op_kind_name(plan.op(o.op).kind)];
    k.first += o.ms, k.second += 1;
  }
  std::sort(ops.begin(), ops.end(), [](const OpTime& a, const OpTime& b) { return a.ms > b.ms; });
  std::printf("  op profile (%s): sum of ops alone %.3f ms, floor (launch + sync) %.3f ms per op\n",
              precision_name(exec.device().options().precision), total, floor_ms);
  for (const auto& [kind, v] : by_kind)
    std::printf("    %-14s %3d ops %8.3f ms (%.3f above the floor)\n", kind.c_str(), v.second, v.first,
                v.first - v.second * floor_ms);
  for (size_t j = 0; j < ops.size() && j < 16; ++j) {
    const OpDesc& op = plan.op(ops[j].op);
    const TensorInfo& out = plan.tensor(op.out[0]);
    std::string shape;
    for (int64_t d : out.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
    std::printf("    op %3d %-12s %8.3f ms %8.2f GFLOP/s  %-16s %s\n", ops[j].op, op_kind_name(op.kind), ops[j].ms,
                op.flops / (ops[j].ms * 1e-3) / 1e9, shape.c_str(), op.name.c_str());
  }
}

BackendOptions cuda_options(Precision p) {
  BackendOptions o;
  o.kind = "cuda";
  o.precision = p;
  return o;
}

// 5. The sparse cost curve on the GPU, fp32 and fp16 (a real frame's content: the goldens').
void sparse_curves(const std::shared_ptr<const Plan>& plan, int runs, JsonWriter& js) {
  const std::vector<Frame> seq = test::real_sequence();
  const int W = plan->input_w(), H = plan->input_h();
  std::vector<uint8_t> img(static_cast<size_t>(W) * H * 3), frame = img;
  letterbox_rgb(seq[0].rgb.data(), seq[0].width, seq[0].height, W, H, img.data());
  letterbox_rgb(seq[10].rgb.data(), seq[10].width, seq[10].height, W, H, frame.data());
  js.key("sparse_curve").begin_array();
  for (Precision prec : {Precision::FP32, Precision::FP16}) {
    CostCurveOptions opt;
    opt.runs = std::max(5, runs / 3);
    opt.shares = {0, 5, 10, 25, 50, 100};
    const std::vector<CostPoint> points = sparse_cost_curve(make_device(plan, cuda_options(prec)), img, frame, opt);
    std::printf("\nsparse cost curve (%s, %s): dense %.3f ms\n%-10s %-10s %7s %8s %9s %9s\n", plan->source().c_str(),
                precision_name(prec), points.empty() ? 0.0 : points[0].dense_ms, "policy", "pattern", "blocks",
                "FLOPs", "ms", "speed-up");
    for (const CostPoint& p : points) {
      std::printf("%-10s %-10s %6d%% %7.1f%% %9.3f %8.2fx\n", p.policy.c_str(), p.pattern.c_str(), p.share,
                  100 * p.flops, p.ms, p.dense_ms / p.ms);
      js.begin_object().field("precision", precision_name(prec)).field("policy", p.policy).field("pattern", p.pattern);
      js.field("blocks", p.share / 100.0).field("flops", p.flops).field("ms", p.ms).field("dense_ms", p.dense_ms);
      js.end_object();
    }
  }
  js.end_array();
}

// 6. Sessions on one device, served in turn as the server's compute thread serves them.
void session_capacity(const std::shared_ptr<const Plan>& plan, int n, int runs, JsonWriter& js) {
  const std::vector<Frame> seq = test::real_sequence();
  size_t free0 = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free0, &total));
  const auto device = make_device(plan, cuda_options(Precision::FP32));
  size_t free1 = 0;
  CUDA_CHECK(cudaMemGetInfo(&free1, &total));
  SessionOptions o;
  o.mode = SessionMode::FluxShard;
  std::vector<std::unique_ptr<StreamSession>> ss;
  for (int i = 0; i < n; ++i) ss.push_back(std::make_unique<StreamSession>(device, o));
  SessionOptions d = o;
  d.mode = SessionMode::Dense;
  StreamSession dense(device, d);
  size_t free2 = 0;
  CUDA_CHECK(cudaMemGetInfo(&free2, &total));
  // Every session sees the sequence, starting at another frame; the first pass fills the caches.
  std::vector<double> frame_ms, host_ms, dense_ms;
  const int passes = std::max(2, runs / 10);
  auto t_all = Clock::now();
  int served = 0;
  for (int pass = 0; pass < passes; ++pass)
    for (size_t f = 0; f < seq.size(); ++f)
      for (int i = 0; i < n; ++i) {
        FrameReport r;
        auto t0 = Clock::now();
        ss[static_cast<size_t>(i)]->process(seq[(f + static_cast<size_t>(i)) % seq.size()], &r);
        const double ms = ms_since(t0);
        if (pass == 0) continue;
        ++served;
        frame_ms.push_back(ms);
        host_ms.push_back(r.time.preprocess_ms + r.time.motion_ms + r.time.classify_ms + r.sparse.labels_ms);
      }
  const double wall_ms = ms_since(t_all);
  for (size_t f = 0; f < seq.size(); ++f) {
    FrameReport r;
    auto t0 = Clock::now();
    dense.process(seq[f], &r);
    dense_ms.push_back(ms_since(t0));
  }
  const double per_frame = median(frame_ms), sustained = 1000.0 / (30.0 * per_frame);
  const double mib = (static_cast<double>(free1) - static_cast<double>(free2)) / (n + 1) / (1 << 20);
  std::printf("\n%d fluxshard sessions on one device (%s): median %.3f ms per frame (dense %.3f ms, %.2fx), "
              "host-side %.3f ms (letterbox, motion planning, labels), %d frames in %.0f ms overall; "
              "%.1f sessions at 30 fps; device memory: weights %.1f MiB, %.1f MiB per session\n",
              n, device->name().c_str(), per_frame, median(dense_ms), median(dense_ms) / per_frame, median(host_ms),
              served, wall_ms, sustained, (static_cast<double>(free0) - free1) / (1 << 20), mib);
  js.key("sessions").begin_object().field("count", n).field("frame_ms", per_frame).field("dense_ms", median(dense_ms));
  js.field("host_ms", median(host_ms)).field("sessions_at_30fps", sustained).field("mib_per_session", mib);
  js.end_object();
}

}  // namespace

int main(int argc, char** argv) {
  std::string plan_path, onnx_path, json_path, synth_model, save_onnx;
  int runs = 30, imgsz = 640, sessions = 0;
  bool skip_kernels = false, skip_motion = false, profile = false, sparse = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_gpu: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--plan") plan_path = next();
    else if (a == "--onnx") onnx_path = next();
    else if (a == "--runs") runs = std::max(3, std::atoi(next().c_str()));
    else if (a == "--json") json_path = next();
    else if (a == "--skip-kernels") skip_kernels = true;
    else if (a == "--skip-motion") skip_motion = true;
    else if (a == "--profile") profile = true;
    else if (a == "--sparse") sparse = true;
    else if (a == "--sessions") sessions = std::atoi(next().c_str());
    else if (a == "--synth") synth_model = next();
    else if (a == "--imgsz") imgsz = std::atoi(next().c_str());
    else if (a == "--save-onnx") save_onnx = next();
    else {
      std::fprintf(stderr,
                   "usage: bench_gpu [--plan PLAN.fsp | --onnx MODEL.onnx | --synth yolo11{n,s,m,l,x} [--imgsz N] "
                   "[--save-onnx FILE]] [--runs N] [--json FILE] [--skip-kernels] [--skip-motion] [--profile] [--sparse] "
                   "[--sessions N]\n");
      return 2;
    }
  }
  const std::string why = probe_device(0);
  if (!why.empty()) {
    std::fprintf(stderr, "no CUDA device: %s\n", why.c_str());
    return 1;
  }
  try {
    JsonWriter js;
    js.begin_object().field("device", describe_device(0));
    std::printf("device: %s\n", describe_device(0).c_str());
    Ceilings ceil;
    ceil.tflops = measure_fma_tflops(0);
    ceil.gbps = measure_copy_gbps(0);
    std::printf("measured ceilings: fp32 FMA %.2f TFLOP/s, copy bandwidth %.0f GB/s\n", ceil.tflops, ceil.gbps);
    js.field("fp32_fma_tflops", ceil.tflops).field("copy_gbps", ceil.gbps);

    if (!skip_kernels) {
      // Layers of yolo11n-640 and yolo11m-1024 that took longest in the op profile.
      const ConvShape shapes[] = {{"3x3 s2 3->16 @640", 3, 16, 3, 2, 640, 640, 1},
                                  {"3x3 s2 64->128 @80", 64, 128, 3, 2, 80, 80, 1},
                                  {"3x3 256->64 @20", 256, 64, 3, 1, 20, 20, 1},
                                  {"3x3 s2 64->128 @512", 64, 128, 3, 2, 512, 512, 1},
                                  {"3x3 s2 256->512 @128", 256, 512, 3, 2, 128, 128, 1},
                                  {"1x1 512->256 @64", 512, 256, 1, 1, 64, 64, 1},
                                  {"dw 3x3 80 @80", 80, 80, 3, 1, 80, 80, 80}};
      std::printf("\n%-22s %6s %9s %9s %8s %9s %8s\n", "conv kernel", "prec", "ms", "TFLOP/s", "%FMA", "GB/s", "%BW");
      js.key("conv_kernels").begin_array();
      for (const ConvShape& s : shapes) {
        ConvParams p;
        p.cin = s.cin, p.cout = s.cout, p.kh = p.kw = s.k, p.sh = p.sw = s.s, p.group = s.group, p.act = Act::SiLU;
        p.pad_t = p.pad_l = p.pad_b = p.pad_r = s.k / 2;
        const int oh = static_cast<int>(conv_out_size(s.h, s.k, s.s, p.pad_t, p.pad_b, 1));
        const int ow = static_cast<int>(conv_out_size(s.w, s.k, s.s, p.pad_l, p.pad_r, 1));
        std::mt19937 rng(1);
        std::uniform_real_distribution<float> u(-0.1f, 0.1f);
        std::vector<float> w(static_cast<size_t>(s.cout) * (s.cin / s.group) * s.k * s.k),
            b(static_cast<size_t>(s.cout));
        for (float& v : w) v = u(rng);
        for (float& v : b) v = u(rng);
        DeviceArray<float> in(static_cast<size_t>(s.h) * s.w * s.cin), out(static_cast<size_t>(oh) * ow * s.cout);
        {  // random input: zeros would hide wrong indexing and can run faster than real data
          std::vector<float> host(in.size());
          for (float& v : host) v = u(rng);
          CUDA_CHECK(cudaMemcpy(in.get(), host.data(), in.bytes(), cudaMemcpyHostToDevice));
        }
        const MapView iv{in.get(), s.h, s.w, s.cin, s.cin}, ov{out.get(), oh, ow, s.cout, s.cout};
        const PosList pos = dense_positions(oh, ow);
        const double flops = 2.0 * oh * ow * s.cout * (s.cin / s.group) * s.k * s.k;
        const double bytes = 4.0 * (in.size() + out.size() + w.size());
        for (bool fp16 : {false, true}) {
          ConvCuda conv(p, w.data(), b.data(), fp16);
          if (fp16 && conv.path() == ConvCuda::Path::Depthwise) continue;
          const double ms = time_ms([&] { conv.run(iv, ov, nullptr, pos, nullptr); }, runs, 5);
          const double tf = flops / (ms * 1e-3) / 1e12, gb = bytes / (ms * 1e-3) / 1e9;
          std::printf("%-22s %6s %9.4f %9.2f %7.1f%% %9.0f %7.1f%%\n", s.name, fp16 ? "fp16" : "fp32", ms, tf,
                      100 * tf / ceil.tflops, gb, 100 * gb / ceil.gbps);
          js.begin_object().field("name", s.name).field("precision", fp16 ? "fp16" : "fp32").field("ms", ms);
          js.field("tflops", tf).field("gbps", gb).end_object();
          if (conv.tile_count() > 0) {  // every tile forced: is the automatic choice right?
            std::string line = "    tiles (auto " + conv.tile_name(conv.tile_for(pos.positions)) + "):";
            for (int t = 0; t < conv.tile_count(); ++t) {
              conv.set_tile(t);
              char buf[48];
              std::snprintf(buf, sizeof buf, " %s %.4f", conv.tile_name(t).c_str(),
                            time_ms([&] { conv.run(iv, ov, nullptr, pos, nullptr); }, runs, 5));
              line += buf;
            }
            conv.set_tile(-1);
            std::printf("%s\n", line.c_str());
          }
        }
      }
      js.end_array();
      std::printf("(fp16 runs on tensor cores: its %%FMA is relative to the fp32 FMA ceiling)\n");
    }

    if (!plan_path.empty() || !onnx_path.empty() || !synth_model.empty()) {
      std::shared_ptr<const Plan> plan;
      std::vector<uint8_t> bytes;
      if (!plan_path.empty()) {
        plan = Plan::load_file(plan_path);
      } else if (!synth_model.empty()) {
        if (synth_model.size() != 7 || synth_model.compare(0, 6, "yolo11") != 0)
          throw std::runtime_error("--synth takes yolo11n, yolo11s, yolo11m, yolo11l or yolo11x");
        SynthOptions so;
        so.scale = synth_model[6];
        so.imgsz = imgsz;
        validate_synth_options(so);
        const std::string onnx = synth_yolo11(so);
        if (!save_onnx.empty()) {
          std::ofstream f(save_onnx, std::ios::binary | std::ios::trunc);
          f.write(onnx.data(), static_cast<std::streamsize>(onnx.size()));
          if (!f) throw std::runtime_error("cannot write " + save_onnx);
        }
        bytes = compile_onnx(onnx.data(), onnx.size(), synth_model + "-" + std::to_string(imgsz));
        plan = Plan::from_bytes(bytes.data(), bytes.size(), synth_model + "-" + std::to_string(imgsz));
      } else {
        bytes = compile_onnx_file(onnx_path);
        plan = Plan::from_bytes(bytes.data(), bytes.size(), onnx_path);
      }
      std::printf("\ndense inference: %s (%d ops, %.2f GFLOPs)\n", plan->source().c_str(), plan->op_count(),
                  plan->total_flops() / 1e9);
      std::printf("%-6s %12s %12s %10s %s\n", "prec", "device ms", "invoke ms", "TFLOP/s", "notes");
      js.key("dense").begin_array();
      for (Precision prec : {Precision::FP32, Precision::FP16}) {
        BackendOptions opt;
        opt.kind = "cuda";
        opt.precision = prec;
        const auto device = std::make_shared<CudaDevice>(plan, opt, nullptr);
        DenseExecutor exec(device);
        // The inference alone, on the device (no copies), synchronised.
        auto run_device = [&] {
          exec.run_all();
          exec.backend().synchronize();
        };
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> u(0.f, 1.f);
        const int64_t n = plan->tensor(plan->input()).numel;
        for (int64_t i = 0; i < n; ++i) exec.input_data()[i] = u(rng);
        exec.invoke();
        for (int i = 0; i < 5; ++i) run_device();
        std::vector<double> dev, inv;
        for (int r = 0; r < runs; ++r) {
          auto t0 = std::chrono::steady_clock::now();
          run_device();
          dev.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        for (int r = 0; r < runs; ++r) {
          auto t0 = std::chrono::steady_clock::now();
          exec.invoke();
          inv.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        const double md = median(dev), mi = median(inv);
        const std::string notes =
            std::string(exec.recorded() ? "CUDA graph" : "plain launches (" + exec.record_error() + ")") +
            (device->uses_cublas() ? ", cuBLAS" : ", built-in GEMM");
        std::printf("%-6s %12.3f %12.3f %10.2f %s\n", precision_name(prec), md, mi,
                    plan->total_flops() / (md * 1e-3) / 1e12, notes.c_str());
        js.begin_object().field("precision", precision_name(prec)).field("device_ms", md).field("invoke_ms", mi);
        js.field("graph", exec.recorded()).field("cublas", device->uses_cublas()).end_object();
        if (profile) profile_ops(exec, std::max(5, runs / 5));
      }
      js.end_array();
      if (sparse) sparse_curves(plan, runs, js);
      if (sessions > 0) session_capacity(plan, sessions, runs, js);
    }

    if (!skip_motion) {
      const int W = 1024, H = 1024;
      std::vector<uint8_t> ref(static_cast<size_t>(W) * H * 3), cur(ref.size());
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          for (int c = 0; c < 3; ++c) {
            const float v =
                128 + 40 * std::sin(0.07f * x + 0.05f * y + c) + 30 * std::sin(0.011f * x * (1 + c) - 0.13f * y);
            ref[(static_cast<size_t>(y) * W + x) * 3 + c] = static_cast<uint8_t>(std::min(255.f, std::max(0.f, v)));
          }
      // Global shift (5, -3) plus a block of noise where the search goes exhaustive.
      std::mt19937 rng(5);
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const int X = std::min(W - 1, std::max(0, x - 5)), Y = std::min(H - 1, std::max(0, y + 3));
          for (int c = 0; c < 3; ++c) {
            uint8_t v = ref[(static_cast<size_t>(Y) * W + X) * 3 + c];
            if (x > 600 && x < 800 && y > 100 && y < 400) v = static_cast<uint8_t>(rng());
            cur[(static_cast<size_t>(y) * W + x) * 3 + c] = v;
          }
        }
      MotionSearchCuda search(W, H);
      MotionField field;
      search.estimate(cur.data(), ref.data(), nullptr, {}, field);
      const double kms = time_ms([&] { search.search_only(false, nullptr); }, runs);
      std::vector<double> full;
      for (int r = 0; r < std::min(runs, 20); ++r) {
        auto t0 = std::chrono::steady_clock::now();
        search.estimate(cur.data(), ref.data(), nullptr, {}, field);
        full.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      const MotionStats st = MotionAligner::stats(field);
      std::printf("\nmotion search 1024x1024 (16 px blocks, +-16 px): kernel %.3f ms, with transfers %.3f ms "
                  "(candidates %.1f%%, median |mv| %.2f)\n",
                  kms, median(full), 100 * st.candidate_share, st.median_mv);
      js.key("motion").begin_object().field("kernel_ms", kms).field("estimate_ms", median(full));
      js.field("candidate_share", st.candidate_share).end_object();
    }
    js.end_object();
    if (!json_path.empty()) {
      std::ofstream f(json_path, std::ios::trunc);
      f << js.str() << '\n';
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu: %s\n", e.what());
    return 1;
  }
  return 0;
}
