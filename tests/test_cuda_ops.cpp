// The CUDA kernels against the CPU backend, test-backend-ops style.
//
// [host] cases run everywhere, GPU or not: they check, on the CPU, the code the kernels share with the
// host (ops/cuda/common.h, ops/motion/motion_search_core.h): the exact activation arithmetic against
// the CPU kernels bit for bit, the position / im2col / transposed-conv / broadcast / transpose / slice
// index maps, the 16-lane softmax transcription, the conv fma order and the motion-search core with a
// plain serial evaluator against MotionAligner (its batched SIMD evaluator, memo and early exit), plus
// (CUDA builds) weight packing and the fp16 conversion.
//
// [gpu] cases run every kernel against the CPU kernel on many random shapes, span lists (the sparse
// executor's form) and channel-slice views: fp32 results must be bit-identical (matmul: NMSE), fp16
// convolutions within an NMSE bound; no NaN/Inf from finite inputs; guard zones around every buffer
// and everything outside the computed positions / view channels untouched. Without a device they
// skip (FX_SKIP "no CUDA device: ..."): CTest runs them as test_cuda_ops_gpu and reports it Skipped.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "op_harness.h"
#include "ops/conv/conv.h"
#include "ops/conv/conv_internal.h"
#include "ops/cuda/common.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/motion/motion_search_core.h"
#include "ops/motion/sad.h"
#include "ops/pool/maxpool.h"
#include "ops/resize/resize.h"
#include "ops/shape/shape_ops.h"
#include "ops/softmax/softmax.h"
#include "ops/thread_pool.h"
#include "runtime/dense_executor.h"
#include "runtime/motion/aligner.h"

#if defined(FLUXSHARD_HAVE_CUDA)
#include "ops/conv/conv_cuda.h"
#include "ops/elementwise/elementwise_cuda.h"
#include "ops/matmul/matmul_cuda.h"
#include "ops/motion/sad_cuda.h"
#include "ops/pool/maxpool_cuda.h"
#include "ops/resize/resize_cuda.h"
#include "ops/shape/shape_ops_cuda.h"
#include "ops/softmax/softmax_cuda.h"
#endif

using namespace fx;
using namespace fx::test;

// GCC 12 sees the int products that size TestMaps below as possibly negative and warns about the fill
// loop in op_harness.h's Guarded (a false positive: every size here is small and positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

namespace {

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }
// Bit-identical, or both NaN (NaN payloads are not part of the contract).
bool same_value(float a, float b) { return same_bits(a, b) || (std::isnan(a) && std::isnan(b)); }

constexpr float kFill = 12345.5f;  // what positions outside the computed set hold

// Runs f in the floating-point mode the CPU kernels run in (a ThreadPool task: FTZ / DAZ on x86), which
// the GPU code reproduces with -ftz=true.
template <class F>
void in_kernel_mode(F&& f) {
  ThreadPool pool(1);
  pool.run(1, [&](int64_t, int) { f(); });
}

// Values that exercise every branch of the exp / logistic code.
std::vector<float> activation_inputs() {
  std::vector<float> v = {0.f, -0.f, 1.f, -1.f, 1e-40f, -1e-40f, 1e-30f, -1e-30f, 80.f, -80.f, 80.5f, -88.7f,
                          -88.8f, -89.f, -89.5f, 89.f, -103.9f, -103.98f, -104.f, -150.f, 103.9f, 1e30f, -1e30f,
                          std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(), 0.5f, -0.5f, 0.34657359f, -0.34657359f};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> wide(-120.f, 120.f), narrow(-8.f, 8.f);
  for (int i = 0; i < 20000; ++i) v.push_back(wide(rng));
  for (int i = 0; i < 20000; ++i) v.push_back(narrow(rng));
  for (uint32_t bits = 0; bits < 0xffffffffu - 0x00100000u; bits += 0x000fffe3u) {  // every exponent, both signs
    float f;
    std::memcpy(&f, &bits, 4);
    v.push_back(f);
  }
  return v;
}

std::vector<CpuIsa> isas() { return supported_isas(); }

// A random NHWC conv case (shapes the YOLO11 family uses and odd ones).
struct ConvCase {
  ConvParams p;
  int ih = 1, iw = 1;
  bool bias = true, residual = false;
  int in_extra = 0, in_first = 0, out_extra = 0, out_first = 0;
  int oh() const { return static_cast<int>(conv_out_size(ih, p.kh, p.sh, p.pad_t, p.pad_b, p.dh)); }
  int ow() const { return static_cast<int>(conv_out_size(iw, p.kw, p.sw, p.pad_l, p.pad_r, p.dw)); }
  std::string str() const {
    std::ostringstream s;
    s << "cin=" << p.cin << " cout=" << p.cout << " k=" << p.kh << "x" << p.kw << " s=" << p.sh << "x" << p.sw
      << " pad=" << p.pad_t << "," << p.pad_l << "," << p.pad_b << "," << p.pad_r << " d=" << p.dh << "x" << p.dw
      << " g=" << p.group << " act=" << static_cast<int>(p.act) << " in=" << ih << "x" << iw << " bias=" << bias
      << " res=" << residual << " in_extra=" << in_extra << " out_extra=" << out_extra;
    return s.str();
  }
};

ConvCase random_conv_case(std::mt19937& rng, bool allow_depthwise = true) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvCase c;
  for (;;) {
    const int kind = pick(0, 9);
    const int k = kind < 3 ? 1 : kind < 8 ? 3 : pick(1, 5);
    c.p.kh = k, c.p.kw = kind == 9 ? pick(1, 4) : k;
    c.p.sh = pick(1, 10) <= 7 ? 1 : 2, c.p.sw = c.p.sh == 1 && pick(0, 4) == 0 ? 2 : c.p.sh;
    c.p.dh = pick(0, 8) == 0 ? 2 : 1, c.p.dw = c.p.dh;
    c.p.pad_t = pick(0, c.p.kh / 2 + (pick(0, 5) == 0)), c.p.pad_b = pick(0, c.p.kh / 2);
    c.p.pad_l = pick(0, c.p.kw / 2 + (pick(0, 5) == 0)), c.p.pad_r = pick(0, c.p.kw / 2);
    const int g_kind = pick(0, 9);
    if (allow_depthwise && g_kind == 0) {
      const int ch = pick(1, 70);
      c.p.cin = c.p.cout = c.p.group = ch;
    } else if (g_kind == 1) {
      c.p.group = pick(2, 4);
      c.p.cin = c.p.group * pick(1, 9);
      c.p.cout = c.p.group * pick(1, 9);
    } else {
      c.p.group = 1;
      c.p.cin = pick(0, 3) == 0 ? pick(1, 5) : pick(1, 80);
      c.p.cout = pick(0, 4) == 0 ? pick(1, 3) : pick(1, 150);
    }
    c.p.act = static_cast<Act>(pick(0, 2));
    c.ih = pick(1, 23), c.iw = pick(1, 29);
    c.bias = pick(0, 4) != 0;
    c.residual = pick(0, 3) == 0;
    c.in_extra = pick(0, 2) == 0 ? pick(1, 7) : 0;
    c.in_first = c.in_extra ? pick(0, c.in_extra) : 0;
    c.out_extra = pick(0, 2) == 0 ? pick(1, 5) : 0;
    c.out_first = c.out_extra ? pick(0, c.out_extra) : 0;
    if (c.oh() >= 1 && c.ow() >= 1 && c.ih + c.p.pad_t + c.p.pad_b >= (c.p.kh - 1) * c.p.dh + 1 &&
        c.iw + c.p.pad_l + c.p.pad_r >= (c.p.kw - 1) * c.p.dw + 1)
      return c;
  }
}

// Random ConvTranspose2d parameters, up to max_ch channels per group (draws in a fixed order, so a seed
// names the same cases).
ConvTransposeParams random_conv_transpose_params(std::mt19937& rng, int max_ch) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ConvTransposeParams p;
  p.group = pick(0, 3) == 0 ? 2 : 1;
  p.cin = p.group * pick(1, max_ch), p.cout = p.group * pick(1, max_ch);
  p.kh = pick(1, 4), p.kw = pick(1, 4), p.sh = pick(1, 3), p.sw = pick(1, 3), p.dh = pick(1, 2), p.dw = p.dh;
  p.pad_t = pick(0, p.kh - 1), p.pad_l = pick(0, p.kw - 1), p.pad_b = pick(0, p.kh - 1), p.pad_r = pick(0, p.kw - 1);
  p.out_pad_h = pick(0, p.sh - 1), p.out_pad_w = pick(0, p.sw - 1);
  p.act = static_cast<Act>(pick(0, 2));
  return p;
}

std::vector<float> conv_weights(const ConvParams& p, uint32_t seed) {
  const size_t n = static_cast<size_t>(p.cout) * (p.cin / p.group) * p.kh * p.kw;
  const float scale = 1.5f / std::sqrt(static_cast<float>(p.cin / p.group * p.kh * p.kw));
  return random_vector(n, seed, -scale, scale);
}

// Runs the CPU Conv2d on `spans` into out (filled with kFill elsewhere).
void cpu_conv(const ConvCase& cc, const std::vector<float>& w, const std::vector<float>& b, TestMap& in, TestMap& out,
              TestMap* res, const std::vector<Span>& spans) {
  Conv2d conv(cc.p, w.data(), cc.bias ? b.data() : nullptr);
  ThreadPool pool(1);
  WorkspaceBlocks ws(conv.workspace_bytes(), 1);
  MapView rv = res ? res->view() : MapView{};
  conv.run(in.view(), out.view(), res ? &rv : nullptr, make_span_list(spans), pool, ws.get());
}

// A random output shape (rank 1..max_rank, dims 1..max_dim) and two operands that broadcast to it:
// leading axes dropped, other axes squashed to 1.
struct BroadcastShapes {
  Shape out, a, b;
};
[[maybe_unused]] BroadcastShapes random_broadcast(std::mt19937& rng, int max_rank, int max_dim) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  BroadcastShapes z;
  const int R = pick(1, max_rank);
  for (int i = 0; i < R; ++i) z.out.d[z.out.rank++] = pick(1, max_dim);
  auto operand = [&]() {
    Shape s;
    const int r = pick(0, R);
    for (int i = R - r; i < R; ++i) s.d[s.rank++] = pick(0, 2) == 0 ? 1 : z.out.d[i];
    return s;
  };
  z.a = operand();
  z.b = operand();
  return z;
}

}  // namespace

// =====================================================================================================
// Host checks (no GPU needed)

TEST_CASE("host: conv activations match the CPU kernels bit for bit", "[cuda][host]") {
  std::vector<float> x = activation_inputs();
  for (bool kernel_mode : {false, true}) {
    for (Act act : {Act::SiLU, Act::Sigmoid}) {
      for (CpuIsa isa : isas()) {
        std::vector<float> cpu = x, emu(x.size());
        auto run = [&] {
          conv_detail::apply_activation_isa(isa, act, cpu.data(), static_cast<int>(cpu.size()));
          for (size_t i = 0; i < x.size(); ++i) emu[i] = cuda::conv_activation(static_cast<int>(act), x[i]);
        };
        if (kernel_mode) in_kernel_mode(run);
        else run();
        size_t bad = 0;
        float first = 0;
        for (size_t i = 0; i < x.size(); ++i)
          if (!same_value(emu[i], cpu[i])) {
            if (!bad) first = x[i];
            ++bad;
          }
        INFO("act " << static_cast<int>(act) << " isa " << isa_name(isa) << " ftz " << kernel_mode
                    << " first mismatch at x = " << first);
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("host: element-wise sigmoid and SiLU match the CPU kernels bit for bit", "[cuda][host]") {
  std::vector<float> x = activation_inputs();
  ThreadPool pool(1);
  for (UnaryOp op : {UnaryOp::Sigmoid, UnaryOp::SiLU}) {
    std::vector<float> cpu(x.size()), emu(x.size());
    unary_plain(op, x.data(), cpu.data(), static_cast<int64_t>(x.size()), pool);
    in_kernel_mode([&] {
      for (size_t i = 0; i < x.size(); ++i) emu[i] = op == UnaryOp::SiLU ? cuda::ew_silu(x[i]) : cuda::ew_sigmoid(x[i]);
    });
    size_t bad = 0;
    float first = 0;
    for (size_t i = 0; i < x.size(); ++i)
      if (!same_value(emu[i], cpu[i])) {
        if (!bad) first = x[i];
        ++bad;
      }
    INFO("op " << static_cast<int>(op) << " first mismatch at x = " << first);
    CHECK(bad == 0);
  }
}

TEST_CASE("host: PosList locate enumerates span lists and dense rows in order", "[cuda][host]") {
  std::mt19937 rng(3);
  for (int t = 0; t < 200; ++t) {
    const int h = 1 + static_cast<int>(rng() % 20), w = 1 + static_cast<int>(rng() % 40);
    std::vector<Span> spans = random_spans(h, w, static_cast<uint32_t>(t), 0.1 + 0.8 * (t % 7) / 6.0);
    // Empty and reversed spans anywhere count as nothing.
    if (t % 3 == 0) spans.insert(spans.begin() + static_cast<long>(rng() % (spans.size() + 1)), Span{2, 5, 5});
    if (t % 5 == 0) spans.insert(spans.begin() + static_cast<long>(rng() % (spans.size() + 1)), Span{1, 7, 3});
    if (t % 4 == 0) spans.push_back(Span{0, 4, 4});
    std::vector<int64_t> starts(spans.size() + 1);
    const int64_t n = cuda::span_starts(spans.data(), static_cast<int>(spans.size()), starts.data());
    cuda::PosList p;
    p.spans = spans.data();
    p.starts = starts.data();
    p.count = static_cast<int>(spans.size());
    p.positions = n;
    int64_t m = 0;
    bool ok = true;
    for (const Span& s : spans)
      for (int x = s.x0; x < s.x1; ++x, ++m) {
        int yy = -1, xx = -1;
        cuda::locate(p, m, yy, xx);
        ok &= yy == s.y && xx == x;
      }
    CHECK(ok);
    CHECK(m == n);
    const cuda::PosList d = cuda::dense_positions(h, w, 3);
    bool dok = d.positions == static_cast<int64_t>(h) * w;
    for (int64_t k = 0; k < d.positions; ++k) {
      int yy, xx;
      cuda::locate(d, k, yy, xx);
      dok &= yy == 3 + k / w && xx == k % w;
    }
    CHECK(dok);
  }
}

// The fp32 GEMM kernel's arithmetic, replayed on the host: the A gather (conv_term + window origin,
// zeros for padding), the weight index, the fma chain over k = 0 .. K-1 from the bias, the activation
// and the residual add. Must equal the CPU Conv2d bit for bit (and the depthwise / grouped forms too).
TEST_CASE("host: the CUDA conv arithmetic replayed on the CPU equals Conv2d bit for bit", "[cuda][host]") {
  std::mt19937 rng(11);
  for (int t = 0; t < 120; ++t) {
    const ConvCase cc = random_conv_case(rng);
    INFO(cc.str());
    const ConvParams& p = cc.p;
    const int cin_g = p.cin / p.group, cout_g = p.cout / p.group, K = p.kh * p.kw * cin_g;
    std::vector<float> w = conv_weights(p, 100 + t), b = random_vector(static_cast<size_t>(p.cout), 200 + t);
    TestMap in(cc.ih, cc.iw, p.cin, cc.in_extra, cc.in_first), out(cc.oh(), cc.ow(), p.cout, 0, 0, kFill);
    TestMap res(cc.oh(), cc.ow(), p.cout);
    in.randomize(300 + t);
    res.randomize(400 + t);
    std::vector<Span> spans = full_spans(cc.oh(), cc.ow());
    cpu_conv(cc, w, b, in, out, cc.residual ? &res : nullptr, spans);
    const MapView iv = in.view(), ov = out.view(), rv = res.view();
    size_t bad = 0;
    in_kernel_mode([&] {
    for (int oy = 0; oy < cc.oh(); ++oy)
      for (int ox = 0; ox < cc.ow(); ++ox)
        for (int co = 0; co < p.cout; ++co) {
          const int g = co / cout_g, n = co % cout_g;
          float acc = cc.bias ? b[static_cast<size_t>(co)] : 0.0f;
          for (int k = 0; k < K; ++k) {
            const cuda::ConvTerm term = cuda::conv_term(k, cin_g, p.kw, p.dh, p.dw);
            const int iy = oy * p.sh - p.pad_t + term.dy, ix = ox * p.sw - p.pad_l + term.dx;
            const float v = iy >= 0 && iy < iv.h && ix >= 0 && ix < iv.w
                                ? iv.data[cuda::pixel_offset(iy, ix, iv.w, iv.pixel_stride) + g * cin_g + term.ci]
                                : 0.0f;
            acc =
                cuda::fx_fma(v, w[static_cast<size_t>(cuda::conv_oihw_index(g, k, n, cin_g, cout_g, p.kh, p.kw))], acc);
          }
          float r = cuda::conv_activation(static_cast<int>(p.act), acc);
          if (cc.residual) r = cuda::fx_add(r, rv.at(oy, ox)[co]);
          bad += !same_bits(r, ov.at(oy, ox)[co]);
        }
    });
    CHECK(bad == 0);
  }
}

TEST_CASE("host: the CUDA ConvTranspose arithmetic replayed on the CPU equals ConvTranspose2d", "[cuda][host]") {
  std::mt19937 rng(12);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 60; ++t) {
    ConvTransposeParams p = random_conv_transpose_params(rng, 12);
    const int ih = pick(1, 9), iw = pick(1, 9);
    const int oh = static_cast<int>(conv_transpose_out_size(ih, p.kh, p.sh, p.pad_t, p.pad_b, p.dh, p.out_pad_h));
    const int ow = static_cast<int>(conv_transpose_out_size(iw, p.kw, p.sw, p.pad_l, p.pad_r, p.dw, p.out_pad_w));
    if (oh < 1 || ow < 1) continue;
    const int cin_g = p.cin / p.group, cout_g = p.cout / p.group;
    std::vector<float> w = random_vector(static_cast<size_t>(p.cin) * cout_g * p.kh * p.kw, 500 + t);
    std::vector<float> b = random_vector(static_cast<size_t>(p.cout), 600 + t);
    const int in_extra = pick(0, 1) * 3;
    TestMap in(ih, iw, p.cin, in_extra, in_extra ? 1 : 0), out(oh, ow, p.cout, 0, 0, kFill);
    in.randomize(700 + t);
    ConvTranspose2d ct(p, w.data(), b.data());
    ThreadPool pool(1);
    WorkspaceBlocks ws(ct.workspace_bytes(), 1);
    std::vector<Span> spans = full_spans(oh, ow);
    ct.run(in.view(), out.view(), make_span_list(spans), pool, ws.get());
    const MapView iv = in.view(), ov = out.view();
    size_t bad = 0;
    in_kernel_mode([&] {
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int co = 0; co < p.cout; ++co) {
          const int g = co / cout_g, col = co % cout_g;
          float acc = b[static_cast<size_t>(co)];
          for (int ky = 0; ky < p.kh; ++ky) {
            const int iy = cuda::convt_source(oy, p.pad_t, ky, p.dh, p.sh, ih);
            if (iy < 0) continue;
            for (int kx = 0; kx < p.kw; ++kx) {
              const int ix = cuda::convt_source(ox, p.pad_l, kx, p.dw, p.sw, iw);
              if (ix < 0) continue;
              for (int ci = 0; ci < cin_g; ++ci) {
                const int cig = g * cin_g + ci;
                acc = cuda::fx_fma(iv.at(iy, ix)[cig],
                                   w[((static_cast<size_t>(cig) * cout_g + col) * p.kh + ky) * p.kw + kx], acc);
              }
            }
          }
          bad += !same_bits(cuda::conv_activation(static_cast<int>(p.act), acc), ov.at(oy, ox)[co]);
        }
    });
    CHECK(bad == 0);
  }
}

// softmax_cuda's row algorithm (16 lanes, lane l summing elements l, l+16, ..., the CPU's tree) and
// its column algorithm, replayed on the host, against the CPU softmax bit for bit.
TEST_CASE("host: the CUDA softmax algorithm replayed on the CPU equals softmax() bit for bit", "[cuda][host]") {
  ThreadPool pool(1);
  std::mt19937 rng(13);
  for (int t = 0; t < 60; ++t) {
    const int64_t outer = 1 + rng() % 7, len = 1 + rng() % (t % 2 ? 50 : 420), inner = t % 3 == 0 ? 1 + rng() % 9 : 1;
    Shape s{outer, len, inner};
    std::vector<float> x = random_vector(static_cast<size_t>(outer * len * inner), 800 + t, -12.f, 12.f);
    std::vector<float> cpu(x.size()), emu(x.size());
    softmax(x.data(), s, 1, cpu.data(), pool);
    in_kernel_mode([&] {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        const float* xi = x.data() + o * len * inner + j;
        float* y = emu.data() + o * len * inner + j;
        float m = xi[0];
        for (int64_t l = 0; l < len; ++l) m = cuda::fx_max(m, xi[l * inner]);
        if (inner == 1) {
          float lane[16];
          for (int l = 0; l < 16; ++l) {
            lane[l] = 0.f;
            for (int64_t i = l; i < len; i += 16) {
              const float e = cuda::ew_exp_nonpos(cuda::fx_sub(xi[i], m));
              y[i] = e;
              lane[l] = cuda::fx_add(lane[l], e);
            }
          }
          for (int w = 8; w >= 1; w /= 2)
            for (int l = 0; l < w; ++l) lane[l] = cuda::fx_add(lane[l], lane[l + w]);
          const float inv = cuda::fx_div(1.f, lane[0]);
          for (int64_t i = 0; i < len; ++i) y[i] = cuda::fx_mul(y[i], inv);
        } else {
          float sum = 0.f;
          for (int64_t l = 0; l < len; ++l) {
            const float e = cuda::ew_exp_nonpos(cuda::fx_sub(xi[l * inner], m));
            y[l * inner] = e;
            sum = cuda::fx_add(sum, e);
          }
          const float inv = cuda::fx_div(1.f, sum);
          for (int64_t l = 0; l < len; ++l) y[l * inner] = cuda::fx_mul(y[l * inner], inv);
        }
      }
    });
    size_t bad = 0;
    for (size_t i = 0; i < x.size(); ++i) bad += !same_bits(cpu[i], emu[i]);
    INFO("outer " << outer << " len " << len << " inner " << inner);
    CHECK(bad == 0);
  }
}

namespace {

struct Img {
  int w = 0, h = 0;
  std::vector<uint8_t> px;
  Img(int w_, int h_) : w(w_), h(h_), px(static_cast<size_t>(w_) * h_ * 3) {}
};

// A smooth random texture (sums of a few sinusoids) so block matching has a clear optimum.
Img texture(int w, int h, uint32_t seed) {
  Img im(w, h);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  float fx[4], fy[4], ph[4];
  for (int i = 0; i < 4; ++i) fx[i] = 0.05f + 0.3f * u(rng), fy[i] = 0.05f + 0.3f * u(rng), ph[i] = 6.28f * u(rng);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        float v = 128.f;
        for (int i = 0; i < 4; ++i) v += 28.f * std::sin(fx[i] * x + fy[i] * y + ph[i] + c);
        im.px[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>(std::min(255.f, std::max(0.f, v)));
      }
  return im;
}

// cur = ref shifted by (sx, sy) (content moves right by sx: cur(x) = ref(x - sx)), plus noisy and
// replaced patches.
Img shifted(const Img& ref, int sx, int sy, uint32_t seed, int noise_blocks) {
  Img cur(ref.w, ref.h);
  std::mt19937 rng(seed);
  for (int y = 0; y < ref.h; ++y)
    for (int x = 0; x < ref.w; ++x) {
      const int X = std::min(ref.w - 1, std::max(0, x - sx)), Y = std::min(ref.h - 1, std::max(0, y - sy));
      for (int c = 0; c < 3; ++c)
        cur.px[(static_cast<size_t>(y) * ref.w + x) * 3 + c] = ref.px[(static_cast<size_t>(Y) * ref.w + X) * 3 + c];
    }
  for (int b = 0; b < noise_blocks; ++b) {
    const int x0 = static_cast<int>(rng() % static_cast<uint32_t>(ref.w - 20)),
              y0 = static_cast<int>(rng() % static_cast<uint32_t>(ref.h - 20));
    const int amp = b % 2 ? 255 : 12;
    for (int y = y0; y < y0 + 20; ++y)
      for (int x = x0; x < x0 + 20; ++x)
        for (int c = 0; c < 3; ++c) {
          uint8_t& v = cur.px[(static_cast<size_t>(y) * ref.w + x) * 3 + c];
          v = static_cast<uint8_t>(
              std::min(255, std::max(0, static_cast<int>(v) + static_cast<int>(rng() % (2 * amp + 1)) - amp)));
        }
  }
  return cur;
}

// The serial evaluator: SADs with the CPU's reference SAD.
struct HostEval {
  const uint8_t *cur, *ref;
  int stride, B, x0, y0;
  uint32_t sad(int dx, int dy) const {
    return block_sad_rgb_reference(cur + static_cast<ptrdiff_t>(y0) * stride + x0 * 3, stride,
                                   ref + static_cast<ptrdiff_t>(y0 + dy) * stride + (x0 + dx) * 3, stride, B);
  }
  void eval(MotionCand* l, int n) {
    for (int i = 0; i < n; ++i) l[i].sad = sad(l[i].dx, l[i].dy);
  }
  MotionCand best_in_rect(int dx_lo, int dx_hi, int dy_lo, int dy_hi) {
    MotionCand best{0, 0, 0};
    bool have = false;
    for (int dy = dy_lo; dy <= dy_hi; ++dy)
      for (int dx = dx_lo; dx <= dx_hi; ++dx) {
        MotionCand c{dx, dy, sad(dx, dy)};
        if (!have || motion_better(c, best)) best = c, have = true;
      }
    return best;
  }
};

// The core with the serial evaluator, on MotionAligner's prepared inputs (the job, seeds and hints).
MotionField host_core_field(const MotionAligner& al, const uint8_t* cur, const uint8_t* ref, const MotionField* prev,
                            const std::vector<CodecHint>& hints) {
  MotionSearchInputs in;
  al.prepare(prev, hints, in);
  const int B = al.options().block;
  MotionField f;
  f.block = B, f.cols = al.cols(), f.rows = al.rows();
  f.blocks.resize(static_cast<size_t>(f.cols) * f.rows);
  for (int by = 0; by < f.rows; ++by)
    for (int bx = 0; bx < f.cols; ++bx) {
      HostEval ev{cur, ref, al.width() * 3, B, bx * B, by * B};
      f.blocks[static_cast<size_t>(by) * f.cols + bx] = al.block_motion(motion_search_block(in.job, bx, by, ev));
    }
  return f;
}

size_t field_mismatches(const MotionField& a, const MotionField& b) {
  if (a.blocks.size() != b.blocks.size() || a.cols != b.cols || a.rows != b.rows) return SIZE_MAX;
  size_t bad = 0;
  for (size_t i = 0; i < a.blocks.size(); ++i) {
    const BlockMotion &x = a.blocks[i], &y = b.blocks[i];
    bad += x.mv != y.mv || !same_bits(x.cost, y.cost) || x.candidate != y.candidate || x.exposed != y.exposed;
  }
  return bad;
}

struct MotionScenario {
  Img ref, cur;
  MotionField prev;
  bool use_prev = false;
  std::vector<CodecHint> hints;
  AlignerOptions opt;
};

std::vector<MotionScenario> motion_scenarios() {
  std::vector<MotionScenario> v;
  const int shifts[][2] = {{0, 0}, {3, -5}, {-8, 16}, {17, 2}, {-30, -30}};
  uint32_t seed = 1;
  for (const auto& s : shifts)
    for (int variant = 0; variant < 3; ++variant) {
      MotionScenario sc{texture(128, 96, seed), Img(1, 1), {}, false, {}, {}};
      sc.cur = shifted(sc.ref, s[0], s[1], seed + 100, variant * 4);
      if (variant == 1) sc.opt.stride_aware = false;
      if (variant == 2) {
        sc.opt.tau = 0.01f;
        sc.opt.window = 24;
      }
      // Seeds from a previous field and codec hints: a pass without them first.
      MotionAligner al(sc.ref.w, sc.ref.h, sc.opt);
      if (variant > 0) {
        al.estimate(sc.cur.px.data(), sc.ref.px.data(), nullptr, {}, sc.prev);
        sc.use_prev = true;
        sc.hints.push_back({0, 0, 64, 48, -s[0], -s[1]});
        sc.hints.push_back({40, 30, 70, 50, 5, 5});
        sc.hints.push_back({-10, 60, 50, 100, -200, 3});
        sc.hints.push_back({8, 8, 0, 10, 1, 1});
      }
      v.push_back(std::move(sc));
      ++seed;
    }
  // Block size 8, window 5, odd geometry.
  MotionScenario small{texture(64, 40, 77), Img(1, 1), {}, false, {}, {}};
  small.opt.block = 8, small.opt.window = 5;
  small.cur = shifted(small.ref, 2, 1, 78, 3);
  v.push_back(std::move(small));
  return v;
}

}  // namespace

TEST_CASE("host: the motion-search core with a serial evaluator equals MotionAligner", "[cuda][host][motion]") {
  for (const MotionScenario& sc : motion_scenarios()) {
    MotionAligner al(sc.ref.w, sc.ref.h, sc.opt);
    MotionField cpu;
    const MotionField* prev = sc.use_prev ? &sc.prev : nullptr;
    al.estimate(sc.cur.px.data(), sc.ref.px.data(), prev, sc.hints, cpu);
    const MotionField emu = host_core_field(al, sc.cur.px.data(), sc.ref.px.data(), prev, sc.hints);
    CHECK(field_mismatches(cpu, emu) == 0);
  }
}

#if defined(FLUXSHARD_HAVE_CUDA)

TEST_CASE("host: fp16 conversion rounds to nearest even and saturates", "[cuda][host]") {
  // Every finite half round-trips; midpoints between neighbours round to the even one.
  size_t bad = 0;
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    if ((h & 0x7c00u) == 0x7c00u) continue;  // inf / NaN
    const float f = cuda::half_to_float(static_cast<uint16_t>(h));
    bad += cuda::float_to_half_sat(f) != h;
    if ((h & 0x3ffu) != 0x3ffu && (h & 0x7fffu) < 0x7bffu) {
      const float g = cuda::half_to_float(static_cast<uint16_t>(h + 1));
      const double mid = (static_cast<double>(f) + g) / 2;
      const uint16_t r = cuda::float_to_half_sat(static_cast<float>(mid));
      bad += r != ((h & 1u) ? h + 1 : h);
    }
  }
  CHECK(bad == 0);
  CHECK(cuda::float_to_half_sat(65504.f) == 0x7bff);
  CHECK(cuda::float_to_half_sat(70000.f) == 0x7bff);
  CHECK(cuda::float_to_half_sat(-1e30f) == 0xfbff);
  CHECK(cuda::float_to_half_sat(std::numeric_limits<float>::infinity()) == 0x7bff);
  CHECK(cuda::float_to_half_sat(1e-9f) == 0);
  CHECK((cuda::float_to_half_sat(std::nanf("")) & 0x7c00u) == 0x7c00u);
  CHECK(cuda::half_to_float(0x3c00) == 1.0f);
  CHECK(cuda::half_to_float(0x0001) == 5.9604644775390625e-8f);
}

TEST_CASE("host: conv weight packing follows the OIHW index map", "[cuda][host]") {
  std::mt19937 rng(21);
  for (int t = 0; t < 40; ++t) {
    const ConvCase cc = random_conv_case(rng);
    const ConvParams& p = cc.p;
    const int cin_g = p.cin / p.group, cout_g = p.cout / p.group, K = p.kh * p.kw * cin_g;
    std::vector<float> w = conv_weights(p, 900 + t);
    const int ldb = cout_g + 3, rows = K + 5;
    std::vector<float> packed(static_cast<size_t>(p.group) * rows * ldb, -1.f);
    cuda::pack_conv_weights(p, w.data(), ldb, rows, packed.data());
    size_t bad = 0;
    for (int g = 0; g < p.group; ++g)
      for (int k = 0; k < rows; ++k)
        for (int n = 0; n < ldb; ++n) {
          const float v = packed[(static_cast<size_t>(g) * rows + k) * ldb + n];
          // Reference: (ky, kx, ci) loops over OIHW.
          float want = 0.f;
          if (k < K && n < cout_g) {
            const int ky = k / (p.kw * cin_g), kx = (k / cin_g) % p.kw, ci = k % cin_g;
            want = w[((static_cast<size_t>(g * cout_g + n) * cin_g + ci) * p.kh + ky) * p.kw + kx];
          }
          bad += !same_bits(v, want);
        }
    CHECK(bad == 0);
  }
}

TEST_CASE("host: broadcast, transpose and slice index maps match the CPU ops", "[cuda][host]") {
  ThreadPool pool(1);
  std::mt19937 rng(31);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 100; ++t) {
    // Broadcast: random out shape, operands drop / squash axes.
    const BroadcastShapes z = random_broadcast(rng, 5, 5);
    const Shape &out = z.out, &sa = z.a, &sb = z.b;
    std::vector<float> a = random_vector(static_cast<size_t>(sa.numel()), 1000 + t),
                       b = random_vector(static_cast<size_t>(sb.numel()), 1100 + t);
    std::vector<float> ref(static_cast<size_t>(out.numel()));
    binary_plain_reference(BinaryOp::Sub, a.data(), sa, b.data(), sb, ref.data(), out);
    const cuda::StridedMap ma = cuda::broadcast_map(sa, out), mb = cuda::broadcast_map(sb, out);
    size_t bad = 0;
    for (int64_t i = 0; i < out.numel(); ++i)
      bad += !same_bits(ref[static_cast<size_t>(i)], a[static_cast<size_t>(cuda::strided_source(ma, i))] -
                                                         b[static_cast<size_t>(cuda::strided_source(mb, i))]);
    CHECK(bad == 0);

    // Transpose.
    Shape ts;
    const int tr = pick(1, 6);
    for (int i = 0; i < tr; ++i) ts.d[ts.rank++] = pick(1, 5);
    int perm[Shape::kMaxRank];
    for (int i = 0; i < tr; ++i) perm[i] = i;
    std::shuffle(perm, perm + tr, rng);
    std::vector<float> x = random_vector(static_cast<size_t>(ts.numel()), 1200 + t), tref(x.size());
    transpose_reference(x.data(), ts, perm, tref.data());
    const cuda::StridedMap tm = cuda::transpose_map(ts, perm);
    size_t tbad = 0;
    for (int64_t i = 0; i < ts.numel(); ++i)
      tbad += !same_bits(tref[static_cast<size_t>(i)], x[static_cast<size_t>(cuda::strided_source(tm, i))]);
    CHECK(tbad == 0);

    // Slice with positive and negative steps.
    Shape so;
    int64_t starts[Shape::kMaxRank], steps[Shape::kMaxRank];
    for (int i = 0; i < tr; ++i) {
      const int64_t d = ts.d[i];
      int64_t st = pick(0, 2) == 0 ? -pick(1, 2) : pick(1, 2);
      const int64_t start = st > 0 ? pick(0, static_cast<int>(d - 1)) : pick(0, static_cast<int>(d - 1));
      const int64_t room = st > 0 ? (d - 1 - start) / st + 1 : start / (-st) + 1;
      starts[i] = start, steps[i] = st;
      so.d[so.rank++] = pick(1, static_cast<int>(room));
    }
    std::vector<float> sref(static_cast<size_t>(so.numel()));
    slice(x.data(), ts, starts, steps, sref.data(), so, pool);
    const cuda::StridedMap sm = cuda::slice_map(ts, starts, steps, so);
    size_t sbad = 0;
    for (int64_t i = 0; i < so.numel(); ++i)
      sbad += !same_bits(sref[static_cast<size_t>(i)], x[static_cast<size_t>(cuda::strided_source(sm, i))]);
    CHECK(sbad == 0);
  }
}

TEST_CASE("host: matmul batch geometry collapses exactly when one stride per operand fits", "[cuda][host]") {
  auto g1 = cuda::matmul_geometry(Shape{1, 2, 400, 32}, Shape{1, 2, 32, 400}, Shape{1, 2, 400, 400});
  CHECK(g1.collapsible);
  CHECK(g1.count == 2);
  CHECK(g1.stride_a == 400 * 32);
  CHECK(g1.stride_b == 32 * 400);
  auto g2 = cuda::matmul_geometry(Shape{3, 4, 5, 6}, Shape{6, 7}, Shape{3, 4, 5, 7});
  CHECK(g2.collapsible);
  CHECK(g2.count == 12);
  CHECK(g2.stride_a == 30);
  CHECK(g2.stride_b == 0);
  auto g3 = cuda::matmul_geometry(Shape{3, 1, 5, 6}, Shape{1, 4, 6, 7}, Shape{3, 4, 5, 7});
  CHECK_FALSE(g3.collapsible);
  auto g4 = cuda::matmul_geometry(Shape{5, 6}, Shape{6, 7}, Shape{5, 7});
  CHECK(g4.collapsible);
  CHECK(g4.count == 1);
}

#endif  // FLUXSHARD_HAVE_CUDA

// =====================================================================================================
// GPU: every kernel against the CPU kernel

#if defined(FLUXSHARD_HAVE_CUDA)
namespace {

// Compares a GPU-computed map with the CPU-computed one: bit-identical (exact) or within an NMSE
// bound on the positions in `spans`; kFill elsewhere; guards and foreign channels untouched.
void compare_maps(TestMap& cpu, TestMap& gpu, const std::vector<Span>& spans, bool exact, double nmse_tol,
                  bool expect_finite) {
  CHECK(gpu.buf.guards_intact());
  CHECK(gpu.others_untouched(0.f));
  const MapView c = cpu.view(), g = gpu.view();
  std::vector<char> covered(static_cast<size_t>(c.h) * c.w, 0);
  for (const Span& s : spans)
    for (int x = s.x0; x < s.x1; ++x) covered[static_cast<size_t>(s.y) * c.w + x] = 1;
  std::vector<float> a, b;
  size_t mismatch = 0, outside = 0, non_finite = 0;
  for (int y = 0; y < c.h; ++y)
    for (int x = 0; x < c.w; ++x)
      for (int ch = 0; ch < c.c; ++ch) {
        const float cv = c.at(y, x)[ch], gv = g.at(y, x)[ch];
        if (!covered[static_cast<size_t>(y) * c.w + x]) {
          outside += !same_bits(gv, kFill);
          continue;
        }
        a.push_back(gv);
        b.push_back(cv);
        if (exact) mismatch += !same_value(gv, cv);
        non_finite += !std::isfinite(gv);
      }
  CHECK(outside == 0);
  if (exact) CHECK(mismatch == 0);
  else CHECK(nmse(a.data(), b.data(), a.size()) <= nmse_tol);
  if (expect_finite) CHECK(non_finite == 0);
}

std::vector<Span> spans_for(int h, int w, int variant, uint32_t seed) {
  return variant == 0 ? full_spans(h, w) : random_spans(h, w, seed, variant == 1 ? 0.3 : 0.7);
}

void gpu_conv_case(const ConvCase& cc, bool fp16, int variant, uint32_t seed) {
  INFO(cc.str() << " fp16=" << fp16 << " spans=" << variant << " seed=" << seed);
  const ConvParams& p = cc.p;
  std::vector<float> w = conv_weights(p, seed), b = random_vector(static_cast<size_t>(p.cout), seed + 1);
  TestMap in(cc.ih, cc.iw, p.cin, cc.in_extra, cc.in_first), res(cc.oh(), cc.ow(), p.cout);
  in.randomize(seed + 2);
  res.randomize(seed + 3);
  TestMap cpu(cc.oh(), cc.ow(), p.cout, cc.out_extra, cc.out_first, 0.f),
      gpu(cc.oh(), cc.ow(), p.cout, cc.out_extra, cc.out_first, 0.f);
  for (TestMap* m : {&cpu, &gpu}) {
    MapView v = m->view();
    for (int y = 0; y < v.h; ++y)
      for (int x = 0; x < v.w; ++x)
        for (int ch = 0; ch < v.c; ++ch) v.at(y, x)[ch] = kFill;
  }
  const std::vector<Span> spans = spans_for(cc.oh(), cc.ow(), variant, seed + 4);
  cpu_conv(cc, w, b, in, cpu, cc.residual ? &res : nullptr, spans);
  cuda::ConvCuda conv(p, w.data(), cc.bias ? b.data() : nullptr, fp16);
  DevicePositions pos(spans);
  const bool exact = !fp16 || conv.path() != cuda::ConvCuda::Path::GemmF16;
  // The tile chosen per launch (-1), then every GEMM tile forced: each must give the CPU's bits (fp32)
  // or be within the tolerance (fp16).
  for (int tile = -1; tile < conv.tile_count(); ++tile) {
    INFO("tile " << conv.tile_name(tile));
    conv.set_tile(tile);
    TestMap got = gpu;
    DeviceMap din(in), dres(res), dout(got);
    const MapView rv = dres.view();
    conv.run(din.view(), dout.view(), cc.residual ? &rv : nullptr, pos.get(), nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    dout.download(got);
    compare_maps(cpu, got, spans, exact, 2e-5, true);
  }
}

}  // namespace

TEST_CASE("gpu: Conv2d fp32 equals the CPU bit for bit (GEMM, grouped, depthwise, views, spans)", "[cuda][gpu][conv]") {
  FX_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(41);
  for (int t = 0; t < 150; ++t) gpu_conv_case(random_conv_case(rng), false, t % 3, 5000 + 10 * t);
  // YOLO11 shapes: large channel counts, stride-2 3x3, 1x1, the DFL conv (cout 1), depthwise 3x3.
  const int shapes[][7] = {{64, 128, 3, 2, 20, 20, 1}, {256, 256, 1, 1, 20, 20, 1}, {16, 1, 1, 1, 4, 84, 1},
                           {3, 16, 3, 2, 64, 64, 1}, {128, 128, 3, 1, 10, 10, 128}, {80, 80, 3, 1, 12, 12, 80}};
  int i = 0;
  for (const auto& s : shapes) {
    ConvCase c;
    c.p.cin = s[0], c.p.cout = s[1], c.p.kh = c.p.kw = s[2], c.p.sh = c.p.sw = s[3], c.p.group = s[6];
    c.p.pad_t = c.p.pad_l = c.p.pad_b = c.p.pad_r = s[2] / 2;
    c.p.act = Act::SiLU;
    c.ih = s[4], c.iw = s[5];
    c.residual = i % 2 == 1;
    gpu_conv_case(c, false, i % 3, 7000 + i);
    ++i;
  }
}

TEST_CASE("gpu: Conv2d fp16 (tensor cores) is within NMSE 2e-5 of the CPU", "[cuda][gpu][conv]") {
  FX_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(42);
  for (int t = 0; t < 120; ++t) gpu_conv_case(random_conv_case(rng), true, t % 3, 9000 + 10 * t);
}

TEST_CASE("gpu: ConvTranspose2d equals the CPU bit for bit", "[cuda][gpu][conv]") {
  FX_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(43);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int t = 0; t < 60; ++t) {
    ConvTransposeParams p = random_conv_transpose_params(rng, 24);
    if (t == 0) p = ConvTransposeParams{64, 64, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 0, Act::None};  // YOLO11-seg
    const int ih = t == 0 ? 20 : pick(1, 12), iw = t == 0 ? 20 : pick(1, 12);
    const int oh = static_cast<int>(conv_transpose_out_size(ih, p.kh, p.sh, p.pad_t, p.pad_b, p.dh, p.out_pad_h));
    const int ow = static_cast<int>(conv_transpose_out_size(iw, p.kw, p.sw, p.pad_l, p.pad_r, p.dw, p.out_pad_w));
    if (oh < 1 || ow < 1) continue;
    INFO("t=" << t << " cin=" << p.cin << " cout=" << p.cout << " k=" << p.kh << "x" << p.kw << " s=" << p.sh << "x"
              << p.sw);
    const int cout_g = p.cout / p.group;
    std::vector<float> w = random_vector(static_cast<size_t>(p.cin) * cout_g * p.kh * p.kw, 100 + t);
    std::vector<float> b = random_vector(static_cast<size_t>(p.cout), 200 + t);
    const bool bias = t % 4 != 1;
    TestMap in(ih, iw, p.cin, t % 2 ? 3 : 0, t % 2), cpu(oh, ow, p.cout, t % 3 ? 0 : 2, t % 3 ? 0 : 1),
        gpu(oh, ow, p.cout, t % 3 ? 0 : 2, t % 3 ? 0 : 1);
    in.randomize(300 + t);
    for (TestMap* m : {&cpu, &gpu}) {
      MapView v = m->view();
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x)
          for (int ch = 0; ch < p.cout; ++ch) v.at(y, x)[ch] = kFill;
    }
    const std::vector<Span> spans = spans_for(oh, ow, t % 3, 400 + t);
    ConvTranspose2d ct(p, w.data(), bias ? b.data() : nullptr);
    ThreadPool pool(1);
    WorkspaceBlocks ws(ct.workspace_bytes(), 1);
    ct.run(in.view(), cpu.view(), make_span_list(spans), pool, ws.get());
    cuda::ConvTransposeCuda gct(p, w.data(), bias ? b.data() : nullptr);
    DeviceMap din(in), dout(gpu);
    DevicePositions pos(spans);
    gct.run(din.view(), dout.view(), pos.get(), nullptr);
    CUDA_CHECK(cudaDeviceSynchronize());
    dout.download(gpu);
    compare_maps(cpu, gpu, spans, true, 0, true);
  }
}

TEST_CASE("gpu: local element-wise ops, copies, max pooling and resize equal the CPU bit for bit",
          "[cuda][gpu][local]") {
  FX_REQUIRE_CUDA_DEVICE();
  std::mt19937 rng(44);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ThreadPool pool(1);
  for (int t = 0; t < 90; ++t) {
    const int h = pick(1, 17), w = pick(1, 23), c = pick(1, 70);
    const int extra_a = pick(0, 1) * pick(1, 5), extra_o = pick(0, 1) * pick(1, 5);
    const std::vector<Span> spans = spans_for(h, w, t % 3, 50 + t);
    DevicePositions pos(spans);
    INFO("t=" << t << " h=" << h << " w=" << w << " c=" << c);
    auto fresh = [&](TestMap& m) {
      MapView v = m.view();
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int ch = 0; ch < c; ++ch) v.at(y, x)[ch] = kFill;
    };
    // Binary ops over every operand kind.
    {
      TestMap a(h, w, c, extra_a, extra_a ? 1 : 0), b(h, w, c);
      a.randomize(1 + t);
      b.randomize(2 + t, 0.5f, 2.f);
      std::vector<float> chv = random_vector(static_cast<size_t>(c), 3 + t, 0.5f, 2.f), sc = random_vector(1, 4 + t);
      auto dch = to_device(chv), dsc = to_device(sc);
      const BinaryOp op = static_cast<BinaryOp>(t % 4);
      const int kinds = t % 5;  // a: map; b: map / channels / scalar; or swapped roles
      LocalOperand ca, cb, ga, gb;
      DeviceMap da(a), db(b);
      ca.kind = ga.kind = LocalOperand::Map;
      ca.map = a.view(), ga.map = da.view();
      if (kinds == 0 || kinds == 3) {
        cb.kind = gb.kind = LocalOperand::Map, cb.map = b.view(), gb.map = db.view();
      } else if (kinds == 1) {
        cb.kind = gb.kind = LocalOperand::Channels, cb.values = chv.data(), gb.values = dch.get();
      } else {
        cb.kind = gb.kind = LocalOperand::Scalar, cb.values = sc.data(), gb.values = dsc.get();
      }
      if (kinds >= 3) std::swap(ca, cb), std::swap(ga, gb);
      TestMap cpu(h, w, c, extra_o, std::min(2, extra_o)), gpu(h, w, c, extra_o, std::min(2, extra_o));
      fresh(cpu), fresh(gpu);
      binary_local(op, ca, cb, cpu.view(), make_span_list(spans), pool);
      DeviceMap dout(gpu);
      cuda::binary_local_cuda(op, ga, gb, dout.view(), pos.get(), nullptr);
      CUDA_CHECK(cudaDeviceSynchronize());
      dout.download(gpu);
      compare_maps(cpu, gpu, spans, true, 0, true);
    }
    // Sigmoid / SiLU, copies, resize, max pooling.
    {
      TestMap x(h, w, c, extra_a, extra_a ? extra_a : 0);
      x.randomize(5 + t, -20.f, 20.f);
      DeviceMap dx(x);
      for (int kind = 0; kind < 3; ++kind) {
        TestMap cpu(h, w, c, extra_o, 0), gpu(h, w, c, extra_o, 0);
        fresh(cpu), fresh(gpu);
        DeviceMap dout(gpu);
        if (kind < 2) {
          const UnaryOp op = kind ? UnaryOp::SiLU : UnaryOp::Sigmoid;
          unary_local(op, x.view(), cpu.view(), make_span_list(spans), pool);
          cuda::unary_local_cuda(op, dx.view(), dout.view(), pos.get(), nullptr);
        } else {
          copy_channels(x.view(), cpu.view(), make_span_list(spans), pool);
          cuda::copy_channels_cuda(dx.view(), dout.view(), pos.get(), nullptr);
        }
        CUDA_CHECK(cudaDeviceSynchronize());
        dout.download(gpu);
        compare_maps(cpu, gpu, spans, true, 0, true);
      }
      const int sh = pick(1, 3), sw = pick(1, 3);
      const std::vector<Span> rspans = spans_for(h * sh, w * sw, t % 3, 60 + t);
      DevicePositions rpos(rspans);
      TestMap cpu(h * sh, w * sw, c, extra_o, std::min(1, extra_o)),
          gpu(h * sh, w * sw, c, extra_o, std::min(1, extra_o));
      for (TestMap* m : {&cpu, &gpu}) {
        MapView v = m->view();
        for (int y = 0; y < v.h; ++y)
          for (int xx = 0; xx < v.w; ++xx)
            for (int ch = 0; ch < c; ++ch) v.at(y, xx)[ch] = kFill;
      }
      resize_nearest(sh, sw, x.view(), cpu.view(), make_span_list(rspans), pool);
      DeviceMap dout(gpu);
      cuda::resize_nearest_cuda(sh, sw, dx.view(), dout.view(), rpos.get(), nullptr);
      CUDA_CHECK(cudaDeviceSynchronize());
      dout.download(gpu);
      compare_maps(cpu, gpu, rspans, true, 0, true);
    }
    {
      PoolParams pp;
      pp.kh = pick(1, 5), pp.kw = pick(1, 5), pp.sh = pick(1, 2), pp.sw = pick(1, 2), pp.dh = pick(0, 4) ? 1 : 2;
      pp.dw = pp.dh;
      pp.pad_t = pick(0, pp.kh / 2), pp.pad_b = pick(0, pp.kh / 2), pp.pad_l = pick(0, pp.kw / 2),
      pp.pad_r = pick(0, pp.kw / 2);
      if (t == 0) pp = PoolParams{5, 5, 1, 1, 2, 2, 2, 2, 1, 1};  // SPPF
      const int oh = static_cast<int>(conv_out_size(h, pp.kh, pp.sh, pp.pad_t, pp.pad_b, pp.dh));
      const int ow = static_cast<int>(conv_out_size(w, pp.kw, pp.sw, pp.pad_l, pp.pad_r, pp.dw));
      if (oh >= 1 && ow >= 1) {
        TestMap x(h, w, c, extra_a, 0);
        x.randomize(7 + t);
        if (t % 7 == 3) x.view().at(0, 0)[0] = std::numeric_limits<float>::quiet_NaN();  // NaN order rules
        DeviceMap dx(x);
        const std::vector<Span> pspans = spans_for(oh, ow, t % 3, 70 + t);
        DevicePositions ppos(pspans);
        TestMap cpu(oh, ow, c, extra_o, 0), gpu(oh, ow, c, extra_o, 0);
        for (TestMap* m : {&cpu, &gpu}) {
          MapView v = m->view();
          for (int y = 0; y < oh; ++y)
            for (int xx = 0; xx < ow; ++xx)
              for (int ch = 0; ch < c; ++ch) v.at(y, xx)[ch] = kFill;
        }
        maxpool2d(pp, x.view(), cpu.view(), make_span_list(pspans), pool);
        DeviceMap dout(gpu);
        cuda::maxpool2d_cuda(pp, dx.view(), dout.view(), ppos.get(), nullptr);
        CUDA_CHECK(cudaDeviceSynchronize());
        dout.download(gpu);
        compare_maps(cpu, gpu, pspans, true, 0, t % 7 != 3);
      }
    }
  }
}

TEST_CASE(
    "gpu: plain ops (broadcast binary, sigmoid, transpose, slice, concat, split, relayout, softmax) equal the CPU",
    "[cuda][gpu][plain]") {
  FX_REQUIRE_CUDA_DEVICE();
  ThreadPool pool(1);
  std::mt19937 rng(45);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto exact_equal = [](const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_value(a[i], b[i])) return false;
    return true;
  };
  for (int t = 0; t < 60; ++t) {
    INFO("t=" << t);
    // Broadcast binary.
    const BroadcastShapes z = random_broadcast(rng, 4, 9);
    const Shape &out = z.out, &sa = z.a, &sb = z.b;
    std::vector<float> a = random_vector(static_cast<size_t>(sa.numel()), 10 + t),
                       b = random_vector(static_cast<size_t>(sb.numel()), 20 + t, 0.5f, 2.f);
    const BinaryOp op = static_cast<BinaryOp>(t % 4);
    std::vector<float> cpu(static_cast<size_t>(out.numel()));
    binary_plain(op, a.data(), sa, b.data(), sb, cpu.data(), out, pool);
    auto da = to_device(a), db = to_device(b);
    cuda::DeviceArray<float> dout(cpu.size());
    cuda::binary_plain_cuda(op, da.get(), sa, db.get(), sb, dout.get(), out, nullptr);
    CHECK(exact_equal(to_host(dout), cpu));
    // Sigmoid (plain).
    std::vector<float> su(a.size());
    unary_plain(UnaryOp::Sigmoid, a.data(), su.data(), static_cast<int64_t>(a.size()), pool);
    cuda::DeviceArray<float> dsu(a.size());
    cuda::unary_plain_cuda(UnaryOp::Sigmoid, da.get(), dsu.get(), static_cast<int64_t>(a.size()), nullptr);
    CHECK(exact_equal(to_host(dsu), su));
    // Transpose.
    Shape ts;
    const int tr = pick(1, 5);
    for (int i = 0; i < tr; ++i) ts.d[ts.rank++] = pick(1, 7);
    int perm[Shape::kMaxRank];
    for (int i = 0; i < tr; ++i) perm[i] = i;
    std::shuffle(perm, perm + tr, rng);
    std::vector<float> x = random_vector(static_cast<size_t>(ts.numel()), 30 + t), tcpu(x.size());
    transpose(x.data(), ts, perm, tcpu.data(), pool);
    auto dx = to_device(x);
    cuda::DeviceArray<float> dt(x.size());
    cuda::transpose_cuda(dx.get(), ts, perm, dt.get(), nullptr);
    CHECK(exact_equal(to_host(dt), tcpu));
    // Slice.
    Shape so;
    int64_t starts[Shape::kMaxRank], steps[Shape::kMaxRank];
    for (int i = 0; i < tr; ++i) {
      const int64_t d = ts.d[i];
      const int64_t st = pick(0, 2) == 0 ? -pick(1, 2) : pick(1, 2);
      const int64_t start = pick(0, static_cast<int>(d - 1));
      const int64_t room = st > 0 ? (d - 1 - start) / st + 1 : start / (-st) + 1;
      starts[i] = start, steps[i] = st;
      so.d[so.rank++] = pick(1, static_cast<int>(room));
    }
    std::vector<float> scpu(static_cast<size_t>(so.numel()));
    slice(x.data(), ts, starts, steps, scpu.data(), so, pool);
    cuda::DeviceArray<float> ds(scpu.size());
    cuda::slice_cuda(dx.get(), ts, starts, steps, ds.get(), so, nullptr);
    CHECK(exact_equal(to_host(ds), scpu));
    // Concat / split along a random axis.
    const int axis = pick(0, tr - 1);
    const int parts = pick(1, 4);
    std::vector<Shape> pshapes;
    std::vector<std::vector<float>> pdata;
    std::vector<cuda::DeviceArray<float>> dparts;
    Shape whole = ts;
    whole.d[axis] = 0;
    for (int q = 0; q < parts; ++q) {
      Shape ps = ts;
      ps.d[axis] = pick(1, 4);
      whole.d[axis] += ps.d[axis];
      pshapes.push_back(ps);
      pdata.push_back(random_vector(static_cast<size_t>(ps.numel()), 40 + t * 8 + q));
      dparts.push_back(to_device(pdata.back()));
    }
    std::vector<const float*> hp, dp;
    for (int q = 0; q < parts; ++q) hp.push_back(pdata[q].data()), dp.push_back(dparts[q].get());
    std::vector<float> ccpu(static_cast<size_t>(whole.numel()));
    concat_plain(hp.data(), pshapes.data(), parts, axis, ccpu.data(), pool);
    cuda::DeviceArray<float> dc(ccpu.size());
    cuda::concat_plain_cuda(dp.data(), pshapes.data(), parts, axis, dc.get(), nullptr);
    CHECK(exact_equal(to_host(dc), ccpu));
    std::vector<int64_t> sizes;
    std::vector<std::vector<float>> scpu_parts;
    std::vector<cuda::DeviceArray<float>> sgpu_parts;
    std::vector<float*> hsp, dsp;
    for (int q = 0; q < parts; ++q) {
      sizes.push_back(pshapes[q].d[axis]);
      scpu_parts.emplace_back(static_cast<size_t>(pshapes[q].numel()));
      sgpu_parts.emplace_back(static_cast<size_t>(pshapes[q].numel()));
    }
    for (int q = 0; q < parts; ++q) hsp.push_back(scpu_parts[q].data()), dsp.push_back(sgpu_parts[q].get());
    split_plain(ccpu.data(), whole, axis, hsp.data(), sizes.data(), parts, pool);
    cuda::split_plain_cuda(dc.get(), whole, axis, dsp.data(), sizes.data(), parts, nullptr);
    for (int q = 0; q < parts; ++q) CHECK(exact_equal(to_host(sgpu_parts[q]), scpu_parts[q]));
    // NCHW <-> NHWC with an NHWC channel slice.
    {
      const int h = pick(1, 12), w = pick(1, 12), c = pick(1, 40), extra = pick(0, 1) * 3;
      std::vector<float> nchw = random_vector(static_cast<size_t>(h) * w * c, 50 + t);
      TestMap cpu_m(h, w, c, extra, extra ? 1 : 0), gpu_m(h, w, c, extra, extra ? 1 : 0);
      nchw_to_nhwc(nchw.data(), cpu_m.view(), pool);
      auto dn = to_device(nchw);
      DeviceMap dm(gpu_m);
      cuda::nchw_to_nhwc_cuda(dn.get(), dm.view(), nullptr);
      CUDA_CHECK(cudaDeviceSynchronize());
      dm.download(gpu_m);
      compare_maps(cpu_m, gpu_m, full_spans(h, w), true, 0, true);
      std::vector<float> back_cpu(nchw.size());
      nhwc_to_nchw(cpu_m.view(), back_cpu.data(), pool);
      cuda::DeviceArray<float> dback(nchw.size());
      cuda::nhwc_to_nchw_cuda(dm.view(), dback.get(), nullptr);
      CHECK(exact_equal(to_host(dback), back_cpu));
    }
    // Softmax: rows (the attention's 400 and the DFL's 16) and strided axes.
    {
      const int64_t outer = pick(1, 40), len = t % 3 == 0 ? 400 : t % 3 == 1 ? 16 : pick(1, 70);
      const int64_t inner = t % 2 ? 1 : pick(1, 30);
      Shape s{outer, len, inner};
      std::vector<float> xs = random_vector(static_cast<size_t>(s.numel()), 60 + t, -15.f, 15.f), ycpu(xs.size());
      softmax(xs.data(), s, 1, ycpu.data(), pool);
      auto dxs = to_device(xs);
      cuda::DeviceArray<float> dy(xs.size());
      cuda::softmax_cuda(dxs.get(), s, 1, dy.get(), nullptr);
      INFO("softmax outer " << outer << " len " << len << " inner " << inner);
      CHECK(exact_equal(to_host(dy), ycpu));
      // In place.
      cuda::softmax_cuda(dxs.get(), s, 1, dxs.get(), nullptr);
      CHECK(exact_equal(to_host(dxs), ycpu));
    }
  }
}

TEST_CASE("gpu: MatMul: the built-in kernel gives the CPU's bits, cuBLAS is within NMSE 1e-10", "[cuda][gpu][matmul]") {
  FX_REQUIRE_CUDA_DEVICE();
  std::string why;
  if (!cuda::cublas_available(&why)) WARN("cuBLAS not loaded (" << why << "): only the built-in kernel is tested");
  ThreadPool pool(1);
  std::mt19937 rng(46);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  struct MM {
    Shape a, b, y;
  };
  std::vector<MM> cases = {{Shape{1, 2, 400, 32}, Shape{1, 2, 32, 400}, Shape{1, 2, 400, 400}},
                           {Shape{1, 2, 64, 400}, Shape{1, 2, 400, 400}, Shape{1, 2, 64, 400}},
                           {Shape{3, 1, 5, 6}, Shape{1, 4, 6, 7}, Shape{3, 4, 5, 7}},
                           {Shape{5, 6}, Shape{6, 7}, Shape{5, 7}},
                           {Shape{2, 3, 17, 1}, Shape{1, 9}, Shape{2, 3, 17, 9}}};
  for (int t = 0; t < 30; ++t) {
    const int m = pick(1, 70), k = pick(1, 90), n = pick(1, 70), b0 = pick(1, 3), b1 = pick(1, 3);
    cases.push_back({Shape{b0, b1, m, k}, Shape{pick(0, 1) ? b1 : 1, k, n}, Shape{b0, b1, m, n}});
  }
  cuda::MatmulCuda blas(true), builtin(false);
  for (const MM& c : cases) {
    std::vector<float> a = random_vector(static_cast<size_t>(c.a.numel()), 1 + c.a.numel()),
                       b = random_vector(static_cast<size_t>(c.b.numel()), 2 + c.b.numel());
    std::vector<float> cpu(static_cast<size_t>(c.y.numel()));
    matmul(a.data(), c.a, b.data(), c.b, cpu.data(), c.y, pool);
    auto da = to_device(a), db = to_device(b);
    for (const cuda::MatmulCuda* mm : {&blas, &builtin}) {
      cuda::DeviceArray<float> dy(cpu.size());
      mm->run(da.get(), c.a, db.get(), c.b, dy.get(), c.y, nullptr);
      const std::vector<float> y = to_host(dy);
      INFO("cublas " << mm->uses_cublas() << " out " << c.y.d[c.y.rank - 2] << "x" << c.y.d[c.y.rank - 1]);
      CHECK(nmse(y.data(), cpu.data(), y.size()) <= 1e-10);
      if (!mm->uses_cublas()) CHECK(std::memcmp(y.data(), cpu.data(), y.size() * sizeof(float)) == 0);
      CHECK(all_finite(y.data(), y.size()));
    }
  }
}

TEST_CASE("gpu: the motion search gives MotionAligner's vectors, costs and flags", "[cuda][gpu][motion]") {
  FX_REQUIRE_CUDA_DEVICE();
  for (const MotionScenario& sc : motion_scenarios()) {
    MotionAligner al(sc.ref.w, sc.ref.h, sc.opt);
    const MotionField* prev = sc.use_prev ? &sc.prev : nullptr;
    MotionField cpu, gpu;
    al.estimate(sc.cur.px.data(), sc.ref.px.data(), prev, sc.hints, cpu);
    cuda::estimate_motion_cuda(sc.ref.w, sc.ref.h, sc.opt, sc.cur.px.data(), sc.ref.px.data(), prev, sc.hints, gpu);
    CHECK(field_mismatches(cpu, gpu) == 0);
  }
  // A window too large for shared memory takes the global-memory path.
  MotionScenario big{texture(256, 192, 99), Img(1, 1), {}, false, {}, {}};
  big.opt.window = 100;
  big.cur = shifted(big.ref, -40, 23, 98, 6);
  MotionAligner al(big.ref.w, big.ref.h, big.opt);
  MotionField cpu, gpu;
  al.estimate(big.cur.px.data(), big.ref.px.data(), nullptr, {}, cpu);
  cuda::estimate_motion_cuda(big.ref.w, big.ref.h, big.opt, big.cur.px.data(), big.ref.px.data(), nullptr, {}, gpu);
  CHECK(field_mismatches(cpu, gpu) == 0);
  // A block too large for shared memory (128 px: 48 KiB of RGB) is read in place.
  MotionScenario wide{texture(384, 256, 97), Img(1, 1), {}, false, {}, {}};
  wide.opt.block = 128;
  wide.cur = shifted(wide.ref, 8, -5, 96, 6);
  MotionAligner al_wide(wide.ref.w, wide.ref.h, wide.opt);
  MotionField cpu_wide, gpu_wide;
  al_wide.estimate(wide.cur.px.data(), wide.ref.px.data(), nullptr, {}, cpu_wide);
  cuda::estimate_motion_cuda(wide.ref.w, wide.ref.h, wide.opt, wide.cur.px.data(), wide.ref.px.data(), nullptr, {},
                             gpu_wide);
  CHECK(field_mismatches(cpu_wide, gpu_wide) == 0);
}

#endif  // FLUXSHARD_HAVE_CUDA
