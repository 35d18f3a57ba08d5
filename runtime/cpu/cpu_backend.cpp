#include "runtime/cpu/cpu_backend.h"

#include <mimalloc.h>

#include <cmath>
#include <cstring>

#include "ops/cpu_features.h"
#include "runtime/error.h"

namespace fx {

namespace {

// Cache copies are memory-bound: below this many floats the pool's wake-up costs more than it saves.
constexpr int64_t kParallelCopyFloats = 1 << 16;

// Runs fn(i, 0) for i in [0, n) on the pool when `floats` of data move, else on the calling thread.
template <typename F>
void copy_loop(ThreadPool& pool, int64_t n, int64_t floats, F&& fn) {
  if (floats >= kParallelCopyFloats) {
    pool.run(n, fn);
  } else {
    for (int64_t i = 0; i < n; ++i) fn(i, 0);
  }
}

void copy_pixels(float* dst, const float* src, int c) { std::memcpy(dst, src, static_cast<size_t>(c) * 4); }

}  // namespace

WorkspaceBlocks::WorkspaceBlocks(size_t bytes_per_thread, int threads) : bytes_(bytes_per_thread) {
  for (int t = 0; t < threads; ++t) {
    auto* p = static_cast<float*>(mi_malloc_aligned(bytes_ ? bytes_ : 64, 64));
    if (!p) {
      for (float* q : blocks_) mi_free(q);
      throw Error("cannot allocate kernel scratch memory");
    }
    blocks_.push_back(p);
  }
}

WorkspaceBlocks::~WorkspaceBlocks() {
  for (float* p : blocks_) mi_free(p);
}

CpuDevice::CpuDevice(std::shared_ptr<const Plan> plan, BackendOptions opt, std::shared_ptr<ThreadPool> pool,
                     std::shared_ptr<const OpRunner> runner)
    : Device(std::move(plan), std::move(opt)), pool_(std::move(pool)), runner_(std::move(runner)) {
  if (!pool_) pool_ = std::make_shared<ThreadPool>(opt_.threads);
  if (!runner_) runner_ = std::make_shared<OpRunner>(plan_);
}

std::string CpuDevice::name() const {
  return std::string("cpu (") + isa_name(best_isa()) + ", " + std::to_string(pool_->size()) + " threads)";
}

std::unique_ptr<Backend> CpuDevice::new_backend() const { return std::make_unique<CpuBackend>(*this); }

CpuBackend::CpuBackend(const CpuDevice& device)
    : device_(device), pool_(device.pool()), workspace_(device.runner()->workspace_bytes(), device.pool().size()) {}

CpuBackend::~CpuBackend() = default;

void CpuBackend::reserve(const Limits& limits) {
  if (static_cast<int64_t>(scratch_.size()) < limits.floats) scratch_.resize(static_cast<size_t>(limits.floats));
  if (static_cast<int64_t>(run_offset_.size()) < limits.positions)
    run_offset_.resize(static_cast<size_t>(limits.positions));
}

float* CpuBackend::alloc(size_t floats) {
  auto* p = static_cast<float*>(mi_zalloc_aligned(floats ? floats * 4 : 64, 64));
  if (!p) throw Error("out of memory allocating " + std::to_string(floats * 4) + " bytes of tensor storage");
  return p;
}

void CpuBackend::release(float* p) noexcept { mi_free(p); }

void CpuBackend::upload(float* dst, const float* host, size_t floats) {
  if (dst != host && floats) std::memcpy(dst, host, floats * 4);
}

void CpuBackend::download(float* host, const float* src, size_t floats) {
  if (host != src && floats) std::memcpy(host, src, floats * 4);
}

void CpuBackend::download_map(const MapView& m, float* host) {
  for (int y = 0; y < m.h; ++y)
    for (int x = 0; x < m.w; ++x) copy_pixels(host + (static_cast<size_t>(y) * m.w + x) * m.c, m.at(y, x), m.c);
}

void CpuBackend::upload_map(const MapView& m, const float* host) {
  for (int y = 0; y < m.h; ++y)
    for (int x = 0; x < m.w; ++x) copy_pixels(m.at(y, x), host + (static_cast<size_t>(y) * m.w + x) * m.c, m.c);
}

void CpuBackend::run(int op, const TensorBases& bases, const SpanList* spans) {
  device_.runner()->run(op, bases, spans, pool_, workspace_.get());
}

void CpuBackend::copy_map(const MapView& src, const MapView& dst) {
  copy_loop(pool_, src.h, static_cast<int64_t>(src.h) * src.w * src.c, [&](int64_t y, int) {
    for (int x = 0; x < src.w; ++x) copy_pixels(dst.at(static_cast<int>(y), x), src.at(static_cast<int>(y), x), src.c);
  });
}

void CpuBackend::copy_runs(const MapView& src, const MapView& dst, const CopyRun* runs, size_t n) {
  int64_t positions = 0;
  for (size_t i = 0; i < n; ++i) positions += runs[i].x1 - runs[i].x0;
  const bool packed = src.pixel_stride == src.c && dst.pixel_stride == dst.c;
  copy_loop(pool_, static_cast<int64_t>(n), positions * src.c, [&](int64_t i, int) {
    const CopyRun& r = runs[i];
    if (packed) {
      std::memcpy(dst.at(r.y, r.x0), src.at(r.sy, r.sx), static_cast<size_t>(r.x1 - r.x0) * src.c * 4);
    } else {
      for (int k = 0; k < r.x1 - r.x0; ++k) copy_pixels(dst.at(r.y, r.x0 + k), src.at(r.sy, r.sx + k), src.c);
    }
  });
}

void CpuBackend::move_in_place(const MapView& m, const CopyRun* runs, size_t n, int64_t floats) {
  if (static_cast<int64_t>(scratch_.size()) < floats || run_offset_.size() < n)
    throw Error("internal: move_in_place beyond the reserved scratch");
  size_t off = 0;
  for (size_t i = 0; i < n; ++i) {
    run_offset_[i] = off;
    off += static_cast<size_t>(runs[i].x1 - runs[i].x0) * m.c;
  }
  // Every source into scratch first (a source may be another run's destination), then every write.
  for (int pass = 0; pass < 2; ++pass)
    copy_loop(pool_, static_cast<int64_t>(n), floats, [&](int64_t i, int) {
      const CopyRun& r = runs[i];
      float* tmp = scratch_.data() + run_offset_[static_cast<size_t>(i)];
      for (int k = 0; k < r.x1 - r.x0; ++k, tmp += m.c) {
        if (pass == 0) copy_pixels(tmp, m.at(r.sy, r.sx + k), m.c);
        else copy_pixels(m.at(r.y, r.x0 + k), tmp, m.c);
      }
    });
}

void CpuBackend::gather(const MapView& m, SpanList spans, float* scratch) {
  size_t k = 0;
  for (int i = 0; i < spans.count; ++i) {
    const Span& s = spans.spans[i];
    for (int x = s.x0; x < s.x1; ++x, k += static_cast<size_t>(m.c)) copy_pixels(scratch + k, m.at(s.y, x), m.c);
  }
}

void CpuBackend::keep_close(const MapView& now, SpanList spans, const MapView& before, const KeepCandidate* table,
                            int ncand, int8_t* choice) {
  const int ch = now.c;
  auto close = [&](const float* a, const float* b, float e) {
    if (e <= 0.f) return std::memcmp(a, b, static_cast<size_t>(ch) * 4) == 0;
    for (int k = 0; k < ch; ++k)
      if (!(std::fabs(a[k] - b[k]) <= e)) return false;
    return true;
  };
  int64_t pos = 0;
  for (int i = 0; i < spans.count; ++i) {
    const Span& s = spans.spans[i];
    for (int x = s.x0; x < s.x1; ++x, ++pos) {
      float* v = now.at(s.y, x);
      choice[pos] = -1;
      for (int c = 0; c < ncand; ++c) {
        const KeepCandidate& k = table[pos * ncand + c];
        if (k.src < 0) continue;
        const float* b = before.at(k.src / before.w, k.src % before.w);
        if (close(v, b, k.eps)) {
          copy_pixels(v, b, ch);
          choice[pos] = static_cast<int8_t>(c);
          break;
        }
      }
    }
  }
}

void CpuBackend::write_image(const MapView& m, const uint8_t* rgb, int width, SpanList spans) {
  copy_loop(pool_, spans.count, spans.positions * 3, [&](int64_t i, int) {
    const Span& s = spans.spans[i];
    for (int x = s.x0; x < s.x1; ++x) {
      const uint8_t* px = rgb + (static_cast<size_t>(s.y) * width + x) * 3;
      float* d = m.at(s.y, x);
      for (int c = 0; c < 3; ++c) d[c] = image_value(px[c]);
    }
  });
}

void CpuBackend::scatter_planar(const MapView& m, const int64_t* positions, size_t n, float* planar) {
  const int64_t hw = static_cast<int64_t>(m.h) * m.w;
  // Channel by channel: the writes of one channel stay within one plane.
  pool_.run(m.c, [&](int64_t c, int) {
    float* plane = planar + c * hw;
    for (size_t i = 0; i < n; ++i) plane[positions[i]] = m.data[positions[i] * m.pixel_stride + c];
  });
}

}  // namespace fx
