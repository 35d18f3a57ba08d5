#include "ops/shape/shape_ops.h"

#include <cstring>

#include "ops/elementwise/parallel.h"
#include "ops/shape/shape_internal.h"

namespace fx {
namespace detail {

void transpose2d_generic(const float* src, int64_t sld, float* dst, int64_t dld, int64_t rows, int64_t cols) {
  if (rows <= 4) {  // interleaving a few rows (e.g. NCHW -> NHWC with 3 channels)
    for (int64_t j = 0; j < cols; ++j) {
      float* d = dst + j * dld;
      for (int64_t i = 0; i < rows; ++i) d[i] = src[i * sld + j];
    }
    return;
  }
  if (cols <= 4) {  // de-interleaving a few columns
    for (int64_t j = 0; j < cols; ++j) {
      float* d = dst + j * dld;
      const float* s = src + j;
      for (int64_t i = 0; i < rows; ++i) d[i] = s[i * sld];
    }
    return;
  }
  constexpr int64_t B = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += B) {
    const int64_t i1 = i0 + B < rows ? i0 + B : rows;
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
      const int64_t j1 = j0 + B < cols ? j0 + B : cols;
      for (int64_t j = j0; j < j1; ++j) {
        float* d = dst + j * dld;
        for (int64_t i = i0; i < i1; ++i) d[i] = src[i * sld + j];
      }
    }
  }
}

Transpose2dFn transpose2d_fn(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  if (isa == CpuIsa::Avx512 || isa == CpuIsa::Avx2) return transpose2d_avx2;
#endif
  (void)isa;
  return transpose2d_generic;
}

}  // namespace detail

namespace {

constexpr int kMaxRank = Shape::kMaxRank;

void contiguous_strides(const int64_t* d, int rank, int64_t* st) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; --i) {
    st[i] = s;
    s *= d[i];
  }
}

// Tile of a rows x cols transpose: about 4096 elements, long along a short dimension's partner.
void tile_shape(int64_t rows, int64_t cols, int64_t& rb, int64_t& cb) {
  constexpr int64_t kTile = 4096;
  if (cols <= 8) {
    cb = cols;
    rb = kTile / cols;
  } else if (rows <= 8) {
    rb = rows;
    cb = kTile / rows;
  } else {
    rb = 64;
    cb = 64;
  }
  if (rb > rows) rb = rows;
  if (cb > cols) cb = cols;
}

// Splits a rows x cols transpose into cache-sized tiles spread over the pool.
void parallel_transpose2d(detail::Transpose2dFn fn, const float* src, int64_t sld, float* dst, int64_t dld,
                          int64_t rows, int64_t cols, ThreadPool& pool) {
  if (rows <= 0 || cols <= 0) return;
  int64_t rb, cb;
  tile_shape(rows, cols, rb, cb);
  const int64_t nrb = (rows + rb - 1) / rb, ncb = (cols + cb - 1) / cb;
  detail::parallel_for(pool, nrb * ncb, rb * cb, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t i0 = (u / ncb) * rb, j0 = (u % ncb) * cb;
      const int64_t nr = rows - i0 < rb ? rows - i0 : rb, nc = cols - j0 < cb ? cols - j0 : cb;
      fn(src + i0 * sld + j0, sld, dst + j0 * dld + i0, dld, nr, nc);
    }
  });
}

inline void copy_run(float* dst, const float* src, int64_t n) {
  if (n >= 16) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Transpose

void transpose_reference(const float* in, const Shape& in_shape, const int* perm, float* out) {
  const int R = in_shape.rank;
  int64_t st[kMaxRank], od[kMaxRank];
  contiguous_strides(in_shape.d, R, st);
  for (int i = 0; i < R; ++i) od[i] = in_shape.d[perm[i]];
  const int64_t n = in_shape.numel();
  for (int64_t f = 0; f < n; ++f) {
    int64_t rem = f, src = 0;
    for (int i = R - 1; i >= 0; --i) {
      int64_t idx = rem % od[i];
      rem /= od[i];
      src += idx * st[perm[i]];
    }
    out[f] = in[src];
  }
}

void transpose(const float* in, const Shape& in_shape, const int* perm, float* out, ThreadPool& pool) {
  const int R0 = in_shape.rank;
  const int64_t n = in_shape.numel();
  if (n <= 0) return;

  // 1. Drop size-1 axes.
  int newidx[kMaxRank];
  int r1 = 0;
  int64_t d1[kMaxRank];
  for (int a = 0; a < R0; ++a) {
    if (in_shape.d[a] == 1) {
      newidx[a] = -1;
    } else {
      newidx[a] = r1;
      d1[r1++] = in_shape.d[a];
    }
  }
  int p1[kMaxRank];
  int k1 = 0;
  for (int i = 0; i < R0; ++i)
    if (newidx[perm[i]] >= 0) p1[k1++] = newidx[perm[i]];

  // 2. Merge runs of input axes that stay adjacent and in order in the output.
  int gstart[kMaxRank], glen[kMaxRank];
  int ng = 0;
  for (int i = 0; i < r1; ++i) {
    if (ng > 0 && p1[i] == gstart[ng - 1] + glen[ng - 1]) {
      ++glen[ng - 1];
    } else {
      gstart[ng] = p1[i];
      glen[ng] = 1;
      ++ng;
    }
  }
  // Input order of the groups: rank of each group's start axis.
  int R = ng;
  int64_t D[kMaxRank];  // input dims (input order)
  int P[kMaxRank];      // out position -> input axis
  for (int g = 0; g < ng; ++g) {
    int rank = 0;
    for (int h = 0; h < ng; ++h)
      if (gstart[h] < gstart[g]) ++rank;
    P[g] = rank;
    int64_t dim = 1;
    for (int a = gstart[g]; a < gstart[g] + glen[g]; ++a) dim *= d1[a];
    D[rank] = dim;
  }

  if (R <= 1) {  // the identity
    detail::parallel_for(pool, (n + 4095) / 4096, 4096, [&](int64_t b0, int64_t b1) {
      int64_t i0 = b0 * 4096, i1 = b1 * 4096 < n ? b1 * 4096 : n;
      std::memcpy(out + i0, in + i0, static_cast<size_t>(i1 - i0) * sizeof(float));
    });
    return;
  }

  int64_t sin[kMaxRank], OD[kMaxRank], sout[kMaxRank];
  contiguous_strides(D, R, sin);
  for (int i = 0; i < R; ++i) OD[i] = D[P[i]];
  contiguous_strides(OD, R, sout);

  if (P[R - 1] == R - 1) {
    // The innermost input axis stays innermost: copy contiguous runs.
    const int64_t L = D[R - 1];
    const int64_t rows = n / L;
    detail::parallel_for(pool, rows, L, [&](int64_t r0, int64_t r1) {
      int64_t idx[kMaxRank] = {};
      int64_t rem = r0, src = 0;
      for (int i = R - 2; i >= 0; --i) {
        idx[i] = rem % OD[i];
        rem /= OD[i];
        src += idx[i] * sin[P[i]];
      }
      for (int64_t r = r0; r < r1; ++r) {
        copy_run(out + r * L, in + src, L);
        for (int i = R - 2; i >= 0; --i) {
          src += sin[P[i]];
          if (++idx[i] < OD[i]) break;
          src -= sin[P[i]] * OD[i];
          idx[i] = 0;
        }
      }
    });
    return;
  }

  // A batch of 2-D transposes: plane rows = input axis k (the output's innermost), plane columns = the
  // input's innermost axis (at output position j); the other axes index the planes.
  detail::Transpose2dFn fn = detail::transpose2d_fn(best_isa());
  const int k = P[R - 1];
  int j = 0;
  while (P[j] != R - 1) ++j;
  const int64_t rows = D[k], cols = D[R - 1];
  const int64_t sld = sin[k], dld = sout[j];
  int no = 0;
  int64_t odim[kMaxRank], oin[kMaxRank], oout[kMaxRank];
  for (int i = 0; i < R; ++i) {
    if (i == j || i == R - 1) continue;
    odim[no] = OD[i];
    oin[no] = sin[P[i]];
    oout[no] = sout[i];
    ++no;
  }
  const int64_t planes = n / (rows * cols);
  int64_t rb, cb;
  tile_shape(rows, cols, rb, cb);
  const int64_t nrb = (rows + rb - 1) / rb, ncb = (cols + cb - 1) / cb;
  detail::parallel_for(pool, planes * nrb * ncb, rb * cb, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      int64_t plane = u / (nrb * ncb), t = u % (nrb * ncb);
      int64_t src = 0, dst = 0;
      for (int i = no - 1; i >= 0; --i) {
        int64_t idx = plane % odim[i];
        plane /= odim[i];
        src += idx * oin[i];
        dst += idx * oout[i];
      }
      const int64_t i0 = (t / ncb) * rb, j0 = (t % ncb) * cb;
      const int64_t nr = rows - i0 < rb ? rows - i0 : rb, nc = cols - j0 < cb ? cols - j0 : cb;
      fn(in + src + i0 * sld + j0, sld, out + dst + j0 * dld + i0, dld, nr, nc);
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Slice

void slice(const float* in, const Shape& in_shape, const int64_t* starts, const int64_t* steps, float* out,
           const Shape& out_shape, ThreadPool& pool) {
  const int R = in_shape.rank;
  const int64_t n = out_shape.numel();
  if (n <= 0) return;
  if (R == 0) {
    out[0] = in[0];
    return;
  }
  int64_t st[kMaxRank], ostep[kMaxRank];
  contiguous_strides(in_shape.d, R, st);
  int64_t base = 0;
  for (int i = 0; i < R; ++i) {
    base += starts[i] * st[i];
    ostep[i] = steps[i] * st[i];
  }
  const int64_t L = out_shape.d[R - 1];
  const int64_t step = steps[R - 1];
  const int64_t rows = n / L;
  detail::parallel_for(pool, rows, L, [&](int64_t r0, int64_t r1) {
    int64_t idx[kMaxRank] = {};
    int64_t rem = r0, src = base;
    for (int i = R - 2; i >= 0; --i) {
      idx[i] = rem % out_shape.d[i];
      rem /= out_shape.d[i];
      src += idx[i] * ostep[i];
    }
    for (int64_t r = r0; r < r1; ++r) {
      float* o = out + r * L;
      if (step == 1) {
        copy_run(o, in + src, L);
      } else {
        const float* s = in + src;
        for (int64_t e = 0; e < L; ++e) o[e] = s[e * step];
      }
      for (int i = R - 2; i >= 0; --i) {
        src += ostep[i];
        if (++idx[i] < out_shape.d[i]) break;
        src -= ostep[i] * out_shape.d[i];
        idx[i] = 0;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Concat / split

void concat_plain(const float* const* inputs, const Shape* input_shapes, int count, int axis, float* out,
                  ThreadPool& pool) {
  if (count <= 0) return;
  const Shape& s0 = input_shapes[0];
  if (axis < 0) axis += s0.rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s0.d[i];
  for (int i = axis + 1; i < s0.rank; ++i) inner *= s0.d[i];
  int64_t out_chunk = 0;
  for (int t = 0; t < count; ++t) out_chunk += input_shapes[t].d[axis] * inner;
  if (out_chunk <= 0 || outer <= 0) return;
  detail::parallel_for(pool, outer * count, out_chunk / count + 1, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t o = u / count;
      const int t = static_cast<int>(u % count);
      int64_t offset = 0;
      for (int q = 0; q < t; ++q) offset += input_shapes[q].d[axis] * inner;
      const int64_t chunk = input_shapes[t].d[axis] * inner;
      copy_run(out + o * out_chunk + offset, inputs[t] + o * chunk, chunk);
    }
  });
}

void split_plain(const float* in, const Shape& in_shape, int axis, float* const* outputs, const int64_t* sizes,
                 int count, ThreadPool& pool) {
  if (count <= 0) return;
  if (axis < 0) axis += in_shape.rank;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= in_shape.d[i];
  for (int i = axis + 1; i < in_shape.rank; ++i) inner *= in_shape.d[i];
  const int64_t in_chunk = in_shape.d[axis] * inner;
  if (in_chunk <= 0 || outer <= 0) return;
  detail::parallel_for(pool, outer * count, in_chunk / count + 1, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t o = u / count;
      const int t = static_cast<int>(u % count);
      int64_t offset = 0;
      for (int q = 0; q < t; ++q) offset += sizes[q] * inner;
      const int64_t chunk = sizes[t] * inner;
      copy_run(outputs[t] + o * chunk, in + o * in_chunk + offset, chunk);
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Layout conversion

void nhwc_to_nchw(const MapView& in, float* out, ThreadPool& pool) {
  const int64_t hw = static_cast<int64_t>(in.h) * in.w;
  if (hw <= 0 || in.c <= 0) return;
  if (in.c == 1 && in.pixel_stride == 1) {
    copy_run(out, in.data, hw);
    return;
  }
  // Rows: pixels (stride pixel_stride); columns: channels.
  parallel_transpose2d(detail::transpose2d_fn(best_isa()), in.data, in.pixel_stride, out, hw, hw, in.c, pool);
}

void nchw_to_nhwc(const float* in, const MapView& out, ThreadPool& pool) {
  const int64_t hw = static_cast<int64_t>(out.h) * out.w;
  if (hw <= 0 || out.c <= 0) return;
  if (out.c == 1 && out.pixel_stride == 1) {
    copy_run(out.data, in, hw);
    return;
  }
  // Rows: channels (stride h*w); columns: pixels.
  parallel_transpose2d(detail::transpose2d_fn(best_isa()), in, hw, out.data, out.pixel_stride, out.c, hw, pool);
}

}  // namespace fx
