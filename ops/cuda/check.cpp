#include "ops/cuda/check.h"

#include <cstring>

namespace fx::cuda {

namespace {
// The path relative to the source tree when __FILE__ is absolute (".../ops/conv/conv_cuda.cu").
const char* short_path(const char* file) {
  for (const char* top : {"/ops/", "/runtime/", "/tests/", "/perf/", "/cli/"}) {
    const char* p = std::strstr(file, top);
    if (p) return p + 1;
  }
  return file;
}
}  // namespace

std::string cuda_error_text(cudaError_t err, const char* expr, const char* file, int line) {
  return std::string("CUDA error at ") + short_path(file) + ":" + std::to_string(line) + ": " + expr + ": " +
         cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ")";
}

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  throw Error(cuda_error_text(err, expr, file, line));
}

}  // namespace fx::cuda
