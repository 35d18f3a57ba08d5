// A fixed pool of worker threads for the kernels. The calling thread takes part in the work, so a
// pool of size N starts N-1 workers. run() neither allocates nor returns before every task is done.
// Tasks run with denormals flushed to zero (x86 FTZ/DAZ); the caller's floating-point mode is restored.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "ops/function_ref.h"

namespace fx {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(task, thread) once for every task in [0, tasks); `thread` is in [0, size()) and no two
  // tasks run on the same `thread` value at once, so it can index per-thread scratch memory.
  void run(int64_t tasks, FunctionRef<void(int64_t task, int thread)> fn);

 private:
  void worker_loop(int thread);
  void work(int thread);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // The current job; generation_ counts jobs so a worker knows when a new one arrived.
  const FunctionRef<void(int64_t, int)>* job_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int> active_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace fx
