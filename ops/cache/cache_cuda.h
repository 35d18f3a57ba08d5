// The feature cache's data movement on the GPU (the CUDA backend's side of runtime/backend.h), each the
// device twin of the CPU backend's loop (runtime/cpu/cpu_backend.cpp): pure copies, and comparisons
// made with the CPU's arithmetic (|a - b| <= eps with one rounding; bit equality for eps <= 0), so the
// decisions and values are the CPU's exactly. Maps are device views (channel slices allowed); run
// lists, span lists (PosList), tables and positions are device arrays. Launch-only: never allocates or
// synchronises.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/cache/cache_ops.h"
#include "ops/cuda/common.h"

namespace fx::cuda {

// dst := src at every position (same h, w, c).
void copy_map_cuda(const MapView& src, const MapView& dst, cudaStream_t stream);
// The runs (starts: run_starts of them, n + 1 entries), src -> dst.
void copy_runs_cuda(const MapView& src, const MapView& dst, const CopyRun* runs, const int64_t* starts, int n,
                    int64_t positions, cudaStream_t stream);
// Runs within one map: every source is first gathered into scratch (positions x c floats), then written.
void move_in_place_cuda(const MapView& m, const CopyRun* runs, const int64_t* starts, int n, int64_t positions,
                        float* scratch, cudaStream_t stream);
// The values at `pos` packed into scratch (positions x c floats, in list order).
void gather_cuda(const MapView& m, const PosList& pos, float* scratch, cudaStream_t stream);
// Truncation (Backend::keep_close): one warp per listed position of `now`, its candidates in order.
void keep_close_cuda(const MapView& now, const PosList& pos, const MapView& before, const KeepCandidate* table,
                     int ncand, int8_t* choice, cudaStream_t stream);
// m(y, x, c) := rgb[(y * width + x) * 3 + c] / 255 at `pos` (rgb: device bytes).
void write_image_cuda(const MapView& m, const uint8_t* rgb, int width, const PosList& pos, cudaStream_t stream);
// planar[c * h * w + p] := m at position p for the listed positions (y * w + x).
void scatter_planar_cuda(const MapView& m, const int64_t* positions, int64_t n, float* planar, cudaStream_t stream);

}  // namespace fx::cuda
