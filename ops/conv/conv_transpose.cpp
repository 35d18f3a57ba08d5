// ConvTranspose2d in gather form. An output position (oy, ox) receives, in (ky, kx, ci) order, the
// input pixels (iy, ix) with oy = iy * sh - pad_t + ky * dh (same for x). Along a row, positions
// ox, ox + sw, ox + 2 sw, ... with the same set of valid kx read consecutive input pixels, so such a
// run is a small GEMM per valid tap: A = input pixels (read in place), B = the tap's [cin_g][cout_g]
// weights, chained tap after tap through the carry tile. kernel 2 / stride 2 / pad 0 (YOLO11-seg) is
// one tap per position: a plain per-pixel GEMM.
#include <algorithm>
#include <stdexcept>

#include "ops/conv/conv.h"
#include "ops/conv/conv_common.h"
#include "ops/conv/conv_internal.h"

namespace fx {

using namespace conv_detail;

namespace {
constexpr int kRun = 96;  // longest run of positions handled at once
constexpr int kMaxK = 64; // kernel extent limit (taps are tracked in 64-bit masks)
}  // namespace

struct ConvTranspose2d::Impl {
  const ConvIsaOps* ops = nullptr;
  int cin_g = 0, cout_g = 0;
  std::vector<Panel> panels;
  std::vector<int64_t> b_off;     // [group][tap][panel]
  std::vector<int64_t> bias_off;  // [group][panel]
  AlignedFloats B, bias;
  size_t off_c = 0, off_tile = 0, ws_bytes = 0;
};

ConvTranspose2d::ConvTranspose2d(const ConvTransposeParams& p, const float* weight, const float* bias,
                                 CpuIsa isa)
    : p_(p), impl_(std::make_unique<Impl>()) {
  if (p.group < 1 || p.cin % p.group != 0 || p.cout % p.group != 0 || p.kh < 1 || p.kw < 1 || p.sh < 1 ||
      p.sw < 1 || p.dh < 1 || p.dw < 1 || p.cin < 1 || p.cout < 1 || p.kh > kMaxK || p.kw > kMaxK)
    throw std::invalid_argument("ConvTranspose2d: bad parameters");
  Impl& I = *impl_;
  I.ops = &conv_ops(isa);
  const int W = I.ops->W;
  I.cin_g = p.cin / p.group;
  I.cout_g = p.cout / p.group;
  const int taps = p.kh * p.kw;
  I.panels = make_panels(I.cout_g, W, I.ops->nv_max);
  const int np = static_cast<int>(I.panels.size());
  int64_t bt = 0, biast = 0;
  int nr_max = 0, mr_max = 0;
  for (int g = 0; g < p.group; ++g) {
    for (int t = 0; t < taps; ++t)
      for (const Panel& pn : I.panels) {
        I.b_off.push_back(bt);
        bt += static_cast<int64_t>(I.cin_g) * pn.nv * W;
      }
    for (const Panel& pn : I.panels) {
      I.bias_off.push_back(biast);
      biast += pn.nv * W;
      nr_max = std::max(nr_max, pn.nv * W);
      mr_max = std::max(mr_max, I.ops->mr[pn.nv]);
    }
  }
  I.B = AlignedFloats(static_cast<size_t>(bt));
  I.bias = AlignedFloats(static_cast<size_t>(biast));
  for (int g = 0; g < p.group; ++g)
    for (int pi = 0; pi < np; ++pi) {
      const Panel& pn = I.panels[pi];
      const int NR = pn.nv * W;
      for (int j = 0; j < pn.n; ++j) {
        const int col = pn.n0 + j;
        if (bias) I.bias.data()[I.bias_off[g * np + pi] + j] = bias[g * I.cout_g + col];
        for (int t = 0; t < taps; ++t) {
          float* dst = I.B.data() + I.b_off[(static_cast<size_t>(g) * taps + t) * np + pi];
          for (int ci = 0; ci < I.cin_g; ++ci) {
            const int64_t cig = static_cast<int64_t>(g) * I.cin_g + ci;
            dst[static_cast<int64_t>(ci) * NR + j] = weight[(cig * I.cout_g + col) * taps + t];
          }
        }
      }
    }
  size_t off = 0;
  I.off_c = off;
  off = align64(off + sizeof(float*) * kRun);
  I.off_tile = off;
  off = align64(off + sizeof(float) * static_cast<size_t>(mr_max) * nr_max);
  I.ws_bytes = off;
}

ConvTranspose2d::~ConvTranspose2d() = default;
ConvTranspose2d::ConvTranspose2d(ConvTranspose2d&&) noexcept = default;
ConvTranspose2d& ConvTranspose2d::operator=(ConvTranspose2d&&) noexcept = default;

size_t ConvTranspose2d::workspace_bytes() const { return impl_->ws_bytes; }

void ConvTranspose2d::run(const MapView& in, const MapView& out, SpanList spans, ThreadPool& pool,
                          const Workspace& ws) const {
  const Impl& I = *impl_;
  const ConvTransposeParams& p = p_;
  const ConvIsaOps& ops = *I.ops;
  const int64_t P = spans.positions;
  if (P <= 0) return;
  constexpr int64_t kChunk = 128;
  const int threads = pool.size();
  const TaskSplit split(spans, kChunk, threads);
  const int np = static_cast<int>(I.panels.size());
  const int W = ops.W;
  const int taps = p.kh * p.kw;
  const int64_t ps = in.pixel_stride;

  auto kx_mask = [&](int ox) {
    uint64_t m = 0;
    for (int kx = 0; kx < p.kw; ++kx) {
      const int nx = ox + p.pad_l - kx * p.dw;
      if (nx >= 0 && nx % p.sw == 0 && nx / p.sw < in.w) m |= uint64_t{1} << kx;
    }
    return m;
  };

  pool.run(split.tasks(), [&](int64_t task, int thread) {
    const int64_t p0 = split.begin(static_cast<int>(task)), p1 = split.end(static_cast<int>(task));
    char* wsb = reinterpret_cast<char*>(ws.get(thread));
    float** cptr = reinterpret_cast<float**>(wsb + I.off_c);
    float* tile = reinterpret_cast<float*>(wsb + I.off_tile);
    SpanCursor cur = split.cursor(static_cast<int>(task));
    GemmArgs ga;
    ga.act = p.act;
    ga.lda = ps;
    ga.k = I.cin_g;

    // One run: M positions (y, start + m * sw) sharing the valid taps (kys x kx_mask).
    int kys[kMaxK], iys[kMaxK];
    auto flush = [&](int y, int start, int M, uint64_t mask, int nky) {
      for (int m = 0; m < M; ++m) cptr[m] = out.at(y, start + m * p.sw);
      const int ntaps = nky * __builtin_popcountll(mask);
      for (int g = 0; g < p.group; ++g)
        for (int pi = 0; pi < np; ++pi) {
          const Panel& pn = I.panels[pi];
          const int NR = pn.nv * W;
          const int mr = ops.mr[pn.nv];
          ga.bias = I.bias.data() + I.bias_off[g * np + pi];
          ga.ldt = NR;
          ga.c_off = g * I.cout_g + pn.n0;
          ga.n_valid = pn.n;
          ga.tile = tile;
          for (int m0 = 0; m0 < M; m0 += mr) {
            const int rows = std::min(mr, M - m0);
            ga.c = cptr + m0;
            if (ntaps == 0) {
              ga.k = 0;
              ga.a = nullptr;
              ga.b = nullptr;
              ga.first = ga.last = true;
              ops.gemm[pn.nv][rows](ga);
              ga.k = I.cin_g;
              continue;
            }
            int ti = 0;
            for (int yi = 0; yi < nky; ++yi)
              for (int kx = 0; kx < p.kw; ++kx) {
                if (!(mask >> kx & 1)) continue;
                const int ix = (start + p.pad_l - kx * p.dw) / p.sw + m0;
                const int t = kys[yi] * p.kw + kx;
                ga.a = in.at(iys[yi], ix) + g * I.cin_g;
                ga.b = I.B.data() + I.b_off[(static_cast<size_t>(g) * taps + t) * np + pi];
                ga.first = ti == 0;
                ga.last = ti == ntaps - 1;
                ops.gemm[pn.nv][rows](ga);
                ++ti;
              }
          }
        }
    };

    for (int64_t pos = p0; pos < p1;) {
      int y, x0, x1;
      cur.next_run(p1 - pos, y, x0, x1);
      pos += x1 - x0;
      int nky = 0;
      for (int ky = 0; ky < p.kh; ++ky) {
        const int ny = y + p.pad_t - ky * p.dh;
        if (ny >= 0 && ny % p.sh == 0 && ny / p.sh < in.h) {
          kys[nky] = ky;
          iys[nky] = ny / p.sh;
          ++nky;
        }
      }
      for (int r = 0; r < p.sw && x0 + r < x1; ++r) {
        int ox = x0 + r;
        while (ox < x1) {
          const uint64_t mask = kx_mask(ox);
          const int start = ox;
          int M = 1;
          ox += p.sw;
          while (ox < x1 && M < kRun && kx_mask(ox) == mask) {
            ++M;
            ox += p.sw;
          }
          flush(y, start, M, nky == 0 ? 0 : mask, nky);
        }
      }
    }
  });
}

}  // namespace fx
