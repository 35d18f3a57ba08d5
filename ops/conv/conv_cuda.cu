// CUDA convolution kernels (see conv_cuda.h for the paths and the exactness argument).
#include "ops/conv/conv_cuda.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

namespace fx::cuda {

namespace {

struct ConvArgs {
  MapView in, out, res;
  bool has_res;
  PosList pos;
  int cin_g, cout_g, K;
  int kh, kw, sh, sw, pad_t, pad_l, dh, dw;
  int act;
  const float* w32;  // [group][kpad][ldb]
  const int4* ktab;  // fp32 GEMM: (dy, dx, ci) of each k, kpad entries
  const __half* w16; // [group][kpad][ldb]
  const float* bias; // cout floats or null
  int ldb, kpad;
  bool vec4;         // the input gather may read channel quads as float4 (see gather_a)
};

// The window origin (iy0, ix0) of each of a block tile's `rows` rows (positions m0, m0 + 1, ...) into
// shared memory, for both GEMM kernels; past the last position iy0 = INT_MIN / 2, so that every tap of
// that row reads as padding. The caller synchronises before reading.
__device__ __forceinline__ void load_row_origins(const ConvArgs& a, int64_t m0, int rows, int threads, int* s_iy,
                                                 int* s_ix) {
  for (int r = threadIdx.x; r < rows; r += threads) {
    const int64_t m = m0 + r;
    int y = -1, x = 0;
    if (m < a.pos.positions) locate(a.pos, m, y, x);
    s_iy[r] = y < 0 ? INT_MIN / 2 : y * a.sh - a.pad_t;
    s_ix[r] = x * a.sw - a.pad_l;
  }
}

// The A tile's gather (the im2col values of one k tile) by the GEMM kernels: each of T threads holds N
// values. Scalar form: column tid % BK of rows tid / BK + (T / BK) r. Quad form (a.vec4: the group's
// channels, the pixel stride and the map's address are multiples of 4 floats, so k .. k + 3 from a
// multiple of 4 are one tap's consecutive channels): columns 4 (tid % (BK / 4)) + 0..3 of rows
// tid / (BK / 4) + (4 T / BK) q, one float4 load each. Values past K or outside the map are 0.
template <int BK, int T, int N>
struct AGather {
  static_assert(T % BK == 0 && N % 4 == 0, "gather shape");
  __device__ static int row(int tid, int r, bool vec4) {
    return vec4 ? tid / (BK / 4) + (4 * T / BK) * (r / 4) : tid / BK + (T / BK) * r;
  }
  __device__ static int col(int tid, int r, bool vec4) { return vec4 ? 4 * (tid % (BK / 4)) + r % 4 : tid % BK; }
  // The (dy, dx, ci) of this thread's first column in the tile at k0; fetch() loads the next tile's in
  // advance, so that the gather's addresses never wait for a table load.
  __device__ static int4 term(const ConvArgs& a, int k0) {
    const int k = k0 + col(threadIdx.x, 0, a.vec4);
    return k < a.kpad ? a.ktab[k] : make_int4(0, 0, 0, 0);
  }
  __device__ static void fetch(const ConvArgs& a, const float* in_g, const int* s_iy, const int* s_ix, int k0,
                               float* ra, int4& t) {
    const int tid = threadIdx.x;
    const int k = k0 + col(tid, 0, a.vec4);
    const int4 cur = t;
    t = term(a, k0 + BK);
    if (a.vec4) {
#pragma unroll
      for (int q = 0; q < N / 4; ++q) {
        const int mm = row(tid, 4 * q, true);
        const int iy = s_iy[mm] + cur.x, ix = s_ix[mm] + cur.y;
        float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
        if (k < a.K && iy >= 0 && iy < a.in.h && ix >= 0 && ix < a.in.w)
          v = *reinterpret_cast<const float4*>(in_g + pixel_offset(iy, ix, a.in.w, a.in.pixel_stride) + cur.z);
        ra[4 * q] = v.x, ra[4 * q + 1] = v.y, ra[4 * q + 2] = v.z, ra[4 * q + 3] = v.w;
      }
    } else {
#pragma unroll
      for (int r = 0; r < N; ++r) {
        const int mm = row(tid, r, false);
        const int iy = s_iy[mm] + cur.x, ix = s_ix[mm] + cur.y;
        ra[r] = (k < a.K && iy >= 0 && iy < a.in.h && ix >= 0 && ix < a.in.w)
                    ? in_g[pixel_offset(iy, ix, a.in.w, a.in.pixel_stride) + cur.z]
                    : 0.0f;
      }
    }
  }
};

// ---------------------------------------------------------------------------------------------------
// fp32 implicit GEMM, exact. 256 threads as 16 x 16; a block tile of BM positions x BN channels (each a
// multiple of 16 up to 128, chosen per launch by pick_tile), so each thread owns TM = BM / 16
// positions x TN = BN / 16 channels. k tiles of BK (16 to 64), double buffered in shared memory: the next tile's
// global loads are issued into registers before the current tile is multiplied. Every output's fma
// chain still runs from its bias through k = 0 .. K-1 in order.
//
// Thread t's rows are (ty + 16 q) * VA + i (VA = min(TM, 4) consecutive rows per group q) and its
// columns likewise, so one vector load from shared memory feeds VA (VB) rows (columns) and a warp's
// loads of B are contiguous.

constexpr int kF32Threads = 256, kF32Pad = 4;

template <int V>
struct VecOf;
template <>
struct VecOf<1> {
  using T = float;
};
template <>
struct VecOf<2> {
  using T = float2;
};
template <>
struct VecOf<4> {
  using T = float4;
};

template <int V>
__device__ __forceinline__ void load_vec(const float* p, float* dst) {
  const typename VecOf<V>::T v = *reinterpret_cast<const typename VecOf<V>::T*>(p);
  const float* f = reinterpret_cast<const float*>(&v);
#pragma unroll
  for (int i = 0; i < V; ++i) dst[i] = f[i];
}

// The 128 x 128 tile's 64 accumulators would take about 140 registers, one block per multiprocessor:
// capped at 128 so that two blocks hide each other's latency. Smaller tiles choose their own.
template <int BM, int BN>
constexpr int f32_min_blocks() {
  return BM * BN >= 128 * 128 ? 2 : 1;
}

template <int BM, int BN, int BK>
__global__ void __launch_bounds__(kF32Threads, f32_min_blocks<BM, BN>()) conv_gemm_f32_kernel(ConvArgs a) {
  static_assert(kF32Threads % BK == 0 && BM * BK % kF32Threads == 0, "tile shape");
  constexpr int TM = BM / 16, TN = BN / 16;
  constexpr int VA = TM < 4 ? TM : 4, VB = TN < 4 ? TN : 4;
  constexpr int LDA = BM + kF32Pad, LDB = BN + kF32Pad;
  constexpr int A_LOADS = BM * BK / kF32Threads;  // per thread (AGather)
  constexpr int B_ELEMS = BK * BN / kF32Threads;  // per thread, as B_ELEMS / VBL vectors
  constexpr int VBL = B_ELEMS < 4 ? B_ELEMS : 4;
  constexpr int B_LOADS = B_ELEMS / VBL;
  __shared__ __align__(16) float As[2][BK][LDA];
  __shared__ __align__(16) float Bs[2][BK][LDB];
  __shared__ int s_iy[BM], s_ix[BM];  // window origin of each row; s_iy = INT_MIN / 2 past the last position

  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int g = blockIdx.z;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int n0 = blockIdx.y * BN;

  load_row_origins(a, m0, BM, kF32Threads, s_iy, s_ix);
  float acc[TM][TN];
#pragma unroll
  for (int j = 0; j < TN; ++j) {
    const int n = n0 + (tx + (j / VB) * 16) * VB + j % VB;
    const float b = (a.bias && n < a.cout_g) ? a.bias[g * a.cout_g + n] : 0.0f;
#pragma unroll
    for (int i = 0; i < TM; ++i) acc[i][j] = b;
  }
  __syncthreads();

  const float* in_g = a.in.data + static_cast<int64_t>(g) * a.cin_g;
  const float* w_g = a.w32 + static_cast<int64_t>(g) * a.kpad * a.ldb;
  using Gather = AGather<BK, kF32Threads, A_LOADS>;
  float ra[A_LOADS], rb[B_LOADS][VBL];
  int4 next_term = Gather::term(a, 0);
  // Global -> registers: tile k0's A values (the im2col gather) and B vectors.
  auto fetch = [&](int k0) {
    Gather::fetch(a, in_g, s_iy, s_ix, k0, ra, next_term);
#pragma unroll
    for (int r = 0; r < B_LOADS; ++r) {
      const int e = (tid + r * kF32Threads) * VBL;
      const int kk = e / BN, nn = e % BN;
      load_vec<VBL>(w_g + static_cast<int64_t>(k0 + kk) * a.ldb + n0 + nn, rb[r]);
    }
  };
  auto stash = [&](int buf) {
#pragma unroll
    for (int r = 0; r < A_LOADS; ++r) As[buf][Gather::col(tid, r, a.vec4)][Gather::row(tid, r, a.vec4)] = ra[r];
#pragma unroll
    for (int r = 0; r < B_LOADS; ++r) {
      const int e = (tid + r * kF32Threads) * VBL;
#pragma unroll
      for (int v = 0; v < VBL; ++v) Bs[buf][e / BN][e % BN + v] = rb[r][v];
    }
  };

  fetch(0);
  stash(0);
  __syncthreads();
  const int tiles = (a.K + BK - 1) / BK;
  for (int t = 0; t < tiles; ++t) {
    const int buf = t & 1;
    if (t + 1 < tiles) fetch((t + 1) * BK);
    // One rank-1 update of the register tile from row kk of the shared tiles.
    auto step = [&](int kk) {
      float av[TM], bv[TN];
#pragma unroll
      for (int q = 0; q < TM / VA; ++q) load_vec<VA>(&As[buf][kk][(ty + 16 * q) * VA], av + q * VA);
#pragma unroll
      for (int q = 0; q < TN / VB; ++q) load_vec<VB>(&Bs[buf][kk][(tx + 16 * q) * VB], bv + q * VB);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fx_fma(av[i], bv[j], acc[i][j]);
    };
    // Only the k < K terms: an extra fma(0, 0, acc) would turn an accumulator of -0 into +0.
    const int kn = a.K - t * BK < BK ? a.K - t * BK : BK;
    if (kn == BK) {
#pragma unroll
      for (int kk = 0; kk < BK; ++kk) step(kk);  // a full tile: unrolled
    } else {
      for (int kk = 0; kk < kn; ++kk) step(kk);
    }
    if (t + 1 < tiles) stash(buf ^ 1);  // buf ^ 1 was last read before the previous barrier
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int mm = (ty + 16 * (i / VA)) * VA + i % VA;
    const int64_t m = m0 + mm;
    if (m >= a.pos.positions) continue;
    int oy, ox;
    locate(a.pos, m, oy, ox);
    float* o = a.out.data + pixel_offset(oy, ox, a.out.w, a.out.pixel_stride) + static_cast<int64_t>(g) * a.cout_g;
    const float* r = a.has_res ? a.res.data + pixel_offset(oy, ox, a.res.w, a.res.pixel_stride) +
                                     static_cast<int64_t>(g) * a.cout_g
                               : nullptr;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int n = n0 + (tx + (j / VB) * 16) * VB + j % VB;
      if (n >= a.cout_g) continue;
      float v = conv_activation(a.act, acc[i][j]);
      if (r) v = fx_add(v, r[n]);
      o[n] = v;
    }
  }
}

// A block tile of a GEMM kernel and what it costs: the relative rate of a full GPU of such blocks and the
// resident blocks per multiprocessor that rate needs.
struct TileCost {
  int bm, bn;
  double rate, blocks_per_sm;
};

// The tile for an M x N (x groups) problem: relative time = padding waste / (rate x fill), where fill is
// the share of the resident blocks the rate needs that the grid provides.
int pick_tile(const TileCost* tiles, int count, int64_t m, int n, int groups, int sms) {
  int best = 0;
  double best_cost = 1e300;
  for (int i = 0; i < count; ++i) {
    const TileCost& t = tiles[i];
    const int64_t mb = (m + t.bm - 1) / t.bm, nb = (n + t.bn - 1) / t.bn;
    const double blocks = static_cast<double>(mb) * nb * groups;
    const double waste = static_cast<double>(mb * t.bm) * (nb * t.bn) / (static_cast<double>(m) * n);
    const double fill = std::min(1.0, blocks / (t.blocks_per_sm * sms));
    const double cost = waste / (t.rate * fill);
    if (cost < best_cost) best_cost = cost, best = i;
  }
  return best;
}

// The fp32 kernel's tiles (the k tile, in launch_f32_tile, is deeper for small tiles, whose few warps
// cannot hide a global load's latency behind 16 k steps). Rates from perf/bench_gpu's per-tile times on
// an H100 (the YOLO11 layer shapes there, 2026-11-27), rounded.
constexpr TileCost kF32Tiles[] = {{128, 128, 0.90, 1}, {128, 64, 0.84, 2}, {64, 128, 1.00, 2},
                                  {128, 32, 0.64, 2},  {64, 64, 0.78, 2},  {64, 32, 0.58, 2},
                                  {32, 64, 0.58, 2},   {32, 32, 0.44, 2},  {16, 16, 0.17, 2}};
constexpr int kF32TileCount = sizeof(kF32Tiles) / sizeof(kF32Tiles[0]);
constexpr int kMaxBN = 128, kMaxBK = 64;  // weights are padded to these

template <int BM, int BN, int BK>
void launch_f32(const ConvArgs& a, int groups, cudaStream_t stream) {
  const int64_t mb = (a.pos.positions + BM - 1) / BM;
  if (mb > 0x7fffffff) throw Error("ConvCuda: too many positions");
  dim3 grid(static_cast<unsigned>(mb), static_cast<unsigned>((a.cout_g + BN - 1) / BN), static_cast<unsigned>(groups));
  if (grid.y > 65535) throw Error("ConvCuda: too many output channels");
  conv_gemm_f32_kernel<BM, BN, BK><<<grid, kF32Threads, 0, stream>>>(a);
}

static_assert(kF32TileCount == 9, "launch_f32_tile has one case per tile");
void launch_f32_tile(int tile, const ConvArgs& a, int groups, cudaStream_t stream) {
  switch (tile) {  // kF32Tiles, in order
    case 0: return launch_f32<128, 128, 16>(a, groups, stream);
    case 1: return launch_f32<128, 64, 16>(a, groups, stream);
    case 2: return launch_f32<64, 128, 16>(a, groups, stream);
    case 3: return launch_f32<128, 32, 16>(a, groups, stream);
    case 4: return launch_f32<64, 64, 32>(a, groups, stream);
    case 5: return launch_f32<64, 32, 32>(a, groups, stream);
    case 6: return launch_f32<32, 64, 32>(a, groups, stream);
    case 7: return launch_f32<32, 32, 64>(a, groups, stream);
    default: return launch_f32<16, 16, 64>(a, groups, stream);
  }
}

// ---------------------------------------------------------------------------------------------------
// fp16 implicit GEMM on tensor cores (WMMA 16x16x16, fp32 accumulation). WM x WN warps, each owning a
// (BM / WM) x (BN / WN) piece of the BM x BN block tile as FM x FN fragments; k tiles of 32, double
// buffered in shared memory with the next tile's global loads issued into registers first (as in the
// fp32 kernel). Activations are fp32 in memory and rounded to fp16 (saturating at +-65504) as they are
// staged; weights are [group][kpad][ldb] halves, zero padded (ldb a multiple of 128, kpad of 64), so
// their tile loads are unchecked 16-byte vectors. The epilogue goes through a per-warp 16 x 16 staging
// tile: bias, activation and residual in fp32.

constexpr int kHBK = 32, kF16Pad = 8;  // halves: rows stay 16-byte multiples, banks shift

__device__ __forceinline__ __half to_half_sat(float v) {
  // NaN passes through fminf/fmaxf as the other operand, so test it first.
  if (v != v) return __float2half_rn(v);
  return __float2half_rn(fminf(fmaxf(v, -65504.0f), 65504.0f));
}

template <int BM, int BN, int WM, int WN>
struct F16Shape {
  static constexpr int threads = 32 * WM * WN;
  static constexpr int FM = BM / WM / 16, FN = BN / WN / 16;
  static constexpr int LDA = kHBK + kF16Pad, LDB = BN + kF16Pad, LDS = 16 + 4;
  static constexpr int a_bytes = BM * LDA * 2, b_bytes = kHBK * LDB * 2;
  static constexpr int stage_bytes = WM * WN * 16 * LDS * 4;
  static constexpr int main_bytes = 2 * (a_bytes + b_bytes);
  static constexpr int smem = main_bytes > stage_bytes ? main_bytes : stage_bytes;
  static_assert(FM >= 1 && FN >= 1 && FM * WM * 16 == BM && FN * WN * 16 == BN, "warp tiling");
  static_assert(threads % kHBK == 0 && BM * kHBK % threads == 0, "A loads");
  static_assert(kHBK * BN % (8 * threads) == 0, "B loads");
  static_assert(a_bytes % 32 == 0 && b_bytes % 32 == 0, "WMMA needs 256-bit aligned tiles");
};

template <int BM, int BN, int WM, int WN>
__global__ void __launch_bounds__(F16Shape<BM, BN, WM, WN>::threads) conv_gemm_f16_kernel(ConvArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
  using namespace nvcuda;
  using S = F16Shape<BM, BN, WM, WN>;
  constexpr int T = S::threads, FM = S::FM, FN = S::FN, LDA = S::LDA, LDB = S::LDB;
  constexpr int A_LOADS = BM * kHBK / T, B_LOADS = kHBK * BN / (8 * T);
  __shared__ __align__(128) unsigned char smem[S::smem];
  __shared__ int s_iy[BM], s_ix[BM];
  auto As = [&](int buf) { return reinterpret_cast<__half*>(smem + buf * S::a_bytes); };
  auto Bs = [&](int buf) { return reinterpret_cast<__half*>(smem + 2 * S::a_bytes + buf * S::b_bytes); };

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wm = warp / WN, wn = warp % WN;
  const int g = blockIdx.z;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;
  const int n0 = blockIdx.y * BN;
  load_row_origins(a, m0, BM, T, s_iy, s_ix);
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  __syncthreads();

  const float* in_g = a.in.data + static_cast<int64_t>(g) * a.cin_g;
  const __half* w_g = a.w16 + static_cast<int64_t>(g) * a.kpad * a.ldb;
  using Gather = AGather<kHBK, T, A_LOADS>;
  float ra[A_LOADS];
  uint4 rb[B_LOADS];
  int4 next_term = Gather::term(a, 0);
  auto fetch = [&](int k0) {
    Gather::fetch(a, in_g, s_iy, s_ix, k0, ra, next_term);
#pragma unroll
    for (int r = 0; r < B_LOADS; ++r) {
      const int e = (tid + r * T) * 8;
      rb[r] = *reinterpret_cast<const uint4*>(w_g + static_cast<int64_t>(k0 + e / BN) * a.ldb + n0 + e % BN);
    }
  };
  auto stash = [&](int buf) {
    __half* A = As(buf);
    __half* B = Bs(buf);
    if (a.vec4) {  // four halves per 8-byte store
#pragma unroll
      for (int q = 0; q < A_LOADS / 4; ++q) {
        const __half2 lo = __halves2half2(to_half_sat(ra[4 * q]), to_half_sat(ra[4 * q + 1]));
        const __half2 hi = __halves2half2(to_half_sat(ra[4 * q + 2]), to_half_sat(ra[4 * q + 3]));
        uint2 v;
        v.x = *reinterpret_cast<const unsigned*>(&lo);
        v.y = *reinterpret_cast<const unsigned*>(&hi);
        *reinterpret_cast<uint2*>(A + Gather::row(tid, 4 * q, true) * LDA + Gather::col(tid, 4 * q, true)) = v;
      }
    } else {
#pragma unroll
      for (int r = 0; r < A_LOADS; ++r) A[Gather::row(tid, r, false) * LDA + Gather::col(tid, r, false)] = to_half_sat(ra[r]);
    }
#pragma unroll
    for (int r = 0; r < B_LOADS; ++r) {
      const int e = (tid + r * T) * 8;
      *reinterpret_cast<uint4*>(B + (e / BN) * LDB + e % BN) = rb[r];
    }
  };

  fetch(0);
  stash(0);
  __syncthreads();
  const int tiles = (a.K + kHBK - 1) / kHBK;  // the weights' padded rows are zero, A's past K too
  for (int t = 0; t < tiles; ++t) {
    const int buf = t & 1;
    if (t + 1 < tiles) fetch((t + 1) * kHBK);
    const __half* A = As(buf);
    const __half* B = Bs(buf);
#pragma unroll
    for (int kk = 0; kk < kHBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[i], A + ((wm * FM + i) * 16) * LDA + kk, LDA);
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(fb[j], B + kk * LDB + (wn * FN + j) * 16, LDB);
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    if (t + 1 < tiles) stash(buf ^ 1);
    __syncthreads();
  }

  // Epilogue, one 16 x 16 fragment at a time through the warp's staging tile (the loop's shared memory
  // is free: the last barrier above ended every read of it).
  float* stage = reinterpret_cast<float*>(smem) + warp * 16 * S::LDS;
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(stage, acc[i][j], S::LDS, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int r = e / 16, c = e % 16;
        const int64_t m = m0 + (wm * FM + i) * 16 + r;
        const int n = n0 + (wn * FN + j) * 16 + c;
        if (m >= a.pos.positions || n >= a.cout_g) continue;
        int oy, ox;
        locate(a.pos, m, oy, ox);
        const int64_t co = static_cast<int64_t>(g) * a.cout_g + n;
        float v = stage[r * S::LDS + c];
        if (a.bias) v = fx_add(v, a.bias[co]);
        v = conv_activation(a.act, v);
        if (a.has_res) v = fx_add(v, a.res.data[pixel_offset(oy, ox, a.res.w, a.res.pixel_stride) + co]);
        a.out.data[pixel_offset(oy, ox, a.out.w, a.out.pixel_stride) + co] = v;
      }
      __syncwarp();
    }
#else
  __trap();  // tensor cores need sm_70 or newer; ConvCuda refuses fp16 on such GPUs
#endif
}

// The fp16 kernel's tiles (warps in launch_f16_tile). Rates measured on an H100 (perf/bench_gpu); one
// resident block per multiprocessor already runs near its rate.
constexpr TileCost kF16Tiles[] = {{128, 128, 0.95, 1}, {64, 128, 1.00, 1}, {64, 64, 0.65, 1}, {32, 32, 0.50, 1}};
constexpr int kF16TileCount = sizeof(kF16Tiles) / sizeof(kF16Tiles[0]);

template <int BM, int BN, int WM, int WN>
void launch_f16(const ConvArgs& a, int groups, cudaStream_t stream) {
  const int64_t mb = (a.pos.positions + BM - 1) / BM;
  if (mb > 0x7fffffff) throw Error("ConvCuda: too many positions");
  dim3 grid(static_cast<unsigned>(mb), static_cast<unsigned>((a.cout_g + BN - 1) / BN), static_cast<unsigned>(groups));
  if (grid.y > 65535) throw Error("ConvCuda: too many output channels");
  conv_gemm_f16_kernel<BM, BN, WM, WN><<<grid, F16Shape<BM, BN, WM, WN>::threads, 0, stream>>>(a);
}

static_assert(kF16TileCount == 4, "launch_f16_tile has one case per tile");
void launch_f16_tile(int tile, const ConvArgs& a, int groups, cudaStream_t stream) {
  switch (tile) {  // kF16Tiles, in order
    case 0: return launch_f16<128, 128, 4, 2>(a, groups, stream);
    case 1: return launch_f16<64, 128, 2, 4>(a, groups, stream);
    case 2: return launch_f16<64, 64, 2, 2>(a, groups, stream);
    default: return launch_f16<32, 32, 2, 2>(a, groups, stream);
  }
}

// ---------------------------------------------------------------------------------------------------
// Depthwise: one thread per (position, channel); weights [kh * kw][C].

__global__ void conv_depthwise_kernel(ConvArgs a) {
  const int C = a.cout_g;  // here: the channel count (cin == cout == group)
  for_each_position_channel(a.pos, C, [&](int oy, int ox, int c) {
    float acc = a.bias ? a.bias[c] : 0.0f;
    const int iy0 = oy * a.sh - a.pad_t, ix0 = ox * a.sw - a.pad_l;
    for (int ky = 0; ky < a.kh; ++ky) {
      const int iy = iy0 + ky * a.dh;
      const bool row_in = iy >= 0 && iy < a.in.h;
      for (int kx = 0; kx < a.kw; ++kx) {
        const int ix = ix0 + kx * a.dw;
        const float v =
            row_in && ix >= 0 && ix < a.in.w ? a.in.data[pixel_offset(iy, ix, a.in.w, a.in.pixel_stride) + c] : 0.0f;
        acc = fx_fma(v, a.w32[static_cast<int64_t>(ky * a.kw + kx) * C + c], acc);
      }
    }
    float v = conv_activation(a.act, acc);
    if (a.has_res) v = fx_add(v, a.res.data[pixel_offset(oy, ox, a.res.w, a.res.pixel_stride) + c]);
    a.out.data[pixel_offset(oy, ox, a.out.w, a.out.pixel_stride) + c] = v;
  });
}

// ---------------------------------------------------------------------------------------------------
// ConvTranspose, gather form: one thread per (position, output channel).

struct ConvTArgs {
  MapView in, out;
  PosList pos;
  int cin_g, cout_g, cout;
  int kh, kw, sh, sw, pad_t, pad_l, dh, dw;
  int act;
  const float* w;     // [group][ky][kx][ci][cout_g]
  const float* bias;  // or null
};

__global__ void conv_transpose_kernel(ConvTArgs a) {
  const int64_t total = a.pos.positions * a.cout;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = e / a.cout;
    const int co = static_cast<int>(e - m * a.cout);
    const int g = co / a.cout_g, col = co - g * a.cout_g;
    int oy, ox;
    locate(a.pos, m, oy, ox);
    float acc = a.bias ? a.bias[co] : 0.0f;
    for (int ky = 0; ky < a.kh; ++ky) {
      const int iy = convt_source(oy, a.pad_t, ky, a.dh, a.sh, a.in.h);
      if (iy < 0) continue;
      for (int kx = 0; kx < a.kw; ++kx) {
        const int ix = convt_source(ox, a.pad_l, kx, a.dw, a.sw, a.in.w);
        if (ix < 0) continue;
        const float* px =
            a.in.data + pixel_offset(iy, ix, a.in.w, a.in.pixel_stride) + static_cast<int64_t>(g) * a.cin_g;
        const float* wt = a.w + ((static_cast<int64_t>(g) * a.kh + ky) * a.kw + kx) * a.cin_g * a.cout_g + col;
        for (int ci = 0; ci < a.cin_g; ++ci) acc = fx_fma(px[ci], wt[static_cast<int64_t>(ci) * a.cout_g], acc);
      }
    }
    a.out.data[pixel_offset(oy, ox, a.out.w, a.out.pixel_stride) + co] = conv_activation(a.act, acc);
  }
}

int act_code(Act a) { return static_cast<int>(a); }

void check_window(int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr, const char* what) {
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || pt < 0 || pl < 0 || pb < 0 || pr < 0 || kh > 64 ||
      kw > 64)
    throw Error(std::string(what) + ": invalid window parameters");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Host side

uint16_t float_to_half_sat(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);   // NaN
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7bffu);  // >= 65520 (and inf): saturate
  if (ax >= 0x38800000u) {                                              // normal half
    uint32_t h = (((ax >> 23) - 112u) << 10) | ((ax >> 13) & 0x3ffu);
    const uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carries into the exponent as it should
    return static_cast<uint16_t>(sign | h);
  }
  if (ax <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25: rounds to zero (tie to even)
  const uint32_t e = ax >> 23;                                  // 102 .. 112
  const uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;                              // 14 .. 24
  uint32_t h = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t x;
  if (e == 0x1f) {
    x = sign | 0x7f800000u | (m << 13);
  } else if (e != 0) {
    x = sign | ((e + 112u) << 23) | (m << 13);
  } else if (m == 0) {
    x = sign;
  } else {  // subnormal: m * 2^-24
    float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    std::memcpy(&x, &v, 4);
    x |= sign;
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

void pack_conv_weights(const ConvParams& p, const float* weight_oihw, int ldb, int k_rows, float* dst) {
  const int cin_g = p.cin / p.group, cout_g = p.cout / p.group;
  const int K = p.kh * p.kw * cin_g;
  for (int g = 0; g < p.group; ++g)
    for (int k = 0; k < k_rows; ++k)
      for (int n = 0; n < ldb; ++n) {
        float v = 0.0f;
        if (k < K && n < cout_g) v = weight_oihw[conv_oihw_index(g, k, n, cin_g, cout_g, p.kh, p.kw)];
        dst[(static_cast<int64_t>(g) * k_rows + k) * ldb + n] = v;
      }
}

void pack_conv_transpose_weights(const ConvTransposeParams& p, const float* weight, float* dst) {
  const int cin_g = p.cin / p.group, cout_g = p.cout / p.group;
  for (int g = 0; g < p.group; ++g)
    for (int ky = 0; ky < p.kh; ++ky)
      for (int kx = 0; kx < p.kw; ++kx)
        for (int ci = 0; ci < cin_g; ++ci)
          for (int col = 0; col < cout_g; ++col) {
            const int64_t cig = static_cast<int64_t>(g) * cin_g + ci;
            dst[((((static_cast<int64_t>(g) * p.kh + ky) * p.kw + kx) * cin_g + ci) * cout_g) + col] =
                weight[((cig * cout_g + col) * p.kh + ky) * p.kw + kx];
          }
}

ConvCuda::ConvCuda(const ConvParams& p, const float* weight_oihw, const float* bias, bool fp16) : p_(p) {
  check_window(p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.pad_t, p.pad_l, p.pad_b, p.pad_r, "ConvCuda");
  if (p.group < 1 || p.cin < 1 || p.cout < 1 || p.cin % p.group || p.cout % p.group)
    throw Error("ConvCuda: group does not divide the channels");
  cin_g_ = p.cin / p.group;
  cout_g_ = p.cout / p.group;
  const int64_t K = static_cast<int64_t>(p.kh) * p.kw * cin_g_;
  if (K > (1 << 30)) throw Error("ConvCuda: reduction too long");
  K_ = static_cast<int>(K);
  if (bias) bias_.upload(bias, static_cast<size_t>(p.cout));
  if (cin_g_ == 1 && cout_g_ == 1) {
    path_ = Path::Depthwise;
    const int taps = p.kh * p.kw;
    std::vector<float> w(static_cast<size_t>(taps) * p.cout);
    for (int c = 0; c < p.cout; ++c)
      for (int t = 0; t < taps; ++t)
        w[static_cast<size_t>(t) * p.cout + c] = weight_oihw[static_cast<size_t>(c) * taps + t];
    w32_.upload(w.data(), w.size());
    return;
  }
  if (p.group > 65535) throw Error("ConvCuda: more than 65535 groups");
  // Weights zero padded to whole tiles (any BN, the deepest k tile): the kernels' weight loads need no
  // bounds checks.
  ldb_ = (cout_g_ + kMaxBN - 1) / kMaxBN * kMaxBN;
  kpad_ = (K_ + kMaxBK - 1) / kMaxBK * kMaxBK;
  std::vector<float> w(static_cast<size_t>(p.group) * kpad_ * ldb_);
  pack_conv_weights(p, weight_oihw, ldb_, kpad_, w.data());
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  if (fp16) {
    // The tensor-core kernel traps on GPUs before sm_70: refuse here with a message instead.
    int major = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    if (major < 7) throw Error("fp16 convolutions need tensor cores (compute capability 7.0 or newer)");
    path_ = Path::GemmF16;
    std::vector<uint16_t> h(w.size());
    for (size_t i = 0; i < w.size(); ++i) h[i] = float_to_half_sat(w[i]);
    w16_.upload(h.data(), h.size());
  } else {
    path_ = Path::GemmF32;
    w32_.upload(w.data(), w.size());
  }
  std::vector<int4> tab(static_cast<size_t>(kpad_));
  for (int k = 0; k < kpad_; ++k) {
    const ConvTerm t = conv_term(k < K_ ? k : 0, cin_g_, p.kw, p.dh, p.dw);
    tab[static_cast<size_t>(k)] = make_int4(t.dy, t.dx, t.ci, 0);
  }
  ktab_.upload(tab.data(), tab.size());
  CUDA_CHECK(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, dev));
}

int ConvCuda::tile_count() const {
  return path_ == Path::GemmF32 ? kF32TileCount : path_ == Path::GemmF16 ? kF16TileCount : 0;
}

std::string ConvCuda::tile_name(int tile) const {
  if (tile < 0 || tile >= tile_count()) return "auto";
  const TileCost& t = path_ == Path::GemmF32 ? kF32Tiles[tile] : kF16Tiles[tile];
  return std::to_string(t.bm) + "x" + std::to_string(t.bn);
}

int ConvCuda::tile_for(int64_t positions) const {
  if (tile_ >= 0 || tile_count() == 0) return tile_count() ? tile_ : -1;
  return path_ == Path::GemmF32 ? pick_tile(kF32Tiles, kF32TileCount, positions, cout_g_, p_.group, sms_)
                                : pick_tile(kF16Tiles, kF16TileCount, positions, cout_g_, p_.group, sms_);
}

void ConvCuda::set_tile(int tile) {
  if (tile < -1 || tile >= tile_count()) throw Error("ConvCuda: no tile " + std::to_string(tile));
  tile_ = tile;
}

void ConvCuda::run(const MapView& in, const MapView& out, const MapView* residual, const PosList& pos,
                   cudaStream_t stream) const {
  if (pos.positions <= 0) return;
  ConvArgs a{};
  a.in = in;
  a.out = out;
  a.has_res = residual != nullptr;
  if (residual) a.res = *residual;
  a.pos = pos;
  a.cin_g = cin_g_;
  a.cout_g = cout_g_;
  a.K = K_;
  a.kh = p_.kh, a.kw = p_.kw, a.sh = p_.sh, a.sw = p_.sw, a.pad_t = p_.pad_t, a.pad_l = p_.pad_l;
  a.dh = p_.dh, a.dw = p_.dw;
  a.act = act_code(p_.act);
  a.w32 = w32_.get();
  a.ktab = ktab_.get();
  a.w16 = reinterpret_cast<const __half*>(w16_.get());
  a.bias = bias_.get();
  a.ldb = ldb_;
  a.kpad = kpad_;
  a.vec4 = cin_g_ % 4 == 0 && in.pixel_stride % 4 == 0 && reinterpret_cast<uintptr_t>(in.data) % 16 == 0;
  switch (path_) {
    case Path::Depthwise: {
      a.cout_g = p_.cout;
      conv_depthwise_kernel<<<grid_for(pos.positions * p_.cout, 256, 1 << 20), 256, 0, stream>>>(a);
      break;
    }
    case Path::GemmF32:
      launch_f32_tile(tile_for(pos.positions), a, p_.group, stream);
      break;
    case Path::GemmF16:
      launch_f16_tile(tile_for(pos.positions), a, p_.group, stream);
      break;
  }
  CUDA_CHECK_LAUNCH();
}

ConvTransposeCuda::ConvTransposeCuda(const ConvTransposeParams& p, const float* weight, const float* bias) : p_(p) {
  check_window(p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.pad_t, p.pad_l, p.pad_b, p.pad_r, "ConvTransposeCuda");
  if (p.group < 1 || p.cin < 1 || p.cout < 1 || p.cin % p.group || p.cout % p.group)
    throw Error("ConvTransposeCuda: group does not divide the channels");
  cin_g_ = p.cin / p.group;
  cout_g_ = p.cout / p.group;
  std::vector<float> w(static_cast<size_t>(p.cin) * cout_g_ * p.kh * p.kw);
  pack_conv_transpose_weights(p, weight, w.data());
  w_.upload(w.data(), w.size());
  if (bias) bias_.upload(bias, static_cast<size_t>(p.cout));
}

void ConvTransposeCuda::run(const MapView& in, const MapView& out, const PosList& pos, cudaStream_t stream) const {
  if (pos.positions <= 0) return;
  ConvTArgs a{};
  a.in = in;
  a.out = out;
  a.pos = pos;
  a.cin_g = cin_g_;
  a.cout_g = cout_g_;
  a.cout = p_.cout;
  a.kh = p_.kh, a.kw = p_.kw, a.sh = p_.sh, a.sw = p_.sw, a.pad_t = p_.pad_t, a.pad_l = p_.pad_l;
  a.dh = p_.dh, a.dw = p_.dw;
  a.act = act_code(p_.act);
  a.w = w_.get();
  a.bias = bias_.get();
  conv_transpose_kernel<<<grid_for(pos.positions * p_.cout, 256, 1 << 20), 256, 0, stream>>>(a);
  CUDA_CHECK_LAUNCH();
}

}  // namespace fx::cuda
