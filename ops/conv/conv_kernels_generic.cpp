// Portable instantiation of the convolution kernels: scalar "vectors" of one float, std::fma for
// every multiply-add, so results match the vector ISAs bit for bit (slowly; it is the fallback).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ops/conv/conv_kernels.h"

namespace fx::conv_detail {
namespace {

struct VScalar {
  using vec = float;
  static constexpr int W = 1;
  static vec load(const float* p) { return *p; }
  static vec load_n(const float* p, int) { return *p; }
  static int mask(int) { return 0; }
  static vec load_m(const float* p, int) { return *p; }
  static void store(float* p, vec v) { *p = v; }
  static void store_n(float* p, vec v, int) { *p = v; }
  static vec set1(float x) { return x; }
  static vec zero() { return 0.0f; }
  static vec fma(vec a, vec b, vec c) { return std::fma(a, b, c); }
  static vec fnma(vec a, vec b, vec c) { return std::fma(-a, b, c); }
  static vec fms(vec a, vec b, vec c) { return std::fma(a, b, -c); }
  static vec add(vec a, vec b) { return a + b; }
  static vec sub(vec a, vec b) { return a - b; }
  static vec mul(vec a, vec b) { return a * b; }
  static vec div(vec a, vec b) { return a / b; }
  static vec max(vec a, vec b) { return a > b ? a : b; }
  static vec min(vec a, vec b) { return a < b ? a : b; }
  static vec scale2(vec p, vec, vec z) {
    uint32_t bits;
    std::memcpy(&bits, &z, 4);
    bits = (bits - (0x4b400000u - 126u)) << 23;
    float s;
    std::memcpy(&s, &bits, 4);
    const float half = p * s;  // p * 2^(n-1), exact
    return half + half;
  }
};

ConvIsaOps make_ops() {
  ConvIsaOps o;
  o.isa = CpuIsa::Generic;
  o.W = 1;
  o.nv_max = 8;
  for (int nv = 1; nv <= 8; ++nv) o.mr[nv] = 4;
  fill_gemm_table<VScalar, 1, 4>(o);
  fill_gemm_table<VScalar, 2, 4>(o);
  fill_gemm_table<VScalar, 3, 4>(o);
  fill_gemm_table<VScalar, 4, 4>(o);
  fill_gemm_table<VScalar, 5, 4>(o);
  fill_gemm_table<VScalar, 6, 4>(o);
  fill_gemm_table<VScalar, 7, 4>(o);
  fill_gemm_table<VScalar, 8, 4>(o);
  o.im2col = &im2col<VScalar>;
  o.depthwise = &depthwise<VScalar>;
  o.activation = &activation<VScalar>;
  return o;
}

}  // namespace

const ConvIsaOps& conv_ops_generic() {
  static const ConvIsaOps ops = make_ops();
  return ops;
}

}  // namespace fx::conv_detail
