// Private: splitting kernel work over the thread pool. Chunks never change results (every output
// element is computed by exactly one task, in a fixed order), only who computes it.
#pragma once

#include <algorithm>
#include <cstdint>

#include "ops/map_view.h"
#include "ops/thread_pool.h"

namespace fx {
namespace detail {

struct ParallelTuning {
  int64_t min_parallel_work = 1 << 15;  // work below this runs on the calling thread
  int64_t min_task_work = 1 << 13;      // aim for tasks of at least this much work
};
// The process-wide setting (defined in elementwise.cpp). Tests set both to 1 so that even tiny ops
// take the multi-task paths; nothing else should change it.
ParallelTuning& parallel_tuning();

// How many tasks to cut `work` (elementary operations) into, at most `max_tasks`.
inline int64_t task_count(const ThreadPool& pool, int64_t work, int64_t max_tasks) {
  const ParallelTuning& tune = parallel_tuning();
  int threads = pool.size();
  if (threads <= 1 || work < tune.min_parallel_work || max_tasks <= 1) return 1;
  int64_t t = std::min<int64_t>(static_cast<int64_t>(threads) * 4, work / std::max<int64_t>(1, tune.min_task_work));
  return std::max<int64_t>(1, std::min(t, max_tasks));
}

// Calls fn(begin, end) over [0, n) in contiguous chunks; cost_per_item sizes the split.
template <class F>
void parallel_for(ThreadPool& pool, int64_t n, int64_t cost_per_item, F&& fn) {
  if (n <= 0) return;
  int64_t tasks = task_count(pool, n * std::max<int64_t>(1, cost_per_item), n);
  if (tasks <= 1) {
    // Through the pool all the same: it sets the floating-point mode every kernel runs under.
    pool.run(1, [&](int64_t, int) { fn(int64_t{0}, n); });
    return;
  }
  pool.run(tasks, [&](int64_t t, int) {
    int64_t b = n * t / tasks, e = n * (t + 1) / tasks;
    if (b < e) fn(b, e);
  });
}

// Calls fn(const Span* spans, int count) over consecutive chunks of a span list.
template <class F>
void parallel_spans(ThreadPool& pool, SpanList spans, int64_t cost_per_position, F&& fn) {
  if (spans.count <= 0) return;
  int64_t positions = std::max<int64_t>(spans.positions, spans.count);
  int64_t tasks = task_count(pool, positions * std::max<int64_t>(1, cost_per_position), spans.count);
  if (tasks <= 1) {
    pool.run(1, [&](int64_t, int) { fn(spans.spans, spans.count); });
    return;
  }
  pool.run(tasks, [&](int64_t t, int) {
    int64_t b = spans.count * t / tasks, e = spans.count * (t + 1) / tasks;
    if (b < e) fn(spans.spans + b, static_cast<int>(e - b));
  });
}

}  // namespace detail
}  // namespace fx
