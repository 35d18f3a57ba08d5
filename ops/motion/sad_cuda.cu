#include "ops/motion/sad_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "ops/motion/motion_search_core.h"

namespace fx::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr size_t kMaxStaticSmem = 48 * 1024;  // dynamic shared memory without an opt-in

// Where the reference window lives: byte (row, col) of the reference image is at
// p[(row - row0) * stride + col - col0].
struct RefView {
  const uint8_t* p;
  int64_t stride;
  int row0, col0;
};

struct DeviceEval {
  const uint8_t* cur;  // the block: B rows of 3B bytes, cur_stride bytes apart (shared or global memory)
  int64_t cur_stride;
  RefView ref;
  int B, x0, y0;
  uint32_t* s_sad;      // shared: one per list entry (>= 10)
  MotionCand* s_best;   // shared: one per warp
  int warp, lane;
  bool words;  // both staged in shared memory and rows a multiple of 4 bytes: 4 bytes per step

  __device__ uint32_t sad(int dx, int dy) const {
    const int rb = 3 * B;
    uint32_t s = 0;
    const int64_t col = static_cast<int64_t>(x0 + dx) * 3 - ref.col0;
    if (words) {
      // The block's rows as aligned 32-bit words; the reference's at any byte offset, each word put
      // together from the two aligned words around it (the staging leaves 4 bytes of slack after the
      // window). __vsadu4: the sum of the four bytes' |a - b|; the same integers as the byte loop.
      const uint8_t* rbase = ref.p + static_cast<int64_t>(y0 + dy - ref.row0) * ref.stride + col;
      auto word = [&](int r, int w) {
        const uint32_t a = *reinterpret_cast<const uint32_t*>(cur + r * cur_stride + 4 * w);
        const uintptr_t addr = reinterpret_cast<uintptr_t>(rbase + r * ref.stride + 4 * w);
        const uint32_t* al = reinterpret_cast<const uint32_t*>(addr & ~static_cast<uintptr_t>(3));
        const unsigned shift = static_cast<unsigned>(addr & 3);
        return __vsadu4(a, __byte_perm(al[0], al[1], 0x3210u + shift * 0x1111u));
      };
      if (B == 16) {  // the usual block: 192 words, 6 per lane, constant index arithmetic
#pragma unroll
        for (int t = 0; t < 6; ++t) {
          const int i = lane + 32 * t;
          s += word(i / 12, i % 12);
        }
      } else {
        const int wpr = rb / 4, total = B * wpr;
        for (int i = lane; i < total; i += 32) s += word(i / wpr, i % wpr);
      }
    } else {
      for (int r = 0; r < B; ++r) {
        const uint8_t* a = cur + r * cur_stride;
        const uint8_t* b = ref.p + static_cast<int64_t>(y0 + dy + r - ref.row0) * ref.stride + col;
        for (int c = lane; c < rb; c += 32) {
          const int d = static_cast<int>(a[c]) - static_cast<int>(b[c]);
          s += static_cast<uint32_t>(d < 0 ? -d : d);
        }
      }
    }
#pragma unroll
    for (int o = 16; o >= 1; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    return s;  // every lane holds the sum
  }

  __device__ void eval(MotionCand* list, int n) {
    __syncthreads();  // earlier readers of s_sad are done
    for (int i = warp; i < n; i += kWarps) {
      const uint32_t s = sad(list[i].dx, list[i].dy);
      if (lane == 0) s_sad[i] = s;
    }
    __syncthreads();
    for (int i = 0; i < n; ++i) list[i].sad = s_sad[i];
  }

  // One thread's whole 16 x 16 SAD (words mode): per row, the block's 12 words against 12 words put
  // together from the 13 aligned reference words the row spans.
  __device__ uint32_t sad16_thread(int dx, int dy) const {
    const int64_t col = static_cast<int64_t>(x0 + dx) * 3 - ref.col0;
    const uint8_t* rrow = ref.p + static_cast<int64_t>(y0 + dy - ref.row0) * ref.stride + col;
    const unsigned shift = static_cast<unsigned>(reinterpret_cast<uintptr_t>(rrow) & 3);
    const unsigned sel = 0x3210u + shift * 0x1111u;
    const uint32_t* al = reinterpret_cast<const uint32_t*>(rrow - shift);
    const int64_t astride = ref.stride / 4;
    uint32_t s = 0;
    for (int r = 0; r < 16; ++r) {
      const uint32_t* a = reinterpret_cast<const uint32_t*>(cur + r * cur_stride);
      uint32_t lo = al[0];
#pragma unroll
      for (int w = 0; w < 12; ++w) {
        const uint32_t hi = al[w + 1];
        s += __vsadu4(a[w], __byte_perm(lo, hi, sel));
        lo = hi;
      }
      al += astride;
    }
    return s;
  }

  __device__ MotionCand best_in_rect(int dx_lo, int dx_hi, int dy_lo, int dy_hi) {
    const int nx = dx_hi - dx_lo + 1, ny = dy_hi - dy_lo + 1;
    const int total = nx * ny;
    MotionCand best{0, 0, 0xffffffffu};
    bool have = false;
    if (words && B == 16 && ref.stride % 4 == 0) {
      // Every thread its own candidates; then the block's minimum under the same total order, so the
      // winner is the one the warp-per-candidate loop below (and the CPU) picks.
      for (int i = threadIdx.x; i < total; i += kThreads) {
        MotionCand c;
        c.dy = dy_lo + i / nx;
        c.dx = dx_lo + i % nx;
        c.sad = sad16_thread(c.dx, c.dy);
        if (!have || motion_better(c, best)) {
          best = c;
          have = true;
        }
      }
      if (!have) best.sad = 0xffffffffu, best.dx = 0x7fff, best.dy = 0x7fff;  // sorts after any vector
#pragma unroll
      for (int o = 16; o >= 1; o >>= 1) {
        MotionCand other;
        other.sad = __shfl_xor_sync(0xffffffffu, best.sad, o);
        other.dx = __shfl_xor_sync(0xffffffffu, best.dx, o);
        other.dy = __shfl_xor_sync(0xffffffffu, best.dy, o);
        if (motion_better(other, best)) best = other;
      }
      __syncthreads();  // earlier readers of s_best are done
      if (lane == 0) s_best[warp] = best;
      __syncthreads();
      MotionCand b = s_best[0];
      for (int w = 1; w < kWarps; ++w)
        if (motion_better(s_best[w], b)) b = s_best[w];
      return b;
    }
    for (int i = warp; i < total; i += kWarps) {
      MotionCand c;
      c.dy = dy_lo + i / nx;
      c.dx = dx_lo + i % nx;
      c.sad = sad(c.dx, c.dy);  // warp-uniform: every lane holds the sum
      if (!have || motion_better(c, best)) {
        best = c;
        have = true;
      }
    }
    __syncthreads();  // earlier readers of s_best are done
    if (lane == 0) {
      if (!have) best.sad = 0xffffffffu, best.dx = 0x7fff, best.dy = 0x7fff;  // a warp with no vector
      s_best[warp] = best;
    }
    __syncthreads();
    MotionCand b = s_best[0];
    for (int w = 1; w < kWarps; ++w)
      if (motion_better(s_best[w], b)) b = s_best[w];
    return b;
  }
};

__global__ void __launch_bounds__(kThreads) motion_search_kernel(MotionJob j, const uint8_t* cur, const uint8_t* ref,
                                                                 bool stage_cur, bool stage_ref, MotionResult* out) {
  extern __shared__ __align__(16) uint8_t smem[];
  __shared__ uint32_t s_sad[16];
  __shared__ MotionCand s_best[kWarps];
  const int bx = blockIdx.x, by = blockIdx.y;
  const int B = j.B, rb = 3 * B;
  const int x0 = bx * B, y0 = by * B;
  const int64_t stride = static_cast<int64_t>(j.width) * 3;
  const MotionRect R = motion_rect(j, bx, by);

  // The block, staged in shared memory when it fits (blocks of 128 px and more are read in place).
  const uint8_t* block = cur + static_cast<int64_t>(y0) * stride + static_cast<int64_t>(x0) * 3;
  int64_t block_stride = stride;
  if (stage_cur) {
    for (int i = threadIdx.x; i < B * rb; i += kThreads) {
      const int r = i / rb, c = i - r * rb;
      smem[i] = block[static_cast<int64_t>(r) * stride + c];
    }
    block = smem;
    block_stride = rb;
  }
  RefView rv{ref, stride, 0, 0};
  if (stage_ref) {
    // Rows [y0 + dy_lo, y0 + dy_hi + B), bytes [(x0 + dx_lo) * 3, (x0 + dx_hi + B) * 3).
    uint8_t* s_ref = smem + (stage_cur ? B * rb : 0);
    const int rows = R.dy_hi - R.dy_lo + B, bytes = (R.dx_hi - R.dx_lo + B) * 3;
    const int row0 = y0 + R.dy_lo, col0 = (x0 + R.dx_lo) * 3;
    if (stride % 4 == 0 && rb % 4 == 0) {
      // As whole aligned words: from col0 rounded down to col0 + bytes rounded up (within the row, whose
      // length is a multiple of 4), so the window's rows are a multiple of 4 bytes apart.
      const int c0 = col0 & ~3, wpr = (col0 + bytes + 3 - c0) / 4;
      uint32_t* s_w = reinterpret_cast<uint32_t*>(s_ref);
      const uint32_t* g = reinterpret_cast<const uint32_t*>(ref);
      for (int i = threadIdx.x; i < rows * wpr; i += kThreads) {
        const int r = i / wpr, c = i - r * wpr;
        s_w[i] = g[(static_cast<int64_t>(row0 + r) * stride + c0) / 4 + c];
      }
      rv = RefView{s_ref, 4 * wpr, row0, c0};
    } else {
      for (int i = threadIdx.x; i < rows * bytes; i += kThreads) {
        const int r = i / bytes, c = i - r * bytes;
        s_ref[i] = ref[static_cast<int64_t>(row0 + r) * stride + col0 + c];
      }
      rv = RefView{s_ref, bytes, row0, col0};
    }
  }
  __syncthreads();
  DeviceEval ev{block,
                block_stride,
                rv,
                B,
                x0,
                y0,
                s_sad,
                s_best,
                static_cast<int>(threadIdx.x / 32),
                static_cast<int>(threadIdx.x % 32),
                stage_cur && stage_ref && rb % 4 == 0};
  const MotionResult r = motion_search_block(j, bx, by, ev);
  if (threadIdx.x == 0) out[static_cast<int64_t>(by) * j.cols + bx] = r;
}

}  // namespace

MotionSearchCuda::MotionSearchCuda(int width, int height, AlignerOptions opt) : aligner_(width, height, opt) {
  if (aligner_.rows() > 65535) throw Error("motion search (CUDA): more than 65535 block rows");
  MotionSearchInputs in;
  aligner_.prepare(nullptr, {}, in);
  job_ = in.job;
  const size_t cur_bytes = static_cast<size_t>(opt.block) * opt.block * 3;
  const size_t win_rows =
      std::min<size_t>(2 * static_cast<size_t>(opt.window) + opt.block, static_cast<size_t>(height));
  const size_t win_cols = std::min<size_t>(2 * static_cast<size_t>(opt.window) + opt.block, static_cast<size_t>(width));
  // Rows staged as whole aligned words take up to 6 bytes more; 4 bytes of slack after the window.
  const size_t ref_bytes = win_rows * (win_cols * 3 + 8) + 4;
  const size_t static_bytes = 16 * sizeof(uint32_t) + kWarps * sizeof(MotionCand) + 64;
  // Shared memory holds the block and the reference window when they fit; each is read from global
  // memory otherwise (the same sums, only slower).
  stage_cur_ = cur_bytes + static_bytes <= kMaxStaticSmem;
  const size_t smem_cur = stage_cur_ ? cur_bytes : 0;
  stage_ref_ = smem_cur + ref_bytes + static_bytes <= kMaxStaticSmem;
  smem_bytes_ = smem_cur + (stage_ref_ ? ref_bytes : 0);
  const size_t image = static_cast<size_t>(width) * height * 3;
  cur_.reset(image);
  ref_.reset(image);
  results_.reset(static_cast<size_t>(job_.cols) * job_.rows * sizeof(MotionResult));
  host_results_.resize(results_.size());
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

MotionSearchCuda::~MotionSearchCuda() {
  if (stream_) cudaStreamDestroy(stream_);
}

void MotionSearchCuda::search_only(bool with_prev, cudaStream_t stream) {
  MotionJob j = job_;
  j.prev_mv = with_prev && prev_.get() ? prev_.get() : nullptr;
  j.hint_mv = have_hints_ ? hints_.get() : nullptr;
  j.hint_count = have_hints_ ? hint_count_.get() : nullptr;
  dim3 grid(static_cast<unsigned>(j.cols), static_cast<unsigned>(j.rows));
  motion_search_kernel<<<grid, kThreads, smem_bytes_, stream>>>(j, cur_.get(), ref_.get(), stage_cur_, stage_ref_,
                                                                 reinterpret_cast<MotionResult*>(results_.get()));
  CUDA_CHECK_LAUNCH();
}

void MotionSearchCuda::estimate(const uint8_t* cur, const uint8_t* ref, const MotionField* prev,
                                const std::vector<CodecHint>& hints, MotionField& out) {
  MotionSearchInputs in;
  aligner_.prepare(prev, hints, in);  // checks prev's geometry first
  const size_t image = static_cast<size_t>(job_.width) * job_.height * 3;
  CUDA_CHECK(cudaMemcpyAsync(cur_.get(), cur, image, cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaMemcpyAsync(ref_.get(), ref, image, cudaMemcpyHostToDevice, stream_));
  if (prev) {
    if (prev_.size() != in.prev_mv.size()) prev_.reset(in.prev_mv.size());
    CUDA_CHECK(cudaMemcpyAsync(prev_.get(), in.prev_mv.data(), in.prev_mv.size() * 2, cudaMemcpyHostToDevice, stream_));
  }
  have_hints_ = !hints.empty();
  if (have_hints_) {
    if (hints_.size() != in.hint_mv.size()) hints_.reset(in.hint_mv.size());
    if (hint_count_.size() != in.hint_count.size()) hint_count_.reset(in.hint_count.size());
    CUDA_CHECK(cudaMemcpyAsync(hints_.get(), in.hint_mv.data(), in.hint_mv.size() * 2, cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(
        cudaMemcpyAsync(hint_count_.get(), in.hint_count.data(), in.hint_count.size(), cudaMemcpyHostToDevice, stream_));
  }
  search_only(prev != nullptr, stream_);
  CUDA_CHECK(
      cudaMemcpyAsync(host_results_.data(), results_.get(), host_results_.size(), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));  // also keeps `in` alive until the copies are done

  out.block = job_.B;
  out.cols = job_.cols;
  out.rows = job_.rows;
  out.blocks.resize(static_cast<size_t>(job_.cols) * job_.rows);
  for (size_t i = 0; i < out.blocks.size(); ++i) {
    MotionResult r;
    std::memcpy(&r, host_results_.data() + i * sizeof(MotionResult), sizeof r);
    out.blocks[i] = aligner_.block_motion(r);
  }
}

void estimate_motion_cuda(int width, int height, const AlignerOptions& opt, const uint8_t* cur, const uint8_t* ref,
                          const MotionField* prev, const std::vector<CodecHint>& hints, MotionField& out) {
  MotionSearchCuda search(width, height, opt);
  search.estimate(cur, ref, prev, hints, out);
}

}  // namespace fx::cuda
