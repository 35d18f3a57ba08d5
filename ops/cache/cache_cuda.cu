// CUDA kernels of the feature cache's data movement. One thread per (position, channel) for copies
// (consecutive threads take consecutive channels of a pixel: contiguous NHWC accesses); one warp per
// position for the truncation comparison (lanes over channels, a warp vote for "every channel close").
#include "ops/cache/cache_cuda.h"

#include <cuda_runtime.h>

#include "ops/cuda/check.h"

namespace fx::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kGridCap = 1 << 20;

__device__ __forceinline__ float* px(const MapView& m, int y, int x) {
  return m.data + pixel_offset(y, x, m.w, m.pixel_stride);
}

template <class F>
__device__ __forceinline__ void for_each_element(int64_t total, F f) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x)
    f(e);
}

__global__ void copy_map_kernel(MapView src, MapView dst) {
  const int64_t total = static_cast<int64_t>(src.h) * src.w * src.c;
  for_each_element(total, [&](int64_t e) {
    const int64_t p = e / src.c;
    const int ch = static_cast<int>(e - p * src.c);
    const int y = static_cast<int>(p / src.w), x = static_cast<int>(p - static_cast<int64_t>(y) * src.w);
    px(dst, y, x)[ch] = px(src, y, x)[ch];
  });
}

__global__ void copy_runs_kernel(MapView src, MapView dst, const CopyRun* runs, const int64_t* starts, int n,
                                 int64_t positions) {
  for_each_element(positions * src.c, [&](int64_t e) {
    const int64_t m = e / src.c;
    const int ch = static_cast<int>(e - m * src.c);
    int y, x, sy, sx;
    locate_run(runs, starts, n, m, y, x, sy, sx);
    px(dst, y, x)[ch] = px(src, sy, sx)[ch];
  });
}

// pass 0: scratch[m] := m(source of m); pass 1: m(destination of m) := scratch[m].
__global__ void move_runs_kernel(MapView m, const CopyRun* runs, const int64_t* starts, int n, int64_t positions,
                                 float* scratch, int pass) {
  for_each_element(positions * m.c, [&](int64_t e) {
    const int64_t k = e / m.c;
    const int ch = static_cast<int>(e - k * m.c);
    int y, x, sy, sx;
    locate_run(runs, starts, n, k, y, x, sy, sx);
    if (pass == 0) scratch[e] = px(m, sy, sx)[ch];
    else px(m, y, x)[ch] = scratch[e];
  });
}

// Element e = k * c + ch of the scratch: channel ch of the k-th listed position.
__global__ void gather_kernel(MapView m, PosList pos, float* scratch) {
  for_each_element(pos.positions * m.c, [&](int64_t e) {
    const int64_t k = e / m.c;
    const int ch = static_cast<int>(e - k * m.c);
    int y, x;
    locate(pos, k, y, x);
    scratch[e] = px(m, y, x)[ch];
  });
}

__global__ void keep_close_kernel(MapView now, PosList pos, MapView before, const KeepCandidate* table, int ncand,
                                  int8_t* choice) {
  const int lane = threadIdx.x & 31;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const int64_t warps = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t k = warp; k < pos.positions; k += warps) {
    int y, x;
    locate(pos, k, y, x);
    float* v = px(now, y, x);
    int chosen = -1;
    for (int c = 0; c < ncand && chosen < 0; ++c) {
      const KeepCandidate cand = table[k * ncand + c];
      if (cand.src < 0) continue;
      const float* b = px(before, cand.src / before.w, cand.src % before.w);
      bool ok = true;
      for (int ch = lane; ch < now.c; ch += 32) {
        const float a = v[ch], o = b[ch];
        // The CPU's tests: memcmp of the bits for eps <= 0, else !(|a - b| <= eps) fails (NaN fails).
        const bool close = cand.eps <= 0.f ? fx_bits(a) == fx_bits(o) : fabsf(fx_sub(a, o)) <= cand.eps;
        ok = ok && close;
      }
      if (__all_sync(0xffffffffu, ok)) chosen = c;
    }
    if (chosen >= 0) {
      const float* b = px(before, table[k * ncand + chosen].src / before.w, table[k * ncand + chosen].src % before.w);
      for (int ch = lane; ch < now.c; ch += 32) v[ch] = b[ch];
    }
    if (lane == 0) choice[k] = static_cast<int8_t>(chosen);
  }
}

__global__ void write_image_kernel(MapView m, const uint8_t* rgb, int width, PosList pos) {
  for_each_position_channel(pos, 3, [&](int y, int x, int ch) {
    px(m, y, x)[ch] = image_value(rgb[(static_cast<int64_t>(y) * width + x) * 3 + ch]);
  });
}

__global__ void scatter_planar_kernel(MapView m, const int64_t* positions, int64_t n, float* planar) {
  const int64_t hw = static_cast<int64_t>(m.h) * m.w;
  for_each_element(n * m.c, [&](int64_t e) {
    const int64_t i = e / m.c;
    const int ch = static_cast<int>(e - i * m.c);
    const int64_t p = positions[i];
    planar[ch * hw + p] = m.data[p * m.pixel_stride + ch];
  });
}

}  // namespace

void copy_map_cuda(const MapView& src, const MapView& dst, cudaStream_t stream) {
  const int64_t total = static_cast<int64_t>(src.h) * src.w * src.c;
  if (total == 0) return;
  copy_map_kernel<<<grid_for(total, kThreads, kGridCap), kThreads, 0, stream>>>(src, dst);
  CUDA_CHECK(cudaGetLastError());
}

void copy_runs_cuda(const MapView& src, const MapView& dst, const CopyRun* runs, const int64_t* starts, int n,
                    int64_t positions, cudaStream_t stream) {
  if (positions == 0 || src.c == 0) return;
  copy_runs_kernel<<<grid_for(positions * src.c, kThreads, kGridCap), kThreads, 0, stream>>>(src, dst, runs, starts,
                                                                                             n, positions);
  CUDA_CHECK(cudaGetLastError());
}

void move_in_place_cuda(const MapView& m, const CopyRun* runs, const int64_t* starts, int n, int64_t positions,
                        float* scratch, cudaStream_t stream) {
  if (positions == 0 || m.c == 0) return;
  const unsigned grid = grid_for(positions * m.c, kThreads, kGridCap);
  // Two launches on one stream: every source is read before any destination is written.
  for (int pass = 0; pass < 2; ++pass) {
    move_runs_kernel<<<grid, kThreads, 0, stream>>>(m, runs, starts, n, positions, scratch, pass);
    CUDA_CHECK(cudaGetLastError());
  }
}

void gather_cuda(const MapView& m, const PosList& pos, float* scratch, cudaStream_t stream) {
  if (pos.positions == 0 || m.c == 0) return;
  gather_kernel<<<grid_for(pos.positions * m.c, kThreads, kGridCap), kThreads, 0, stream>>>(m, pos, scratch);
  CUDA_CHECK(cudaGetLastError());
}

void keep_close_cuda(const MapView& now, const PosList& pos, const MapView& before, const KeepCandidate* table,
                     int ncand, int8_t* choice, cudaStream_t stream) {
  if (pos.positions == 0) return;
  constexpr int kWarpsPerBlock = kThreads / 32;
  const unsigned grid = grid_for(pos.positions, kWarpsPerBlock, kGridCap);
  keep_close_kernel<<<grid, kThreads, 0, stream>>>(now, pos, before, table, ncand, choice);
  CUDA_CHECK(cudaGetLastError());
}

void write_image_cuda(const MapView& m, const uint8_t* rgb, int width, const PosList& pos, cudaStream_t stream) {
  if (pos.positions == 0) return;
  write_image_kernel<<<grid_for(pos.positions * 3, kThreads, kGridCap), kThreads, 0, stream>>>(m, rgb, width, pos);
  CUDA_CHECK(cudaGetLastError());
}

void scatter_planar_cuda(const MapView& m, const int64_t* positions, int64_t n, float* planar, cudaStream_t stream) {
  if (n == 0 || m.c == 0) return;
  scatter_planar_kernel<<<grid_for(n * m.c, kThreads, kGridCap), kThreads, 0, stream>>>(m, positions, n, planar);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace fx::cuda
