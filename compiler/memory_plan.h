// Activation memory plan: every non-constant tensor gets a byte offset in one arena, computed ahead of
// time from tensor lifetimes over the execution order (greedy by size: the largest tensors are placed
// first, each at the lowest offset that does not overlap a tensor alive at the same time).
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/alias_plan.h"
#include "compiler/ir.h"

namespace fx {

constexpr uint64_t kArenaAlignment = 64;

struct MemoryPlan {
  // Per tensor id: byte offset of its storage (an aliased tensor's is its root's); -1 for constants
  // and unused tensors.
  std::vector<int64_t> offset;
  uint64_t arena_bytes = 0;
  uint64_t naive_bytes = 0;  // sum of all activations, for reporting the saving
};

// Aliased tensors (see alias_plan.h) share their root's storage, which lives as long as any of them.
MemoryPlan plan_memory(const ir::Graph& g, const AliasPlan& aliases);

}  // namespace fx
