// libFuzzer target: arbitrary bytes through the plan loader (identifier, FlatBuffers verifier, version
// and consistency checks) and executor preparation; small plans are also invoked (dense, and the sparse
// executor's first frames: one fresh block, then a pan in the approximate mode). Every failure must be
// an fx::Error.
//
// The content checksum would turn away nearly every mutation at its first check, so the harness
// re-seals each input that FlatBuffers verifies (seal_plan writes the checksum of the mutated bytes
// into its checksum field) before loading it: mutations reach the validation and the executors as they
// did before plans had checksums. The checksum check itself is covered by tests/test_bad_input.cpp.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/plan.h"
#include "runtime/plan_checksum.h"
#include "runtime/sparse/sparse_executor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto pool = std::make_shared<fx::ThreadPool>(1);
  try {
    std::vector<uint8_t> bytes(data, data + size);
    fx::seal_plan(bytes.data(), bytes.size());
    auto plan = fx::Plan::from_bytes(bytes.data(), bytes.size(), "fuzz.fsp");
    // Keep each input cheap: the fuzzer is after parser bugs, not large allocations.
    if (plan->arena_bytes() > (64u << 20)) return 0;
    int64_t elements = 0;
    for (const auto& t : plan->tensors()) elements += t.numel;
    if (elements > (16 << 20) || plan->total_flops() > 200000000ull) return 0;
    fx::DenseExecutor exec(plan, pool);
    exec.invoke();
    // The sparse executor prepares more from the plan (label maps, caches, the head's column tail); its
    // first frame runs every op, a second one with one fresh block only what that block changes.
    if (plan->input_w() % 8 == 0 && plan->input_h() % 8 == 0) {
      fx::SparseExecutor sparse(plan, pool, 8);
      std::vector<uint8_t> image(static_cast<size_t>(plan->input_w()) * plan->input_h() * 3, 114);
      sparse.reset(image.data());
      std::vector<fx::Label> labels(static_cast<size_t>(sparse.block_cols()) * sparse.block_rows(), 0);
      labels[0] = fx::kInvalid;
      image[0] = 0;
      sparse.run(labels, image.data(), fx::SparseParams{});
      // A pan in the approximate mode: every block whose source stays inside moves left by 8 or 7
      // pixels (cache shifts or an origin move, nearest-cell reuse, cells over both agreeing), the first
      // column is fresh; the island outputs are compared with the cache.
      const int cols = sparse.block_cols();
      for (size_t k = 0; k < labels.size(); ++k)
        labels[k] = k % cols == 0 ? fx::kInvalid : fx::pack_shift(k % 2 ? -8 : -7, 0);
      for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i * 7);
      std::vector<float> eps(static_cast<size_t>(plan->op_count()), 0.05f);
      fx::SparseParams approx;
      approx.round_offsets = approx.footprint_only = true;
      approx.eps = &eps;
      approx.block_motion = &labels;
      approx.island_reused_scale = 3.f;
      sparse.run(labels, image.data(), approx);
    }
  } catch (const fx::Error&) {
  }
  return 0;
}
