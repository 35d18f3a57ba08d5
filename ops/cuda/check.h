// Error handling for every CUDA runtime call and kernel launch: CUDA_CHECK(expr) throws fx::Error with
// one line naming the file, line, expression and CUDA's message; CUDA_CHECK_LAUNCH() checks the launch
// just made (cudaGetLastError does not synchronise, so it is allowed during stream capture).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "runtime/error.h"

namespace fx::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);

// "CUDA error ...": the message of throw_cuda_error, for callers that report instead of throwing.
std::string cuda_error_text(cudaError_t err, const char* expr, const char* file, int line);

}  // namespace fx::cuda

#define CUDA_CHECK(expr)                                                        \
  do {                                                                          \
    const cudaError_t fx_cuda_err_ = (expr);                                    \
    if (fx_cuda_err_ != cudaSuccess)                                            \
      ::fx::cuda::throw_cuda_error(fx_cuda_err_, #expr, __FILE__, __LINE__);    \
  } while (0)

#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

namespace fx::cuda {

// Device memory of n elements of T (cudaMalloc: 256-byte aligned). Moves, never copies.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) { reset(n); }
  ~DeviceArray() { release(); }
  DeviceArray(DeviceArray&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  void reset(size_t n) {
    release();
    if (n == 0) return;
    void* p = nullptr;
    CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
    p_ = static_cast<T*>(p);
    n_ = n;
  }
  // Allocates n elements and copies them from host memory (synchronous: preparation only).
  void upload(const T* host, size_t n) {
    reset(n);
    if (n) CUDA_CHECK(cudaMemcpy(p_, host, n * sizeof(T), cudaMemcpyHostToDevice));
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }

 private:
  void release() noexcept {
    if (p_) cudaFree(p_);  // errors here cannot be reported (destructor); the context may be gone
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace fx::cuda
