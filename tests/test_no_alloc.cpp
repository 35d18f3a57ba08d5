// invoke() never allocates. This binary interposes every heap allocator a process can reach (the C
// library's malloc family, C++ operator new in all its forms, and mimalloc's mi_* entry points, which
// the runtime calls directly for its arenas and caches) and counts the calls made while counting is on,
// from any thread. Counted: the dense executor's invoke, the sparse executor's run (synthetic frames and
// real frames of a bundled clip, steady state) — both must be zero — and a stream session's process,
// whose per-frame count in steady state is held to the bound stated below.
// FX_ALLOC_TRACE=1 prints the stack of every counted allocation (module + offset: addr2line -e ...).
#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <execinfo.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "compiled_model.h"
#include "runtime/dense_executor.h"
#include "runtime/io/letterbox.h"
#include "runtime/io/video_reader.h"
#include "runtime/planner.h"
#include "runtime/session.h"
#include "runtime/sparse/sparse_executor.h"
#include "test_util.h"

// ---------------------------------------------------------------------------------------------------
// The interposers. Each counts one call (nested calls, e.g. operator new -> malloc or mimalloc's own
// entry points calling each other, count once) and forwards to the next definition (mimalloc's, which
// replaces the C library's in this process, or the C library's).
namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
bool g_trace = false;
thread_local int t_depth = 0;      // allocator calls in progress on this thread
thread_local int t_resolving = 0;  // inside dlsym: malloc / calloc are served from g_boot

struct Counted {
  Counted() {
    if (t_depth++ == 0 && g_counting.load(std::memory_order_relaxed)) {
      g_allocations.fetch_add(1, std::memory_order_relaxed);
      if (g_trace) {
        void* frames[24];
        const int n = backtrace(frames, 24);
        static const char sep[] = "-- allocation:\n";
        (void)!write(2, sep, sizeof sep - 1);
        backtrace_symbols_fd(frames, n, 2);
      }
    }
  }
  ~Counted() { --t_depth; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
};

void* next_symbol(const char* name) {
  ++t_resolving;
  void* p = dlsym(RTLD_NEXT, name);
  --t_resolving;
  if (!p) {
    static const char msg[] = "test_no_alloc: an allocator to interpose was not found\n";
    (void)!write(2, msg, sizeof msg - 1);
    std::abort();
  }
  return p;
}

// dlsym may allocate while the first allocator is being resolved: those requests come from here (zeroed,
// never freed) with their size in front.
alignas(64) char g_boot[1 << 16];
size_t g_boot_used = 0;
void* boot_alloc(size_t n) {
  const size_t total = (n + sizeof(size_t) + 63) / 64 * 64;
  if (g_boot_used + total > sizeof g_boot) return nullptr;
  char* p = g_boot + g_boot_used;
  g_boot_used += total;
  std::memcpy(p + 64 - sizeof(size_t), &n, sizeof n);
  return p + 64;  // the header fits in the 64 bytes before the block
}
bool from_boot(const void* p) { return p >= g_boot && p < g_boot + sizeof g_boot; }

template <typename Fn>
Fn next(Fn& slot, const char* name) {
  if (!slot) slot = reinterpret_cast<Fn>(next_symbol(name));
  return slot;
}

}  // namespace

using malloc_fn = void* (*)(size_t);
using calloc_fn = void* (*)(size_t, size_t);
using realloc_fn = void* (*)(void*, size_t);
using free_fn = void (*)(void*);
malloc_fn g_next_malloc = nullptr;
calloc_fn g_next_calloc = nullptr;
realloc_fn g_next_realloc = nullptr;
free_fn g_next_free = nullptr;

extern "C" void* malloc(size_t n) noexcept {
  if (!g_next_malloc && t_resolving) return boot_alloc(n + 64);
  auto f = next(g_next_malloc, "malloc");
  Counted c;
  return f(n);
}
extern "C" void* calloc(size_t n, size_t s) noexcept {
  if (!g_next_calloc && t_resolving) return boot_alloc(n * s + 64);
  auto f = next(g_next_calloc, "calloc");
  Counted c;
  return f(n, s);
}
extern "C" void free(void* p) noexcept {
  if (!p || from_boot(p)) return;
  next(g_next_free, "free")(p);
}
extern "C" void* realloc(void* p, size_t n) noexcept {
  if (from_boot(p)) {
    size_t old;
    std::memcpy(&old, static_cast<char*>(p) - sizeof(size_t), sizeof old);
    void* q = malloc(n);
    if (q) std::memcpy(q, p, old < n ? old : n);
    return q;
  }
  auto f = next(g_next_realloc, "realloc");
  Counted c;
  return f(p, n);
}

// Every other allocating entry point: count, forward.
#define FX_INTERPOSE(ret, name, params, args) \
  extern "C" ret name params noexcept {       \
    static ret(*next_fn) params = nullptr;    \
    auto next_f = next(next_fn, #name);       \
    Counted c;                                \
    return next_f args;                       \
  }
#define FX_INTERPOSE_THROWING(ret, name, params, args) \
  extern "C" ret name params {                         \
    static ret(*next_fn) params = nullptr;             \
    auto next_f = next(next_fn, #name);                \
    Counted c;                                         \
    return next_f args;                                \
  }
using sz = size_t;
using heap = void*;
// The C library.
FX_INTERPOSE(void*, reallocarray, (void* p, sz n, sz s), (p, n, s))
FX_INTERPOSE(void*, aligned_alloc, (sz a, sz n), (a, n))
FX_INTERPOSE(int, posix_memalign, (void** p, sz a, sz n), (p, a, n))
FX_INTERPOSE(void*, memalign, (sz a, sz n), (a, n))
FX_INTERPOSE(void*, valloc, (sz n), (n))
FX_INTERPOSE(void*, pvalloc, (sz n), (n))
// mimalloc (2.0: every exported function that returns new memory).
FX_INTERPOSE(void*, mi_malloc, (sz n), (n))
FX_INTERPOSE(void*, mi_zalloc, (sz n), (n))
FX_INTERPOSE(void*, mi_calloc, (sz n, sz s), (n, s))
FX_INTERPOSE(void*, mi_mallocn, (sz n, sz s), (n, s))
FX_INTERPOSE(void*, mi_malloc_small, (sz n), (n))
FX_INTERPOSE(void*, mi_zalloc_small, (sz n), (n))
FX_INTERPOSE(void*, mi_realloc, (void* p, sz n), (p, n))
FX_INTERPOSE(void*, mi_reallocf, (void* p, sz n), (p, n))
FX_INTERPOSE(void*, mi_reallocn, (void* p, sz n, sz s), (p, n, s))
FX_INTERPOSE(void*, mi_reallocarray, (void* p, sz n, sz s), (p, n, s))
FX_INTERPOSE(int, mi_reallocarr, (void* p, sz n, sz s), (p, n, s))
FX_INTERPOSE(void*, mi_rezalloc, (void* p, sz n), (p, n))
FX_INTERPOSE(void*, mi_recalloc, (void* p, sz n, sz s), (p, n, s))
FX_INTERPOSE(void*, mi_malloc_aligned, (sz n, sz a), (n, a))
FX_INTERPOSE(void*, mi_malloc_aligned_at, (sz n, sz a, sz o), (n, a, o))
FX_INTERPOSE(void*, mi_zalloc_aligned, (sz n, sz a), (n, a))
FX_INTERPOSE(void*, mi_zalloc_aligned_at, (sz n, sz a, sz o), (n, a, o))
FX_INTERPOSE(void*, mi_calloc_aligned, (sz n, sz s, sz a), (n, s, a))
FX_INTERPOSE(void*, mi_calloc_aligned_at, (sz n, sz s, sz a, sz o), (n, s, a, o))
FX_INTERPOSE(void*, mi_realloc_aligned, (void* p, sz n, sz a), (p, n, a))
FX_INTERPOSE(void*, mi_realloc_aligned_at, (void* p, sz n, sz a, sz o), (p, n, a, o))
FX_INTERPOSE(void*, mi_rezalloc_aligned, (void* p, sz n, sz a), (p, n, a))
FX_INTERPOSE(void*, mi_rezalloc_aligned_at, (void* p, sz n, sz a, sz o), (p, n, a, o))
FX_INTERPOSE(void*, mi_recalloc_aligned, (void* p, sz n, sz s, sz a), (p, n, s, a))
FX_INTERPOSE(void*, mi_recalloc_aligned_at, (void* p, sz n, sz s, sz a, sz o), (p, n, s, a, o))
FX_INTERPOSE(void*, mi_aligned_alloc, (sz a, sz n), (a, n))
FX_INTERPOSE(void*, mi_aligned_recalloc, (void* p, sz n, sz s, sz a), (p, n, s, a))
FX_INTERPOSE(void*, mi_aligned_offset_recalloc, (void* p, sz n, sz s, sz a, sz o), (p, n, s, a, o))
FX_INTERPOSE(int, mi_posix_memalign, (void** p, sz a, sz n), (p, a, n))
FX_INTERPOSE(void*, mi_memalign, (sz a, sz n), (a, n))
FX_INTERPOSE(void*, mi_valloc, (sz n), (n))
FX_INTERPOSE(void*, mi_pvalloc, (sz n), (n))
FX_INTERPOSE(char*, mi_strdup, (const char* s), (s))
FX_INTERPOSE(char*, mi_strndup, (const char* s, sz n), (s, n))
FX_INTERPOSE(char*, mi_realpath, (const char* file, char* r), (file, r))
FX_INTERPOSE_THROWING(void*, mi_new, (sz n), (n))
FX_INTERPOSE_THROWING(void*, mi_new_aligned, (sz n, sz a), (n, a))
FX_INTERPOSE(void*, mi_new_nothrow, (sz n), (n))
FX_INTERPOSE(void*, mi_new_aligned_nothrow, (sz n, sz a), (n, a))
FX_INTERPOSE_THROWING(void*, mi_new_n, (sz n, sz s), (n, s))
FX_INTERPOSE_THROWING(void*, mi_new_realloc, (void* p, sz n), (p, n))
FX_INTERPOSE_THROWING(void*, mi_new_reallocn, (void* p, sz n, sz s), (p, n, s))
FX_INTERPOSE(heap, mi_heap_new, (), ())
FX_INTERPOSE(void*, mi_heap_malloc, (heap h, sz n), (h, n))
FX_INTERPOSE(void*, mi_heap_zalloc, (heap h, sz n), (h, n))
FX_INTERPOSE(void*, mi_heap_calloc, (heap h, sz n, sz s), (h, n, s))
FX_INTERPOSE(void*, mi_heap_mallocn, (heap h, sz n, sz s), (h, n, s))
FX_INTERPOSE(void*, mi_heap_malloc_small, (heap h, sz n), (h, n))
FX_INTERPOSE(void*, mi_heap_realloc, (heap h, void* p, sz n), (h, p, n))
FX_INTERPOSE(void*, mi_heap_reallocn, (heap h, void* p, sz n, sz s), (h, p, n, s))
FX_INTERPOSE(void*, mi_heap_reallocf, (heap h, void* p, sz n), (h, p, n))
FX_INTERPOSE(void*, mi_heap_rezalloc, (heap h, void* p, sz n), (h, p, n))
FX_INTERPOSE(void*, mi_heap_recalloc, (heap h, void* p, sz n, sz s), (h, p, n, s))
FX_INTERPOSE(void*, mi_heap_malloc_aligned, (heap h, sz n, sz a), (h, n, a))
FX_INTERPOSE(void*, mi_heap_malloc_aligned_at, (heap h, sz n, sz a, sz o), (h, n, a, o))
FX_INTERPOSE(void*, mi_heap_zalloc_aligned, (heap h, sz n, sz a), (h, n, a))
FX_INTERPOSE(void*, mi_heap_zalloc_aligned_at, (heap h, sz n, sz a, sz o), (h, n, a, o))
FX_INTERPOSE(void*, mi_heap_calloc_aligned, (heap h, sz n, sz s, sz a), (h, n, s, a))
FX_INTERPOSE(void*, mi_heap_calloc_aligned_at, (heap h, sz n, sz s, sz a, sz o), (h, n, s, a, o))
FX_INTERPOSE(void*, mi_heap_realloc_aligned, (heap h, void* p, sz n, sz a), (h, p, n, a))
FX_INTERPOSE(void*, mi_heap_realloc_aligned_at, (heap h, void* p, sz n, sz a, sz o), (h, p, n, a, o))
FX_INTERPOSE(void*, mi_heap_rezalloc_aligned, (heap h, void* p, sz n, sz a), (h, p, n, a))
FX_INTERPOSE(void*, mi_heap_rezalloc_aligned_at, (heap h, void* p, sz n, sz a, sz o), (h, p, n, a, o))
FX_INTERPOSE(void*, mi_heap_recalloc_aligned, (heap h, void* p, sz n, sz s, sz a), (h, p, n, s, a))
FX_INTERPOSE(void*, mi_heap_recalloc_aligned_at, (heap h, void* p, sz n, sz s, sz a, sz o), (h, p, n, s, a, o))
FX_INTERPOSE(char*, mi_heap_strdup, (heap h, const char* s), (h, s))
FX_INTERPOSE(char*, mi_heap_strndup, (heap h, const char* s, sz n), (h, s, n))
FX_INTERPOSE(char*, mi_heap_realpath, (heap h, const char* file, char* r), (h, file, r))
FX_INTERPOSE_THROWING(void*, mi_heap_alloc_new, (heap h, sz n), (h, n))
FX_INTERPOSE_THROWING(void*, mi_heap_alloc_new_n, (heap h, sz n, sz s), (h, n, s))
#undef FX_INTERPOSE
#undef FX_INTERPOSE_THROWING

// C++: every form of operator new, on the C library's functions above (counted once).
namespace {
void* new_or_throw(size_t n) {
  Counted c;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* new_aligned_or_throw(size_t n, std::align_val_t a) {
  Counted c;
  void* p = nullptr;
  if (posix_memalign(&p, static_cast<size_t>(a), n ? n : 1) == 0) return p;
  throw std::bad_alloc();
}
}  // namespace
void* operator new(size_t n) { return new_or_throw(n); }
void* operator new[](size_t n) { return new_or_throw(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  Counted c;
  return std::malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  Counted c;
  return std::malloc(n ? n : 1);
}
void* operator new(size_t n, std::align_val_t a) { return new_aligned_or_throw(n, a); }
void* operator new[](size_t n, std::align_val_t a) { return new_aligned_or_throw(n, a); }
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  Counted c;
  void* p = nullptr;
  return posix_memalign(&p, static_cast<size_t>(a), n ? n : 1) == 0 ? p : nullptr;
}
void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept { return operator new(n, a, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

// ---------------------------------------------------------------------------------------------------

using namespace fx;

extern "C" {
void* mi_malloc(size_t) noexcept;
void* mi_zalloc_aligned(size_t, size_t) noexcept;
void* mi_malloc_aligned(size_t, size_t) noexcept;
void* mi_heap_malloc(void*, size_t) noexcept;
void* mi_heap_get_default() noexcept;
void* mi_new(size_t);
void mi_free(void*) noexcept;
}

namespace {

// Allocations made by fn() (any thread).
template <typename F>
long allocations_in(F&& fn, bool trace = true) {
  g_trace = trace && std::getenv("FX_ALLOC_TRACE") != nullptr;
  g_allocations = 0;
  g_counting = true;
  fn();
  g_counting = false;
  return g_allocations.load();
}

// Keeps the compiler from pairing away an allocation and its release.
void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

std::shared_ptr<const Plan> plan_of(const char* model) { return test::compiled_model(test::source_path(model)).plan; }

}  // namespace

TEST_CASE("the counter sees every allocator, once per call", "[runtime][alloc]") {
  auto one = [](const char* what, auto&& fn) {
    INFO(what);
    CHECK(allocations_in(fn) == 1);
  };
  one("malloc", [] {
    void* p = std::malloc(100);
    escape(p);
    std::free(p);
  });
  one("calloc", [] {
    void* p = std::calloc(10, 10);
    escape(p);
    std::free(p);
  });
  one("realloc", [] {
    void* p = nullptr;
    escape(&p);
    p = std::realloc(p, 100);
    escape(p);
    std::free(p);
  });
  one("aligned_alloc", [] {
    void* p = std::aligned_alloc(64, 128);
    escape(p);
    std::free(p);
  });
  one("posix_memalign", [] {
    void* p = nullptr;
    if (posix_memalign(&p, 64, 128) == 0) escape(p);
    std::free(p);
  });
  one("new", [] {
    int* p = new int(3);
    escape(p);
    delete p;
  });
  one("new[]", [] {
    int* p = new int[30];
    escape(p);
    delete[] p;
  });
  one("aligned new", [] {
    struct alignas(128) Big {
      float v[64];
    };
    Big* p = new Big();
    escape(p);
    delete p;
  });
  one("std::vector", [] {
    std::vector<float> v(1000);
    escape(v.data());
  });
  one("mi_malloc", [] {
    void* p = mi_malloc(1 << 20);
    escape(p);
    mi_free(p);
  });
  one("mi_malloc_aligned", [] {
    void* p = mi_malloc_aligned(1 << 20, 64);
    escape(p);
    mi_free(p);
  });
  one("mi_zalloc_aligned", [] {
    void* p = mi_zalloc_aligned(4096, 64);
    escape(p);
    mi_free(p);
  });
  one("mi_heap_malloc", [] {
    void* p = mi_heap_malloc(mi_heap_get_default(), 100);
    escape(p);
    mi_free(p);
  });
  one("mi_new", [] {
    void* p = mi_new(100);
    escape(p);
    mi_free(p);
  });
  // And on other threads.
  ThreadPool pool(2);
  CHECK(allocations_in([&] {
          pool.run(2, [](int64_t, int) {
            void* p = mi_malloc(64);
            escape(p);
            mi_free(p);
          });
        }) == 2);
}

TEST_CASE("the dense executor's invoke performs no heap allocation", "[runtime][alloc]") {
  for (const char* model : {"assets/yolo11n-320.onnx", "assets/yolo11n-seg-640.onnx"}) {
    auto plan = plan_of(model);
    for (int threads : {1, 2}) {
      DenseExecutor exec(plan, std::make_shared<ThreadPool>(threads));
      exec.invoke();  // warm
      INFO(model << " with " << threads << " threads");
      CHECK(allocations_in([&] {
              exec.invoke();
              exec.invoke();
            }) == 0);
    }
  }
}

TEST_CASE("the sparse executor's run performs no heap allocation (synthetic labels)", "[runtime][sparse][alloc]") {
  auto plan = plan_of("assets/yolo11n-320.onnx");
  auto pool = std::make_shared<ThreadPool>(2);
  SparseExecutor sp(plan, pool, 16);
  std::vector<uint8_t> a(320 * 320 * 3), b(320 * 320 * 3);
  for (size_t i = 0; i < a.size(); ++i)
    a[i] = static_cast<uint8_t>(i * 7 + i / 960), b[i] = static_cast<uint8_t>(i * 13);
  sp.reset(a.data());
  const int blocks = sp.block_cols() * sp.block_rows();
  // Fresh blocks, zero shifts and non-zero shifts (in place and double-buffered), exact and approximate.
  std::vector<std::vector<Label>> frames;
  for (int f = 0; f < 4; ++f) {
    std::vector<Label> l(static_cast<size_t>(blocks), 0);
    for (int k = 0; k < blocks; ++k) {
      int bx = k % sp.block_cols(), by = k / sp.block_cols();
      if ((k + f) % 7 == 0) l[static_cast<size_t>(k)] = kInvalid;
      else if (f >= 2 && bx > 0 && by > 0) l[static_cast<size_t>(k)] = pack_shift(f == 2 ? -3 : -16, -8);
    }
    frames.push_back(l);
  }
  // Nearly still: one fresh block, so the head's column tail recomputes just the changed columns.
  frames.emplace_back(static_cast<size_t>(blocks), 0);
  frames.back()[static_cast<size_t>(blocks / 2)] = kInvalid;
  std::vector<float> eps(static_cast<size_t>(plan->op_count()), 0.01f);
  SparseParams approx;
  approx.eps = &eps;
  approx.round_offsets = true;
  approx.footprint_only = true;
  approx.block_motion = &frames[3];
  for (const auto& l : frames) sp.run(l, b.data(), approx);  // warm
  int moves = 0, column_frames = 0;
  CHECK(allocations_in([&] {
          for (const auto& l : frames) {
            moves += sp.run(l, a.data(), SparseParams{}).origin_moves;
            const SparseStats& st = sp.run(l, b.data(), approx);
            moves += st.origin_moves;
            column_frames += st.tail_columns > 0;
          }
        }) == 0);
  CHECK(moves > 0);          // the origin-move path ran too
  CHECK(column_frames > 0);  // and the column tail
}

TEST_CASE("the sparse executor's run performs no heap allocation (real frames with motion)",
          "[runtime][sparse][alloc]") {
  // cockatoo.mp4: hand-held, so the planner gives shifts of every kind. Frames 0-5 warm the executors;
  // frames 6-15 are counted, run() alone (the planner runs outside the count).
  auto plan = plan_of("assets/yolo11n-320.onnx");
  auto pool = std::make_shared<ThreadPool>(2);
  auto runner = std::make_shared<OpRunner>(plan);
  VideoReader reader(test::source_path("assets/cockatoo.mp4"));
  SparseExecutor exact(plan, pool, 16, runner), approx(plan, pool, 16, runner);
  PlannerOptions pe, pa;
  pe.exact = true;
  BlockPlanner exact_planner(320, 320, pe), approx_planner(320, 320, pa);
  std::vector<uint8_t> cur(320 * 320 * 3);
  std::vector<Label> labels, motion;
  std::vector<float> eps;
  Frame f;
  long counted = 0;
  int frames = 0, moved_frames = 0;
  for (int i = 0; i < 16 && reader.read(f); ++i) {
    letterbox_rgb(f.rgb.data(), f.width, f.height, 320, 320, cur.data());
    if (i == 0) {
      exact.reset(cur.data());
      approx.reset(cur.data());
      eps = approx.op_scale();  // thresholds of 5% of each op's scale: truncation on every op
      for (float& e : eps) e *= 0.05f;
      continue;
    }
    PlanReport rep;
    exact_planner.plan(cur.data(), exact.reference_rgb(), {}, SaliencePrior{}, labels, motion, rep, pool.get());
    bool moved = false;
    for (Label l : labels) moved |= l != kInvalid && l != 0;
    const long n = allocations_in([&] { exact.run(labels, cur.data(), SparseParams{}); });
    approx_planner.plan(cur.data(), approx.reference_rgb(), {}, SaliencePrior{}, labels, motion, rep, pool.get());
    SparseParams p = SparseParams::for_mode(true, 1.5f);
    p.eps = &eps;
    p.block_motion = &motion;
    const long m = allocations_in([&] { approx.run(labels, cur.data(), p); });
    if (i >= 6) {
      counted += n + m;
      ++frames;
      moved_frames += moved;
    }
  }
  REQUIRE(frames == 10);
  CHECK(moved_frames >= 5);  // shifted content, not just fresh blocks
  CHECK(counted == 0);
}

// The session's per-frame pipeline (letterbox, motion search, planning, execution, post-processing) is
// not allocation-free: only its executors are. Measured on this clip and model with 2 threads (the
// count is deterministic), allocations per frame in steady state, at most: dense 22, exact 48,
// fluxshard 55. The sites, fluxshard mode, per frame: the planner's salience map and its motion lists
// (BlockPlanner::salience, ~14), the motion search's inputs and per-thread scratch
// (MotionAligner::estimate / prepare, ~15) and its statistics (MotionAligner::stats, 1), the codec hints
// (codec_hints via FramePipeline::hints, 1), the letterbox's resize tables and band buffer
// (resize_linear, 6), decoding and NMS (FramePipeline::decode: decode_detections, nms_ordered,
// order_by_score, ~13) and the reported detections (FramePipeline::finish). The bounds hold the count
// from growing unnoticed; lower them as sites are removed.
TEST_CASE("a stream session's process: heap allocations per frame in steady state", "[session][alloc]") {
  auto plan = plan_of("assets/yolo11n-320.onnx");
  auto pool = std::make_shared<ThreadPool>(2);
  VideoReader reader(test::source_path("assets/cockatoo.mp4"));
  std::vector<Frame> frames;
  Frame f;
  while (frames.size() < 16 && reader.read(f)) frames.push_back(f);
  REQUIRE(frames.size() == 16);
  REQUIRE(!frames[8].mvs.empty());  // codec hints too
  const std::pair<SessionMode, long> bounds[] = {
      {SessionMode::Dense, 22}, {SessionMode::Exact, 48}, {SessionMode::FluxShard, 55}};
  for (const auto& [mode, bound] : bounds) {
    SessionOptions o;
    o.mode = mode;
    StreamSession s(plan, pool, o);
    long worst = 0, total = 0;
    for (size_t i = 0; i < frames.size(); ++i) {
      FrameReport rep;
      const long n = allocations_in([&] { s.process(frames[i], &rep); }, i >= 6);
      if (i >= 6) worst = std::max(worst, n), total += n;
    }
    WARN(mode_name(mode) << ": allocations per frame, frames 6-15: max " << worst << ", mean " << total / 10.0);
    CHECK(worst <= bound);
  }
}
