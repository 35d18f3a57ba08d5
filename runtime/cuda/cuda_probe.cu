#include "runtime/cuda/cuda_probe.h"

#include <cuda_runtime.h>

#include <cstdio>

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

}  // namespace fx::cuda
