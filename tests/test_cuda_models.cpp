// Whole models on the CUDA backend against the CPU backend (and ONNX Runtime's goldens):
//  - op by op on real data: every op of every bundled model, fed the CPU's input tensors, must give the
//    CPU's output bits on the GPU in fp32 (the attention MatMuls too: the built-in GEMM runs the CPU
//    kernel's fma chain; with cuBLAS, BackendOptions::use_cublas, within NMSE 1e-10);
//  - end to end, fp32: every output bit for bit the CPU's (x86 CPUs, whose kernels are ISA-independent),
//    hence identical detections, and test_models.cpp's per-channel tolerance vs ONNX Runtime
//    (golden_compare.h); with cuBLAS within 1e-4 x each output's range;
//  - end to end, fp16: the same detections (matched by class, IoU and score; only detections within
//    0.02 of the score threshold may appear on one side only), max error reported;
//  - the executor: graph replay == plain launches == debug mode, repeated invokes bit-identical;
//  - the motion search on real frames (the goldens', so that this binary needs no video decoder and
//    can be carried to a GPU machine without FFmpeg) == MotionAligner;
//  - the CLI's --backend cuda messages (also without a device / without CUDA compiled in).
// GPU cases skip (FX_SKIP "no CUDA device: ...") when there is none: CTest reports test_cuda_models_gpu
// as Skipped.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "compiled_model.h"
#include "compiler/compile.h"
#include "cuda_test_util.h"
#include "golden_compare.h"
#include "golden_format.h"
#include "runtime/backend.h"
#include "runtime/dense_executor.h"
#include "runtime/detector.h"
#include "runtime/io/letterbox.h"
#include "runtime/motion/aligner.h"
#include "runtime/post/metrics.h"
#include "test_util.h"

#if defined(FLUXSHARD_HAVE_CUDA)
#include "ops/motion/sad_cuda.h"
#endif

using namespace fx;

namespace {

const test::CompiledModel& compiled(const std::string& model) {
  return test::compiled_model(test::source_path("assets/" + model));
}

[[maybe_unused]] const char* const kGoldens[] = {"yolo11n-640_bedroom_f10.fxg", "yolo11n-640_cockatoo_f40.fxg",
                                "yolo11n-320_bedroom_f30.fxg", "yolo11n-seg-640_bedroom_f10.fxg"};

#if defined(FLUXSHARD_HAVE_CUDA)
std::vector<std::vector<float>> run_cpu(std::shared_ptr<const Plan> plan, const test::Golden& g) {
  DenseExecutor exec(plan, std::make_shared<ThreadPool>(2));
  rgb_to_planar_float(g.rgb.data(), g.width, g.height, exec.input_data());
  exec.invoke();
  std::vector<std::vector<float>> outs;
  for (size_t i = 0; i < plan->outputs().size(); ++i)
    outs.emplace_back(exec.output_data(i), exec.output_data(i) + plan->tensor(plan->outputs()[i]).numel);
  return outs;
}

FrameResult detections_of(const Plan& plan, const std::vector<std::vector<float>>& outs, const test::Golden& g) {
  OutputLayout layout = output_layout(plan);
  LetterboxInfo lb = letterbox_info(g.width, g.height, g.width, g.height);
  PostOptions opt;
  return postprocess(layout, outs[0].data(), outs.size() > 1 ? outs[1].data() : nullptr, lb, opt);
}

// Max |a - b| over max |b| (relative to the tensor's range), and the count of differing bits.
struct Diff {
  double max_abs = 0, range = 0;
  size_t differing = 0;
};
Diff diff(const std::vector<float>& a, const std::vector<float>& b) {
  Diff d;
  float lo = b.empty() ? 0.f : b[0], hi = lo;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    d.max_abs = std::max(d.max_abs, std::fabs(static_cast<double>(a[i]) - b[i]));
    d.differing += std::memcmp(&a[i], &b[i], 4) != 0;
    lo = std::min(lo, b[i]), hi = std::max(hi, b[i]);
  }
  d.range = static_cast<double>(hi) - lo;
  return d;
}

// The dense executor on the CUDA backend with these options.
BackendOptions cuda_options() {
  BackendOptions o;
  o.kind = "cuda";
  o.threads = 2;
  return o;
}
std::unique_ptr<DenseExecutor> gpu_executor(std::shared_ptr<const Plan> plan, const BackendOptions& o) {
  return std::make_unique<DenseExecutor>(make_device(std::move(plan), o));
}

std::vector<std::vector<float>> run_gpu(DenseExecutor& exec, const test::Golden& g) {
  rgb_to_planar_float(g.rgb.data(), g.width, g.height, exec.input_data());
  exec.invoke();
  std::vector<std::vector<float>> outs;
  const Plan& plan = exec.plan();
  for (size_t i = 0; i < plan.outputs().size(); ++i)
    outs.emplace_back(exec.output_data(i), exec.output_data(i) + plan.tensor(plan.outputs()[i]).numel);
  return outs;
}
#endif

}  // namespace

TEST_CASE("cuda: every op of every model equals the CPU bit for bit on real data (fp32)", "[cuda][gpu][model]") {
  FX_REQUIRE_CUDA_DEVICE();
#if defined(FLUXSHARD_HAVE_CUDA)
  for (const char* file : {kGoldens[0], kGoldens[2], kGoldens[3]}) {
    test::Golden g = test::read_golden(test::source_path(std::string("tests/goldens/") + file));
    const test::CompiledModel& c = compiled(g.model);
    const Plan& plan = *c.plan;
    DenseExecutor cpu(c.plan, std::make_shared<ThreadPool>(2));
    BackendOptions opt = cuda_options();
    opt.use_graph = false;
    DenseExecutor gpu(make_device(c.plan, opt));
    rgb_to_planar_float(g.rgb.data(), g.width, g.height, cpu.input_data());
    size_t failures = 0;
    for (int i = 0; i < plan.op_count(); ++i) {
      const OpDesc& op = plan.op(i);
      for (int t : op.in)
        if (t >= 0 && !plan.tensor(t).constant) gpu.write_tensor(t, cpu.read_tensor(t));
      cpu.run_ops(i, i + 1);
      gpu.run_ops(i, i + 1);
      for (int t : op.out) {
        const std::vector<float> a = gpu.read_tensor(t), b = cpu.read_tensor(t);
        INFO(file << " op " << i << " " << op_kind_name(op.kind) << " '" << op.name
                  << "' output '" << plan.tensor(t).name << "'");
        REQUIRE(a.size() == b.size());
        {
          const Diff d = diff(a, b);
          INFO(d.differing << " of " << a.size() << " values differ, max abs " << d.max_abs);
          CHECK(d.differing == 0);
          failures += d.differing != 0;
        }
      }
      if (failures > 3) FAIL("stopping after 3 differing ops");
    }
  }
#endif
}

TEST_CASE("cuda: fp32 end to end matches the CPU and ONNX Runtime, identical detections", "[cuda][gpu][model]") {
  FX_REQUIRE_CUDA_DEVICE();
#if defined(FLUXSHARD_HAVE_CUDA)
  for (const char* file : kGoldens) {
    test::Golden g = test::read_golden(test::source_path(std::string("tests/goldens/") + file));
    const test::CompiledModel& c = compiled(g.model);
    INFO(file);
    DenseExecutor gpu(make_device(c.plan, cuda_options()));
    if (!gpu.recorded()) WARN("CUDA graph not used: " << gpu.record_error());
    const auto cpu_outs = run_cpu(c.plan, g);
    const auto gpu_outs = run_gpu(gpu, g);
    REQUIRE(gpu_outs.size() == cpu_outs.size());
    for (size_t i = 0; i < cpu_outs.size(); ++i) {
      const Diff d = diff(gpu_outs[i], cpu_outs[i]);
      INFO("output " << i << ": max abs " << d.max_abs << " over range " << d.range << ", " << d.differing
                     << " differ");
      CHECK(d.differing == 0);
      size_t non_finite = 0;
      for (float v : gpu_outs[i]) non_finite += !std::isfinite(v);
      CHECK(non_finite == 0);
      // ONNX Runtime's outputs, with test_models.cpp's tolerance: class scores within 1e-4, every other
      // channel within 1e-3 of its own range.
      const test::ChannelError e =
          test::channel_error(gpu_outs[i].data(), g.outputs[i], i == 0 ? 4 : 0,
                              i == 0 ? 4 + static_cast<size_t>(output_layout(*c.plan).num_classes) : 0);
      INFO("vs ONNX Runtime: " << e.str());
      CHECK(e.rel <= 1e-3);
      CHECK(e.score_abs <= 1e-4);
    }
    const FrameResult a = detections_of(*c.plan, gpu_outs, g), b = detections_of(*c.plan, cpu_outs, g);
    REQUIRE(!b.detections.empty());
    REQUIRE(a.detections.size() == b.detections.size());
    for (size_t k = 0; k < a.detections.size(); ++k) {
      CHECK(a.detections[k].cls == b.detections[k].cls);
      CHECK(std::fabs(a.detections[k].score - b.detections[k].score) < 1e-3);
      for (int j = 0; j < 4; ++j) CHECK(std::fabs(a.detections[k].box[j] - b.detections[k].box[j]) < 0.05);
      if (k < a.masks.size()) CHECK(mask_iou(a.masks[k], b.masks[k]) > 0.999);
    }
    // Replays are deterministic; plain launches and debug mode agree; cuBLAS within a tolerance.
    const auto again = run_gpu(gpu, g);
    for (size_t i = 0; i < again.size(); ++i) CHECK(diff(again[i], gpu_outs[i]).differing == 0);
    BackendOptions plain = cuda_options();
    plain.use_graph = false;
    plain.debug_sync = true;
    const auto dbg_outs = run_gpu(*gpu_executor(c.plan, plain), g);
    for (size_t i = 0; i < dbg_outs.size(); ++i) CHECK(diff(dbg_outs[i], gpu_outs[i]).differing == 0);
    BackendOptions cublas = cuda_options();
    cublas.use_cublas = true;
    const auto blas_outs = run_gpu(*gpu_executor(c.plan, cublas), g);
    for (size_t i = 0; i < blas_outs.size(); ++i) {
      const Diff d = diff(blas_outs[i], cpu_outs[i]);
      CHECK(d.max_abs <= 1e-4 * d.range);
    }
  }
#endif
}

TEST_CASE("cuda: fp16 end to end gives the same detections", "[cuda][gpu][model]") {
  FX_REQUIRE_CUDA_DEVICE();
#if defined(FLUXSHARD_HAVE_CUDA)
  for (const char* file : kGoldens) {
    test::Golden g = test::read_golden(test::source_path(std::string("tests/goldens/") + file));
    const test::CompiledModel& c = compiled(g.model);
    INFO(file);
    BackendOptions opt = cuda_options();
    opt.precision = Precision::FP16;
    DenseExecutor gpu(make_device(c.plan, opt));
    const auto cpu_outs = run_cpu(c.plan, g);
    const auto gpu_outs = run_gpu(gpu, g);
    for (size_t i = 0; i < cpu_outs.size(); ++i) {
      const Diff d = diff(gpu_outs[i], cpu_outs[i]);
      WARN(file << " fp16 output " << i << ": max abs error " << d.max_abs << " = "
                << d.max_abs / std::max(d.range, 1e-30) << " of the range " << d.range);
      size_t non_finite = 0;
      for (float v : gpu_outs[i]) non_finite += !std::isfinite(v);
      CHECK(non_finite == 0);
      CHECK(d.max_abs <= 0.05 * d.range);
    }
    const FrameResult a = detections_of(*c.plan, gpu_outs, g), b = detections_of(*c.plan, cpu_outs, g);
    REQUIRE(!b.detections.empty());
    WARN(file << " fp16: " << a.detections.size() << " detections, CPU fp32 " << b.detections.size());
    // Matched: same class, IoU > 0.9, scores within 0.03. Unmatched ones may only sit at the threshold.
    const float conf = PostOptions{}.decode.conf;
    auto unmatched_ok = [&](const std::vector<Detection>& x, const std::vector<Detection>& y) {
      bool ok = true;
      for (const Detection& d : x) {
        bool found = false;
        for (const Detection& e : y)
          found |= e.cls == d.cls && box_iou(e.box, d.box) > 0.9 && std::fabs(e.score - d.score) < 0.03f;
        if (!found && d.score >= conf + 0.02f) {
          UNSCOPED_INFO("unmatched detection: class " << d.cls << " score " << d.score);
          ok = false;
        }
      }
      return ok;
    };
    CHECK(unmatched_ok(b.detections, a.detections));
    CHECK(unmatched_ok(a.detections, b.detections));
  }
#endif
}

#if defined(FLUXSHARD_HAVE_CUDA)
namespace {
// A golden's frame moved by (dx, dy) pixels, edges replicated, letterboxed to size x size.
std::vector<uint8_t> moved_frame(const test::Golden& g, int dx, int dy, int size) {
  std::vector<uint8_t> rgb(g.rgb.size());
  for (int y = 0; y < g.height; ++y)
    for (int x = 0; x < g.width; ++x) {
      const int sy = std::min(std::max(y - dy, 0), g.height - 1), sx = std::min(std::max(x - dx, 0), g.width - 1);
      std::memcpy(&rgb[(static_cast<size_t>(y) * g.width + x) * 3], &g.rgb[(static_cast<size_t>(sy) * g.width + sx) * 3], 3);
    }
  std::vector<uint8_t> lb(static_cast<size_t>(size) * size * 3);
  letterbox_rgb(rgb.data(), g.width, g.height, size, size, lb.data(), nullptr);
  return lb;
}
}  // namespace
#endif

// Real frames without a video decoder (so that this binary needs no FFmpeg on a GPU machine): the
// goldens' frames, bedroom 20 frames apart, and each moved at a constant velocity (so the previous
// field's vectors are the winning candidates), then a cut back (exposed blocks).
TEST_CASE("cuda: the motion search on real frames equals MotionAligner", "[cuda][gpu][motion]") {
  FX_REQUIRE_CUDA_DEVICE();
#if defined(FLUXSHARD_HAVE_CUDA)
  const test::Golden bed10 = test::read_golden(test::source_path("tests/goldens/yolo11n-640_bedroom_f10.fxg"));
  const test::Golden bed30 = test::read_golden(test::source_path("tests/goldens/yolo11n-320_bedroom_f30.fxg"));
  const test::Golden cock40 = test::read_golden(test::source_path("tests/goldens/yolo11n-640_cockatoo_f40.fxg"));
  const int S = 640;
  const std::vector<std::vector<std::vector<uint8_t>>> sequences = {
      {moved_frame(bed10, 0, 0, S), moved_frame(bed30, 0, 0, S), moved_frame(bed30, 5, -3, S),
       moved_frame(bed30, 10, -6, S), moved_frame(bed30, 15, -9, S), moved_frame(bed10, 0, 0, S)},
      {moved_frame(cock40, 0, 0, S), moved_frame(cock40, -7, 4, S), moved_frame(cock40, -14, 8, S),
       moved_frame(cock40, -21, 12, S), moved_frame(bed10, 0, 0, S)}};
  for (size_t q = 0; q < sequences.size(); ++q) {
    const auto& frames = sequences[q];
    AlignerOptions opt;
    MotionAligner al(S, S, opt);
    cuda::MotionSearchCuda gpu(S, S, opt);
    MotionField prev_cpu;
    bool have_prev = false;
    for (size_t i = 1; i < frames.size(); ++i) {
      MotionField a, b;
      al.estimate(frames[i].data(), frames[i - 1].data(), have_prev ? &prev_cpu : nullptr, {}, a);
      gpu.estimate(frames[i].data(), frames[i - 1].data(), have_prev ? &prev_cpu : nullptr, {}, b);
      REQUIRE(a.blocks.size() == b.blocks.size());
      size_t bad = 0, moved = 0;
      for (size_t k = 0; k < a.blocks.size(); ++k) {
        bad += a.blocks[k].mv != b.blocks[k].mv || a.blocks[k].cost != b.blocks[k].cost ||
               a.blocks[k].candidate != b.blocks[k].candidate || a.blocks[k].exposed != b.blocks[k].exposed;
        moved += a.blocks[k].mv != MotionVector{};
      }
      INFO("sequence " << q << " frame " << i << ": " << bad << " of " << a.blocks.size() << " blocks differ");
      CHECK(bad == 0);
      if (i == 2) CHECK(moved > a.blocks.size() / 10);  // the constant-velocity step really moves
      prev_cpu = a;
      have_prev = true;
    }
  }
#endif
}

TEST_CASE("cli: --backend cuda runs every mode, and says why when it cannot", "[cuda][cli]") {
  test::TempDir tmp;
  const test::CompiledModel& c = compiled("yolo11n-320.onnx");
  const std::string plan = tmp.file("m.fsp");
  test::write_file(plan, std::string(c.bytes.begin(), c.bytes.end()));
  const std::string clip = test::source_path("assets/bedroom.mp4");
  auto r = test::run_cli({"run", plan, "--input", clip, "--backend", "cuda", "--max-frames", "2", "--quiet"});
  std::string why;
  const bool device = test::cuda_device(&why);
#if !defined(FLUXSHARD_HAVE_CUDA)
  CHECK(r.status == 1);
  CHECK(r.err == "error: backend 'cuda' is not available: this fluxshard was built without CUDA\n");
#else
  if (!device) {
    CHECK(r.status == 1);
    CHECK(r.err.find("no CUDA device: ") != std::string::npos);
    CHECK_THROWS_WITH(make_device(c.plan, cuda_options()), Catch::Contains("no CUDA device: "));
  } else {
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("cuda:0 (") != std::string::npos);
    for (const char* mode : {"exact", "fluxshard"})
      for (const char* precision : {"fp32", "fp16"}) {
        auto rs = test::run_cli({"run", plan, "--input", clip, "--backend", "cuda", "--mode", mode, "--precision",
                                 precision, "--max-frames", "4", "--quiet"});
        INFO(mode << " " << precision << ": " << rs.err);
        CHECK(rs.status == 0);
      }
  }
#endif
  (void)device;
  auto p16 = test::run_cli({"run", plan, "--input", clip, "--precision", "fp16"});
  CHECK(p16.status == 2);
  CHECK(p16.err == "error: fluxshard run: --precision fp16 needs --backend cuda\n");
}
