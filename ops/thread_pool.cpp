#include "ops/thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FX_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define FX_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define FX_CPU_RELAX() ((void)0)
#endif

namespace {

// Kernels run with denormals flushed to zero (FTZ) and treated as zero (DAZ): attention softmax
// produces denormal probabilities, and arithmetic on them is ~100x slower on x86. The caller's mode is
// restored after each run(). On aarch64 the FPCR's FZ bit does both (inputs and results, scalar and
// NEON alike).
struct FlushDenormals {
#if defined(__x86_64__)
  unsigned saved;
  FlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved); }
#elif defined(__aarch64__)
  uint64_t saved;
  FlushDenormals() {
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved));
    const uint64_t fz = saved | (uint64_t{1} << 24);
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fz));
  }
  ~FlushDenormals() { __asm__ __volatile__("msr fpcr, %0" : : "r"(saved)); }
#endif
};

}  // namespace

namespace fx {

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) threads = 1;
  workers_.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::work(int thread) {
  for (;;) {
    int64_t task = next_.fetch_add(1, std::memory_order_relaxed);
    if (task >= tasks_) break;
    (*job_)(task, thread);
  }
}

void ThreadPool::run(int64_t tasks, FunctionRef<void(int64_t task, int thread)> fn) {
  if (tasks <= 0) return;
  FlushDenormals ftz;
  if (workers_.empty() || tasks == 1) {
    for (int64_t t = 0; t < tasks; ++t) fn(t, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    tasks_ = tasks;
    next_.store(0, std::memory_order_relaxed);
    active_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  work(0);
  // Workers finish within microseconds of the caller on balanced jobs: spin briefly before sleeping
  // (reading the clock only every few hundred spins: it is not free).
  auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
  for (unsigned spins = 0; active_.load(std::memory_order_acquire) != 0; ++spins) {
    FX_CPU_RELAX();
    if ((spins & 255) == 255 && std::chrono::steady_clock::now() > spin_until) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return active_.load(std::memory_order_acquire) == 0; });
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  job_ = nullptr;
}

void ThreadPool::worker_loop(int thread) {
  FlushDenormals ftz;  // for the worker's whole life
  uint64_t seen = 0;
  for (;;) {
    // Spin a little for the next job (inference issues hundreds of short jobs back to back), then sleep.
    auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
    for (unsigned spins = 1; generation_.load(std::memory_order_acquire) == seen && !stop_.load(); ++spins) {
      FX_CPU_RELAX();
      if ((spins & 255) == 0 && std::chrono::steady_clock::now() >= spin_until) break;
    }
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      if (stop_.load()) return;
      seen = generation_.load();
    }
    work(thread);
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace fx
