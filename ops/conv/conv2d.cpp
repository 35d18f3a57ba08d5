// Conv2d: the ISA-independent driver.
//
// GEMM form per group: M = output positions, N = output channels (contiguous in NHWC), K = kh * kw *
// cin_g in (ky, kx, ci) order. Positions are cut into chunks of MB; a chunk's A matrix is either the
// input pixels themselves (1x1, no padding: rows evenly spaced in memory) or im2col rows built into the
// workspace (zeros for padding taps, which still take their fma). Weights are packed at construction
// into panels of 1-4 vectors (AVX-512, NEON; 1-3 for AVX2), which the micro-kernels sweep row block by row
// block, each accumulator lane being one output element's fma chain from its bias. Outputs of at most
// W / 2 channels (AVX-512) use pair kernels: two positions per vector. Panels too big for L2 are split
// into K blocks whose partial sums are carried through a per-thread tile (never summed separately).
// Depthwise convolutions (cin_g = cout_g = 1) have their own kernel, vectorised over channels.
// The split into chunks, panels and threads never changes a bit.
#include <algorithm>
#include <atomic>
#include <numeric>
#include <stdexcept>

#include "ops/conv/conv.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/conv_internal.h"

namespace fx {
namespace conv_detail {

const ConvIsaOps& conv_ops(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  const CpuFeatures& f = cpu_features();
  if (isa == CpuIsa::Avx512 && f.avx512) return conv_ops_avx512();
  if ((isa == CpuIsa::Avx512 || isa == CpuIsa::Avx2) && f.avx2_fma) return conv_ops_avx2();
#elif defined(__aarch64__) && defined(__ARM_NEON)
  if (isa == CpuIsa::Neon && cpu_features().neon) return conv_ops_neon();
#endif
  (void)isa;
  return conv_ops_generic();
}

void apply_activation_isa(CpuIsa isa, Act act, float* x, int n) {
  if (act == Act::None || n <= 0) return;
  conv_ops(isa).activation(act, x, n);
}

}  // namespace conv_detail

void apply_activation(Act act, float* x, int n) {
  if (act == Act::None || n <= 0) return;
  static const conv_detail::ConvIsaOps& ops = conv_detail::conv_ops(best_isa());
  ops.activation(act, x, n);
}

namespace conv_detail {
namespace {
// Blocking, read when a Conv2d is constructed (tests and benchmarks may change it):
//  - the bytes of one K block of a weight panel. Streaming a whole panel from L2 beats K blocking on
//    Sapphire Rapids for every YOLO layer (the carry costs a tile store and reload per block), so only
//    panels over 1 MiB are blocked;
//  - the bytes of one chunk's packed A matrix (it stays in L2 while every panel passes over it);
//  - the most positions in one chunk.
std::atomic<long> g_k_block_bytes{1024 * 1024};
std::atomic<long> g_a_chunk_bytes{96 * 1024};
constexpr long kMbMax = 192;
}  // namespace

void set_conv_blocking(long k_block_bytes, long a_chunk_bytes) {
  g_k_block_bytes = k_block_bytes > 0 ? k_block_bytes : 1024 * 1024;
  g_a_chunk_bytes = a_chunk_bytes > 0 ? a_chunk_bytes : 96 * 1024;
}

}  // namespace conv_detail

using namespace conv_detail;

struct Conv2d::Impl {
  enum class Mode { Gemm, Depthwise };
  const ConvIsaOps* ops = nullptr;
  Mode mode = Mode::Gemm;
  bool direct = false;  // 1x1, no padding: A rows are input pixels
  bool pair = false;    // narrow output: pair kernels (ConvIsaOps::gemm_pair)
  int cin_g = 0, cout_g = 0;
  int K = 0;
  int64_t lda = 0;  // packed A row stride
  std::vector<Panel> panels;
  std::vector<int64_t> b_off;     // [group][panel] offset into B
  std::vector<int64_t> bias_off;  // [group][panel] offset into bias
  std::vector<int> kb;            // [panel] K block length
  AlignedFloats B, bias;
  int MB = 0;       // largest chunk of positions (the workspace holds this many rows)
  int mb_unit = 1;  // chunks are multiples of this (every panel's row count divides it)
  int nr_max = 0;
  // Workspace layout (bytes).
  size_t off_a = 0, off_a2 = 0, off_tile = 0, off_c = 0, off_r = 0, off_oy = 0, off_ox = 0, ws_bytes = 0;
  // Depthwise.
  int cpad = 0;
  size_t off_zero = 0, off_ptrs = 0, off_offs = 0;
};

Conv2d::Conv2d(const ConvParams& p, const float* weight_oihw, const float* bias, CpuIsa isa)
    : p_(p), impl_(std::make_unique<Impl>()) {
  if (p.group < 1 || p.cin % p.group != 0 || p.cout % p.group != 0 || p.kh < 1 || p.kw < 1 || p.sh < 1 ||
      p.sw < 1 || p.dh < 1 || p.dw < 1 || p.cin < 1 || p.cout < 1)
    throw std::invalid_argument("Conv2d: bad parameters");
  Impl& I = *impl_;
  I.ops = &conv_ops(isa);
  const ConvIsaOps& ops = *I.ops;
  const int W = ops.W;
  I.cin_g = p.cin / p.group;
  I.cout_g = p.cout / p.group;
  const int taps = p.kh * p.kw;
  I.K = taps * I.cin_g;

  if (I.cin_g == 1 && I.cout_g == 1) {
    I.mode = Impl::Mode::Depthwise;
    const int C = p.cout;
    I.cpad = (C + W - 1) / W * W;
    I.B = AlignedFloats(static_cast<size_t>(taps) * I.cpad);
    I.bias = AlignedFloats(static_cast<size_t>(I.cpad));
    for (int c = 0; c < C; ++c) {
      for (int t = 0; t < taps; ++t)
        I.B.data()[static_cast<size_t>(t) * I.cpad + c] = weight_oihw[static_cast<size_t>(c) * taps + t];
      if (bias) I.bias.data()[c] = bias[c];
    }
    size_t off = 0;
    I.off_zero = off;
    off = align64(off + sizeof(float) * I.cpad);
    I.off_ptrs = off;
    off = align64(off + sizeof(float*) * kDwPixels * taps);
    I.off_offs = off;
    off = align64(off + sizeof(int64_t) * taps);
    I.ws_bytes = off;
    return;
  }

  I.mode = Impl::Mode::Gemm;
  I.direct = p.kh == 1 && p.kw == 1 && p.pad_t == 0 && p.pad_l == 0 && p.pad_b == 0 && p.pad_r == 0;
  I.pair = ops.pair_mr > 0 && 2 * I.cout_g <= W;
  if (I.pair) {
    Panel pn;
    pn.n = I.cout_g;
    pn.nv = 1;
    I.panels.push_back(pn);
  } else {
    I.panels = make_panels(I.cout_g, W, ops.nv_max);
  }
  const int np = static_cast<int>(I.panels.size());
  int64_t btotal = 0, biastotal = 0;
  for (int g = 0; g < p.group; ++g)
    for (const Panel& pn : I.panels) {
      I.b_off.push_back(btotal);
      I.bias_off.push_back(biastotal);
      btotal += static_cast<int64_t>(I.K) * pn.nv * W;
      biastotal += pn.nv * W;
    }
  I.B = AlignedFloats(static_cast<size_t>(btotal));
  I.bias = AlignedFloats(static_cast<size_t>(biastotal));
  // B[k][j] for k = (ky * kw + kx) * cin_g + ci, j = column within the panel.
  for (int g = 0; g < p.group; ++g)
    for (int pi = 0; pi < np; ++pi) {
      const Panel& pn = I.panels[pi];
      const int NR = pn.nv * W;
      float* dst = I.B.data() + I.b_off[g * np + pi];
      float* bdst = I.bias.data() + I.bias_off[g * np + pi];
      // Column j of the panel sits in lane j, or in lanes 2j and 2j + 1 for pair kernels.
      const int copies = I.pair ? 2 : 1;
      for (int j = 0; j < pn.n; ++j) {
        const int co = g * I.cout_g + pn.n0 + j;
        for (int r = 0; r < copies; ++r) {
          const int lane = j * copies + r;
          if (bias) bdst[lane] = bias[co];
          for (int ci = 0; ci < I.cin_g; ++ci)
            for (int t = 0; t < taps; ++t) {
              const int k = t * I.cin_g + ci;
              dst[static_cast<int64_t>(k) * NR + lane] =
                  weight_oihw[(static_cast<int64_t>(co) * I.cin_g + ci) * taps + t];
            }
        }
      }
    }

  // Blocking.
  const long l1 = g_k_block_bytes.load();
  const long abud = g_a_chunk_bytes.load();
  const long mbmax = kMbMax;
  I.nr_max = 0;
  int lcm = 1;
  for (const Panel& pn : I.panels) {
    const int NR = pn.nv * W;
    I.nr_max = std::max(I.nr_max, NR);
    int kbl = static_cast<int>(std::max<long>(16, l1 / (NR * 4)));
    const int nkb = (I.K + kbl - 1) / kbl;
    I.kb.push_back((I.K + nkb - 1) / nkb);
    const int mr = I.pair ? ops.pair_mr : ops.mr[pn.nv];
    lcm = std::lcm(lcm, mr);
  }
  I.lda = (I.K + W - 1) / W * W;
  long mb = abud / (I.lda * 4);
  mb = std::min(mb, mbmax);
  mb = std::max<long>(lcm, mb / lcm * lcm);
  I.MB = static_cast<int>(mb);
  I.mb_unit = lcm;

  size_t off = 0;
  I.off_a = off;
  off = align64(off + sizeof(float) * (static_cast<size_t>(I.MB) * I.lda + W));  // + W: im2col's overrun
  I.off_a2 = off;
  if (I.pair) off = align64(off + sizeof(float) * static_cast<size_t>(I.MB + 2) * I.lda);
  I.off_tile = off;
  off = align64(off + sizeof(float) * static_cast<size_t>(I.MB) * I.nr_max);
  I.off_c = off;
  off = align64(off + sizeof(float*) * I.MB);
  I.off_r = off;
  off = align64(off + sizeof(float*) * I.MB);
  I.off_oy = off;
  off = align64(off + sizeof(int) * I.MB);
  I.off_ox = off;
  off = align64(off + sizeof(int) * I.MB);
  I.ws_bytes = off;
}

Conv2d::~Conv2d() = default;
Conv2d::Conv2d(Conv2d&&) noexcept = default;
Conv2d& Conv2d::operator=(Conv2d&&) noexcept = default;

size_t Conv2d::workspace_bytes() const { return impl_->ws_bytes; }

void Conv2d::run(const MapView& in, const MapView& out, const MapView* residual, SpanList spans,
                 ThreadPool& pool, const Workspace& ws) const {
  const Impl& I = *impl_;
  const ConvParams& p = p_;
  const ConvIsaOps& ops = *I.ops;
  const int64_t P = spans.positions;
  if (P <= 0) return;
  const int threads = pool.size();

  if (I.mode == Impl::Mode::Depthwise) {
    const TaskSplit split(spans, 64, threads);
    DwArgs base;
    base.in = in;
    base.out = out;
    base.residual = residual;
    base.w = I.B.data();
    base.bias = I.bias.data();
    base.c = p.cout;
    base.cpad = I.cpad;
    base.kh = p.kh, base.kw = p.kw, base.sh = p.sh, base.sw = p.sw;
    base.pad_t = p.pad_t, base.pad_l = p.pad_l, base.dh = p.dh, base.dw = p.dw;
    base.act = p.act;
    pool.run(split.tasks(), [&](int64_t task, int thread) {
      const int64_t p0 = split.begin(static_cast<int>(task)), p1 = split.end(static_cast<int>(task));
      char* wsb = reinterpret_cast<char*>(ws.get(thread));
      DwArgs a = base;
      float* zeros = reinterpret_cast<float*>(wsb + I.off_zero);
      std::fill(zeros, zeros + I.cpad, 0.0f);
      a.zeros = zeros;
      a.ptrs = reinterpret_cast<const float**>(wsb + I.off_ptrs);
      a.offs = reinterpret_cast<int64_t*>(wsb + I.off_offs);
      SpanCursor cur = split.cursor(static_cast<int>(task));
      for (int64_t pos = p0; pos < p1;) {
        int y, x0, x1;
        cur.next_run(p1 - pos, y, x0, x1);
        ops.depthwise(a, y, x0, x1);
        pos += x1 - x0;
      }
    });
    return;
  }

  // Chunks: at most I.MB positions, small enough that every thread gets several (load balance).
  int MB = I.MB;
  if (threads > 1) {
    const int64_t want = (P + threads * 8 - 1) / (threads * 8);
    const int64_t unit = I.mb_unit;
    MB = static_cast<int>(std::min<int64_t>(MB, std::max<int64_t>(unit, (want + unit - 1) / unit * unit)));
  }
  const TaskSplit split(spans, MB, threads);
  const int np = static_cast<int>(I.panels.size());
  const int W = ops.W;
  // The 1x1 fast path reads input pixels directly; it needs every output position to map inside `in`.
  const bool direct = I.direct && (out.h - 1) * p.sh < in.h && (out.w - 1) * p.sw < in.w;
  const int64_t ps = in.pixel_stride;

  pool.run(split.tasks(), [&](int64_t task, int thread) {
    const int64_t p_begin = split.begin(static_cast<int>(task)), p_end = split.end(static_cast<int>(task));
    char* wsb = reinterpret_cast<char*>(ws.get(thread));
    float* abuf = reinterpret_cast<float*>(wsb + I.off_a);
    float* tile = reinterpret_cast<float*>(wsb + I.off_tile);
    float** cptr = reinterpret_cast<float**>(wsb + I.off_c);
    const float** rptr = reinterpret_cast<const float**>(wsb + I.off_r);
    int* oy = reinterpret_cast<int*>(wsb + I.off_oy);
    int* ox = reinterpret_cast<int*>(wsb + I.off_ox);
    SpanCursor cur = split.cursor(static_cast<int>(task));

    Im2colArgs ia;
    ia.in = in;
    ia.cin = I.cin_g;
    ia.kh = p.kh, ia.kw = p.kw, ia.sh = p.sh, ia.sw = p.sw;
    ia.pad_t = p.pad_t, ia.pad_l = p.pad_l, ia.dh = p.dh, ia.dw = p.dw;
    ia.oy = oy;
    ia.ox = ox;
    ia.dst = abuf;
    ia.lda = I.lda;

    GemmArgs ga;
    ga.act = p.act;

    for (int64_t pos = p_begin; pos < p_end; pos += MB) {
      const int mb = static_cast<int>(std::min<int64_t>(MB, p_end - pos));
      for (int i = 0; i < mb;) {
        int y, x0, x1;
        cur.next_run(mb - i, y, x0, x1);
        float* o = out.at(y, x0);
        const float* r = residual ? residual->at(y, x0) : nullptr;
        for (int x = x0; x < x1; ++x, ++i) {
          oy[i] = y;
          ox[i] = x;
          cptr[i] = o;
          o += out.pixel_stride;
          if (r) {
            rptr[i] = r;
            r += residual->pixel_stride;
          }
        }
      }
      // Direct A when the chunk's input pixels are evenly spaced.
      bool uniform = false;
      const float* a0 = nullptr;
      int64_t a_stride = 0;
      if (direct) {
        a0 = in.at(oy[0] * p.sh, ox[0] * p.sw);
        a_stride = ps * p.sw;
        uniform = true;
        for (int i = 1; i < mb && uniform; ++i) uniform = in.at(oy[i] * p.sh, ox[i] * p.sw) == a0 + i * a_stride;
      }
      ia.rows = mb;
      for (int g = 0; g < p.group; ++g) {
        if (I.pair) {
          // Narrow output: position pairs interleaved (from the input pixels, or im2col'd), then one
          // panel of pair kernels.
          float* a2 = reinterpret_cast<float*>(wsb + I.off_a2);
          const int64_t lda2 = 2 * I.lda;
          if (uniform) {
            ops.interleave_pairs(a0 + g * I.cin_g, a_stride, I.K, mb, a2, lda2);
          } else {
            ia.c0 = g * I.cin_g;
            ops.im2col_pairs(ia, abuf, a2, lda2);
          }
          const Panel& pn = I.panels[0];
          const float* B = I.B.data() + I.b_off[g];
          ga.bias = I.bias.data() + I.bias_off[g];
          ga.lda = lda2;
          ga.ldt = W;
          ga.c_off = g * I.cout_g;
          ga.r_off = ga.c_off;
          ga.n_valid = pn.n;
          const int mr = ops.pair_mr;
          const int kbl = I.kb[0];
          for (int k0 = 0; k0 < I.K; k0 += kbl) {
            ga.k = std::min(kbl, I.K - k0);
            ga.first = k0 == 0;
            ga.last = k0 + kbl >= I.K;
            ga.b = B + static_cast<int64_t>(k0) * W;
            for (int m0 = 0; m0 < mb; m0 += mr) {
              ga.rows = std::min(mr, mb - m0);
              ga.a = a2 + (m0 / 2) * lda2 + 2 * k0;
              ga.tile = tile + (m0 / 2) * W;
              ga.c = cptr + m0;
              ga.r = residual ? rptr + m0 : nullptr;
              ops.gemm_pair[(ga.rows + 1) / 2](ga);
            }
          }
          continue;
        }
        const float* A;
        int64_t lda;
        if (uniform) {
          A = a0 + g * I.cin_g;
          lda = a_stride;
        } else {
          ia.c0 = g * I.cin_g;
          ops.im2col(ia);
          A = abuf;
          lda = I.lda;
        }
        ga.lda = lda;
        for (int pi = 0; pi < np; ++pi) {
          const Panel& pn = I.panels[pi];
          const int NR = pn.nv * W;
          const int mr = ops.mr[pn.nv];
          const float* B = I.B.data() + I.b_off[g * np + pi];
          ga.bias = I.bias.data() + I.bias_off[g * np + pi];
          ga.ldt = NR;
          ga.c_off = g * I.cout_g + pn.n0;
          ga.r_off = ga.c_off;
          ga.n_valid = pn.n;
          const int kbl = I.kb[pi];
          for (int k0 = 0; k0 < I.K; k0 += kbl) {
            ga.k = std::min(kbl, I.K - k0);
            ga.first = k0 == 0;
            ga.last = k0 + kbl >= I.K;
            ga.b = B + static_cast<int64_t>(k0) * NR;
            for (int m0 = 0; m0 < mb; m0 += mr) {
              const int rows = std::min(mr, mb - m0);
              ga.a = A + m0 * lda + k0;
              ga.tile = tile + m0 * NR;
              ga.c = cptr + m0;
              ga.r = residual ? rptr + m0 : nullptr;
              ops.gemm[pn.nv][rows](ga);
            }
          }
        }
      }
    }
  });
}

}  // namespace fx
