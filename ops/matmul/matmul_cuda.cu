#include "ops/matmul/matmul_cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace fx::cuda {

namespace {

// ---------------------------------------------------------------------------------------------------
// cuBLAS entry points (linked or dlopen'ed).

struct CublasApi {
  cublasStatus_t (*create)(cublasHandle_t*) = nullptr;
  cublasStatus_t (*destroy)(cublasHandle_t) = nullptr;
  cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t) = nullptr;
  cublasStatus_t (*set_math_mode)(cublasHandle_t, cublasMath_t) = nullptr;           // optional
  cublasStatus_t (*set_workspace)(cublasHandle_t, void*, size_t) = nullptr;          // optional
  cublasStatus_t (*sgemm_strided_batched)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                          const float*, const float*, int, long long, const float*, int, long long,
                                          const float*, float*, int, long long, int) = nullptr;
  std::string error;  // why it is not available
  bool ok() const { return create && destroy && set_stream && sgemm_strided_batched; }
};

const CublasApi& cublas_api() {
  static CublasApi api;
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(FLUXSHARD_CUBLAS_LINKED)
    api.create = &cublasCreate_v2;
    api.destroy = &cublasDestroy_v2;
    api.set_stream = &cublasSetStream_v2;
    api.set_math_mode = &cublasSetMathMode;
#if CUBLAS_VER_MAJOR >= 11
    api.set_workspace = &cublasSetWorkspace_v2;
#endif
    api.sgemm_strided_batched = &cublasSgemmStridedBatched;
#else
    const char* env = std::getenv("FLUXSHARD_CUBLAS");
    if (env && std::string(env) == "0") {
      api.error = "disabled by FLUXSHARD_CUBLAS=0";
      return;
    }
    std::string names[3];
    int count = 0;
    if (env && *env) names[count++] = env;
    names[count++] = "libcublas.so." + std::to_string(CUDART_VERSION / 1000);
    names[count++] = "libcublas.so";
    void* lib = nullptr;
    for (int i = 0; i < count && !lib; ++i) lib = dlopen(names[i].c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      api.error = "cannot load " + names[count - 2] + (e ? std::string(": ") + e : std::string());
      return;
    }
    auto sym = [&](const char* name) { return dlsym(lib, name); };
    api.create = reinterpret_cast<decltype(api.create)>(sym("cublasCreate_v2"));
    api.destroy = reinterpret_cast<decltype(api.destroy)>(sym("cublasDestroy_v2"));
    api.set_stream = reinterpret_cast<decltype(api.set_stream)>(sym("cublasSetStream_v2"));
    api.set_math_mode = reinterpret_cast<decltype(api.set_math_mode)>(sym("cublasSetMathMode"));
    api.set_workspace = reinterpret_cast<decltype(api.set_workspace)>(sym("cublasSetWorkspace_v2"));
    api.sgemm_strided_batched = reinterpret_cast<decltype(api.sgemm_strided_batched)>(sym("cublasSgemmStridedBatched"));
    if (!api.ok()) api.error = "the loaded cuBLAS lacks cublasSgemmStridedBatched or cublasCreate_v2";
#endif
  });
  return api;
}

void cublas_check(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuBLAS error in ") + what + ": status " + std::to_string(static_cast<int>(st)));
}

// ---------------------------------------------------------------------------------------------------
// The built-in kernel: 16 x 16 output tiles, k tiles of 16, each output one fma chain in k order.

__global__ void matmul_kernel(const float* A, const float* B, float* C, MatmulBatch g) {
  __shared__ float As[16][17], Bs[16][17];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t row = static_cast<int64_t>(blockIdx.y) * 16 + ty, col = static_cast<int64_t>(blockIdx.x) * 16 + tx;
  for (int64_t bt = blockIdx.z; bt < g.count; bt += gridDim.z) {
    int64_t oa = 0, ob = 0, rem = bt;
    for (int i = g.rank - 1; i >= 0; --i) {
      const int64_t idx = rem % g.d[i];
      rem /= g.d[i];
      oa += idx * g.sa[i];
      ob += idx * g.sb[i];
    }
    const float* Ab = A + oa;
    const float* Bb = B + ob;
    float acc = 0.f;
    for (int64_t k0 = 0; k0 < g.k; k0 += 16) {
      As[ty][tx] = (row < g.m && k0 + tx < g.k) ? Ab[row * g.k + k0 + tx] : 0.f;
      Bs[ty][tx] = (k0 + ty < g.k && col < g.n) ? Bb[(k0 + ty) * g.n + col] : 0.f;
      __syncthreads();
      const int kn = g.k - k0 < 16 ? static_cast<int>(g.k - k0) : 16;
      for (int kk = 0; kk < kn; ++kk) acc = fmaf(As[ty][kk], Bs[kk][tx], acc);
      __syncthreads();
    }
    if (row < g.m && col < g.n) C[bt * g.m * g.n + row * g.n + col] = acc;
  }
}

}  // namespace

MatmulGeometry matmul_geometry(const Shape& a_shape, const Shape& b_shape, const Shape& out_shape) {
  MatmulGeometry g{matmul_batch(a_shape, b_shape, out_shape)};
  // Collapse: walking the batch axes inwards-out (size-1 axes skipped), each axis must step by the
  // previous stride times the extent below it.
  g.collapsible = true;
  bool first = true;
  int64_t below = 1;
  for (int i = g.rank - 1; i >= 0; --i) {
    if (g.d[i] == 1) continue;
    if (first) {
      g.stride_a = g.sa[i];
      g.stride_b = g.sb[i];
      first = false;
    } else if (g.sa[i] != g.stride_a * below || g.sb[i] != g.stride_b * below) {
      g.collapsible = false;
    }
    below *= g.d[i];
  }
  return g;
}

bool cublas_available(std::string* why) {
  const CublasApi& api = cublas_api();
  if (!api.ok() && why) *why = api.error;
  return api.ok();
}

MatmulCuda::MatmulCuda(bool use_cublas) {
  if (!use_cublas || !cublas_available()) return;
  const CublasApi& api = cublas_api();
  cublasHandle_t h = nullptr;
  cublas_check(api.create(&h), "cublasCreate");
  handle_ = h;
  if (api.set_math_mode) cublas_check(api.set_math_mode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  if (api.set_workspace) {
    // A workspace of our own, so that no call allocates (CUDA graph capture).
    workspace_.reset(size_t{4} << 20);
    cublas_check(api.set_workspace(h, workspace_.get(), workspace_.bytes()), "cublasSetWorkspace");
  }
}

MatmulCuda::~MatmulCuda() {
  if (handle_) cublas_api().destroy(static_cast<cublasHandle_t>(handle_));
}

void MatmulCuda::run(const float* a, const Shape& a_shape, const float* b, const Shape& b_shape, float* out,
                     const Shape& out_shape, cudaStream_t stream) const {
  const MatmulGeometry g = matmul_geometry(a_shape, b_shape, out_shape);
  if (g.count <= 0 || g.m <= 0 || g.n <= 0) return;
  const int64_t kIntMax = 0x7fffffff;
  if (handle_ && g.collapsible && g.m <= kIntMax && g.n <= kIntMax && g.k <= kIntMax && g.count <= kIntMax &&
      g.k > 0) {
    const CublasApi& api = cublas_api();
    cublasHandle_t h = static_cast<cublasHandle_t>(handle_);
    cublas_check(api.set_stream(h, stream), "cublasSetStream");
    // cublasSetStream resets the workspace to cuBLAS's default pool: attach ours again.
    if (api.set_workspace && workspace_.get())
      cublas_check(api.set_workspace(h, workspace_.get(), workspace_.bytes()), "cublasSetWorkspace");
    const float alpha = 1.f, beta = 0.f;
    cublas_check(api.sgemm_strided_batched(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(g.n), static_cast<int>(g.m),
                                           static_cast<int>(g.k), &alpha, b, static_cast<int>(g.n), g.stride_b, a,
                                           static_cast<int>(g.k), g.stride_a, &beta, out, static_cast<int>(g.n),
                                           g.m * g.n, static_cast<int>(g.count)),
                 "cublasSgemmStridedBatched");
    return;
  }
  const int64_t gy = (g.m + 15) / 16, gx = (g.n + 15) / 16;
  if (gy > 65535 || gx > 0x7fffffff) throw Error("matmul_cuda: matrix too large");
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy),
            static_cast<unsigned>(g.count < 65535 ? g.count : 65535));
  matmul_kernel<<<grid, dim3(16, 16), 0, stream>>>(a, b, out, static_cast<const MatmulBatch&>(g));
  CUDA_CHECK_LAUNCH();
}

}  // namespace fx::cuda
