#include "runtime/cuda/cuda_probe.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "ops/cuda/check.h"

namespace fx::cuda {

namespace {
__global__ void probe_kernel(int* flag) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *flag = 1;
}

std::string text(cudaError_t e) { return std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")"; }
}  // namespace

std::string probe_device(int device) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return text(e);
  }
  if (count <= 0) return "no CUDA-capable device is detected";
  if (device < 0 || device >= count)
    return "device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " present)";
  if ((e = cudaSetDevice(device)) != cudaSuccess) {
    cudaGetLastError();
    return text(e);
  }
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  if (major < 7)
    return "device " + std::to_string(device) + " is sm_" + std::to_string(major * 10 + minor) +
           "; the CUDA backend needs sm_70 or newer";
  int* flag = nullptr;
  if ((e = cudaMalloc(&flag, sizeof(int))) != cudaSuccess) {
    cudaGetLastError();
    return text(e);
  }
  probe_kernel<<<1, 32>>>(flag);
  e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  cudaFree(flag);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return text(e) + " on sm_" + std::to_string(major * 10 + minor) + " (check CMAKE_CUDA_ARCHITECTURES)";
  }
  return {};
}

std::string describe_device(int device) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) {
    cudaGetLastError();
    return "unknown device";
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, " (sm_%d%d, %d SMs, %.1f GiB)", p.major, p.minor, p.multiProcessorCount,
                static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return std::string(p.name) + buf;
}

namespace {

__global__ void fma_kernel(float* out, int iters, float a, float b) {
  float x[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) x[i] = static_cast<float>(threadIdx.x + i);
  for (int k = 0; k < iters; ++k) {
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = fmaf(x[i], a, b);
  }
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) s += x[i];
  out[static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x] = s;  // keeps the chains alive
}

__global__ void copy_kernel(const float4* __restrict__ in, float4* __restrict__ out, size_t n) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = in[i];
}

template <class F>
double median_ms(F&& launch) {
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  launch();
  CUDA_CHECK_LAUNCH();
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> t;
  for (int r = 0; r < 5; ++r) {
    CUDA_CHECK(cudaEventRecord(e0));
    launch();
    CUDA_CHECK(cudaEventRecord(e1));
    CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    t.push_back(ms);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

double measure_fma_tflops(int device) {
  CUDA_CHECK(cudaSetDevice(device));
  int sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const int blocks = sms * 8, threads = 256, iters = 4096;
  DeviceArray<float> out(static_cast<size_t>(blocks) * threads);
  const double ms = median_ms([&] { fma_kernel<<<blocks, threads>>>(out.get(), iters, 0.999f, 0.001f); });
  return 2.0 * blocks * threads * static_cast<double>(iters) * 8 / (ms * 1e-3) / 1e12;
}

double measure_copy_gbps(int device) {
  CUDA_CHECK(cudaSetDevice(device));
  int sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const size_t bytes = size_t{512} << 20;
  DeviceArray<float> a(bytes / 4), b(bytes / 4);
  CUDA_CHECK(cudaMemset(a.get(), 0, bytes));
  const double ms = median_ms([&] {
    copy_kernel<<<sms * 16, 256>>>(reinterpret_cast<const float4*>(a.get()), reinterpret_cast<float4*>(b.get()),
                                   bytes / 16);
  });
  return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
}

}  // namespace fx::cuda
