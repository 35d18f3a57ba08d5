// invoke() never allocates: every C++ heap allocation during inference is counted (operator new is
// replaced in this test binary) and must be zero, for detect and segment plans and any thread count.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "compiled_model.h"
#include "runtime/dense_executor.h"
#include "test_util.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

using namespace fx;

TEST_CASE("invoke performs no heap allocation", "[runtime]") {
  for (const char* model : {"assets/yolo11n-320.onnx", "assets/yolo11n-seg-640.onnx"}) {
    auto plan = test::compiled_model(test::source_path(model)).plan;
    for (int threads : {1, 2}) {
      DenseExecutor exec(plan, std::make_shared<ThreadPool>(threads));
      exec.invoke();  // warm
      g_allocations = 0;
      g_counting = true;
      exec.invoke();
      exec.invoke();
      g_counting = false;
      INFO(model << " with " << threads << " threads");
      CHECK(g_allocations.load() == 0);
    }
  }
  // The counter works: an allocation while counting is seen.
  g_counting = true;
  auto* p = new int(3);
  g_counting = false;
  delete p;
  CHECK(g_allocations.load() == 1);
}

#include "runtime/sparse/sparse_executor.h"

TEST_CASE("the sparse executor's run performs no heap allocation", "[runtime][sparse]") {
  auto plan = test::compiled_model(test::source_path("assets/yolo11n-320.onnx")).plan;
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
  g_allocations = 0;
  g_counting = true;
  int moves = 0, column_frames = 0;
  for (const auto& l : frames) {
    moves += sp.run(l, a.data(), SparseParams{}).origin_moves;
    const SparseStats& st = sp.run(l, b.data(), approx);
    moves += st.origin_moves;
    column_frames += st.tail_columns > 0;
  }
  g_counting = false;
  CHECK(g_allocations.load() == 0);
  CHECK(moves > 0);          // the origin-move path ran too
  CHECK(column_frames > 0);  // and the column tail
}
