#include "ops/elementwise/elementwise.h"

#include <cmath>
#include <cstring>

#include "ops/elementwise/ew_internal.h"
#include "ops/elementwise/ew_kernels.h"
#include "ops/elementwise/parallel.h"

namespace fx {
namespace detail {

ParallelTuning& parallel_tuning() {
  static ParallelTuning tuning;
  return tuning;
}

void binary_row_generic(BinaryOp op, const float* a, bool as, const float* b, bool bs, float* out, int64_t n) {
  simd::binary_row<simd::VecGeneric>(op, a, as, b, bs, out, n);
}
void unary_row_generic(UnaryOp op, const float* in, float* out, int64_t n) {
  simd::unary_row<simd::VecGeneric>(op, in, out, n);
}

BinaryRowFn binary_row_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == CpuIsa::Avx512) return binary_row_avx512;
  if (isa == CpuIsa::Avx2) return binary_row_avx2;
#elif defined(__aarch64__)
  if (isa == CpuIsa::Neon) return binary_row_neon;
#endif
  (void)isa;
  return binary_row_generic;
}

UnaryRowFn unary_row_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == CpuIsa::Avx512) return unary_row_avx512;
  if (isa == CpuIsa::Avx2) return unary_row_avx2;
#elif defined(__aarch64__)
  if (isa == CpuIsa::Neon) return unary_row_neon;
#endif
  (void)isa;
  return unary_row_generic;
}

}  // namespace detail

namespace {

inline float apply_binary(BinaryOp op, float x, float y) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
  }
  return 0.f;
}

// sigmoid(x) = 1 / (1 + exp(-x)), evaluated without overflow: with e = exp(-|x|),
// sigmoid = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0 (accurate in the far negative tail too).
inline float apply_unary_reference(UnaryOp op, float x) {
  float e = std::exp(-std::fabs(x));
  float s = (x >= 0.f ? 1.f : e) / (1.f + e);
  return op == UnaryOp::SiLU ? x * s : s;
}

// Value of a local operand at (y, x, ch) (reference only).
inline float operand_at(const LocalOperand& o, int y, int x, int ch) {
  switch (o.kind) {
    case LocalOperand::Map: return o.map.at(y, x)[ch];
    case LocalOperand::Channels: return o.values[ch];
    case LocalOperand::Scalar: return o.values[0];
  }
  return 0.f;
}

// Base pointer of a local operand at (y, x) and whether it is a single value.
inline const float* operand_ptr(const LocalOperand& o, int y, int x) {
  return o.kind == LocalOperand::Map ? o.map.at(y, x) : o.values;
}

// True when the operand's values for a run of pixels form one contiguous row of len * c floats (or it
// is one value).
inline bool operand_packed(const LocalOperand& o, int c) {
  switch (o.kind) {
    case LocalOperand::Map: return o.map.pixel_stride == c;
    case LocalOperand::Channels: return c == 1;
    case LocalOperand::Scalar: return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Local (NHWC map) ops

void binary_local_reference(BinaryOp op, const LocalOperand& a, const LocalOperand& b, const MapView& out,
                            SpanList spans) {
  for (int i = 0; i < spans.count; ++i) {
    const Span& s = spans.spans[i];
    for (int x = s.x0; x < s.x1; ++x) {
      float* o = out.at(s.y, x);
      for (int ch = 0; ch < out.c; ++ch) o[ch] = apply_binary(op, operand_at(a, s.y, x, ch), operand_at(b, s.y, x, ch));
    }
  }
}

void binary_local(BinaryOp op, const LocalOperand& a, const LocalOperand& b, const MapView& out, SpanList spans,
                  ThreadPool& pool) {
  detail::BinaryRowFn fn = detail::binary_row_fn(best_isa());
  const int c = out.c;
  if (c <= 0) return;
  const bool as = a.kind == LocalOperand::Scalar || (a.kind == LocalOperand::Channels && c == 1);
  const bool bs = b.kind == LocalOperand::Scalar || (b.kind == LocalOperand::Channels && c == 1);
  const bool packed = out.pixel_stride == c && operand_packed(a, c) && operand_packed(b, c);
  detail::parallel_spans(pool, spans, c, [&](const Span* sp, int count) {
    for (int i = 0; i < count; ++i) {
      const Span& s = sp[i];
      if (s.x1 <= s.x0) continue;
      if (packed) {
        fn(op, operand_ptr(a, s.y, s.x0), as, operand_ptr(b, s.y, s.x0), bs, out.at(s.y, s.x0),
           static_cast<int64_t>(s.x1 - s.x0) * c);
      } else {
        for (int x = s.x0; x < s.x1; ++x)
          fn(op, operand_ptr(a, s.y, x), as, operand_ptr(b, s.y, x), bs, out.at(s.y, x), c);
      }
    }
  });
}

void unary_local_reference(UnaryOp op, const MapView& in, const MapView& out, SpanList spans) {
  for (int i = 0; i < spans.count; ++i) {
    const Span& s = spans.spans[i];
    for (int x = s.x0; x < s.x1; ++x) {
      const float* p = in.at(s.y, x);
      float* o = out.at(s.y, x);
      for (int ch = 0; ch < out.c; ++ch) o[ch] = apply_unary_reference(op, p[ch]);
    }
  }
}

void unary_local(UnaryOp op, const MapView& in, const MapView& out, SpanList spans, ThreadPool& pool) {
  detail::UnaryRowFn fn = detail::unary_row_fn(best_isa());
  const int c = out.c;
  if (c <= 0) return;
  const bool packed = in.pixel_stride == c && out.pixel_stride == c;
  detail::parallel_spans(pool, spans, static_cast<int64_t>(c) * 16, [&](const Span* sp, int count) {
    for (int i = 0; i < count; ++i) {
      const Span& s = sp[i];
      if (s.x1 <= s.x0) continue;
      if (packed) {
        fn(op, in.at(s.y, s.x0), out.at(s.y, s.x0), static_cast<int64_t>(s.x1 - s.x0) * c);
      } else {
        for (int x = s.x0; x < s.x1; ++x) fn(op, in.at(s.y, x), out.at(s.y, x), c);
      }
    }
  });
}

void copy_channels(const MapView& in, const MapView& out, SpanList spans, ThreadPool& pool) {
  const int c = out.c;
  if (c <= 0) return;
  const bool packed = in.pixel_stride == c && out.pixel_stride == c;
  const size_t pixel_bytes = static_cast<size_t>(c) * sizeof(float);
  detail::parallel_spans(pool, spans, c / 4 + 1, [&](const Span* sp, int count) {
    for (int i = 0; i < count; ++i) {
      const Span& s = sp[i];
      if (s.x1 <= s.x0) continue;
      if (packed) {
        std::memmove(out.at(s.y, s.x0), in.at(s.y, s.x0), pixel_bytes * static_cast<size_t>(s.x1 - s.x0));
      } else if (c <= 4) {
        for (int x = s.x0; x < s.x1; ++x) {
          const float* p = in.at(s.y, x);
          float* o = out.at(s.y, x);
          for (int ch = 0; ch < c; ++ch) o[ch] = p[ch];
        }
      } else {
        for (int x = s.x0; x < s.x1; ++x) std::memcpy(out.at(s.y, x), in.at(s.y, x), pixel_bytes);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Plain tensors with numpy broadcasting

namespace {

// The broadcast as loops: dims (outer to inner) after dropping size-1 axes and merging axes that
// iterate both operands linearly; a / b strides are 0 along broadcast axes. The innermost axis has
// stride 1 or 0 in each operand.
struct Broadcast {
  int rank = 0;
  int64_t d[Shape::kMaxRank] = {};
  int64_t sa[Shape::kMaxRank] = {};
  int64_t sb[Shape::kMaxRank] = {};
};

void operand_strides(const Shape& s, const Shape& out, int64_t* strides) {
  const int R = out.rank;
  int64_t st = 1;
  for (int i = R - 1; i >= 0; --i) {
    int ai = i - (R - s.rank);
    int64_t dim = ai >= 0 ? s.d[ai] : 1;
    strides[i] = dim == 1 ? 0 : st;
    st *= dim;
  }
}

Broadcast plan_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  int64_t sa[Shape::kMaxRank], sb[Shape::kMaxRank];
  operand_strides(a, out, sa);
  operand_strides(b, out, sb);
  Broadcast r;
  for (int i = 0; i < out.rank; ++i) {
    if (out.d[i] == 1) continue;
    if (r.rank > 0) {
      int k = r.rank - 1;
      if (r.sa[k] == sa[i] * out.d[i] && r.sb[k] == sb[i] * out.d[i]) {
        r.d[k] *= out.d[i];
        r.sa[k] = sa[i];
        r.sb[k] = sb[i];
        continue;
      }
    }
    r.d[r.rank] = out.d[i];
    r.sa[r.rank] = sa[i];
    r.sb[r.rank] = sb[i];
    ++r.rank;
  }
  if (r.rank == 0) {
    r.rank = 1;
    r.d[0] = 1;
    r.sa[0] = r.sb[0] = 0;
  }
  return r;
}

}  // namespace

void binary_plain_reference(BinaryOp op, const float* a, const Shape& a_shape, const float* b,
                            const Shape& b_shape, float* out, const Shape& out_shape) {
  const int R = out_shape.rank;
  const int64_t n = out_shape.numel();
  for (int64_t i = 0; i < n; ++i) {
    // Decompose the flat output index and map it into each operand (size-1 axes read index 0).
    int64_t rem = i, ia = 0, ib = 0, sta = 1, stb = 1;
    for (int k = R - 1; k >= 0; --k) {
      int64_t idx = rem % out_shape.d[k];
      rem /= out_shape.d[k];
      int ka = k - (R - a_shape.rank), kb = k - (R - b_shape.rank);
      if (ka >= 0) {
        if (a_shape.d[ka] != 1) ia += idx * sta;
        sta *= a_shape.d[ka];
      }
      if (kb >= 0) {
        if (b_shape.d[kb] != 1) ib += idx * stb;
        stb *= b_shape.d[kb];
      }
    }
    out[i] = apply_binary(op, a[ia], b[ib]);
  }
}

void binary_plain(BinaryOp op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
                  float* out, const Shape& out_shape, ThreadPool& pool) {
  detail::BinaryRowFn fn = detail::binary_row_fn(best_isa());
  const Broadcast bc = plan_broadcast(a_shape, b_shape, out_shape);
  const int inner_axis = bc.rank - 1;
  const int64_t inner = bc.d[inner_axis];
  const bool as = bc.sa[inner_axis] == 0, bs = bc.sb[inner_axis] == 0;
  int64_t rows = 1;
  for (int k = 0; k < inner_axis; ++k) rows *= bc.d[k];
  detail::parallel_for(pool, rows, inner, [&](int64_t r0, int64_t r1) {
    // Coordinates of row r0 over the outer axes, then an odometer.
    int64_t idx[Shape::kMaxRank] = {};
    int64_t rem = r0, oa = 0, ob = 0;
    for (int k = inner_axis - 1; k >= 0; --k) {
      idx[k] = rem % bc.d[k];
      rem /= bc.d[k];
      oa += idx[k] * bc.sa[k];
      ob += idx[k] * bc.sb[k];
    }
    for (int64_t r = r0; r < r1; ++r) {
      fn(op, a + oa, as, b + ob, bs, out + r * inner, inner);
      for (int k = inner_axis - 1; k >= 0; --k) {
        oa += bc.sa[k];
        ob += bc.sb[k];
        if (++idx[k] < bc.d[k]) break;
        oa -= bc.sa[k] * bc.d[k];
        ob -= bc.sb[k] * bc.d[k];
        idx[k] = 0;
      }
    }
  });
}

void unary_plain_reference(UnaryOp op, const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = apply_unary_reference(op, in[i]);
}

void unary_plain(UnaryOp op, const float* in, float* out, int64_t n, ThreadPool& pool) {
  detail::UnaryRowFn fn = detail::unary_row_fn(best_isa());
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  detail::parallel_for(pool, blocks, kBlock * 16, [&](int64_t b0, int64_t b1) {
    int64_t i0 = b0 * kBlock, i1 = b1 * kBlock < n ? b1 * kBlock : n;
    fn(op, in + i0, out + i0, i1 - i0);
  });
}

}  // namespace fx
