#include "compiler/memory_plan.h"

#include <algorithm>

namespace fx {

MemoryPlan plan_memory(const ir::Graph& g, const AliasPlan& aliases) {
  MemoryPlan plan;
  int nt = g.tensor_count();
  plan.offset.assign(static_cast<size_t>(nt), -1);
  std::vector<int> first(static_cast<size_t>(nt), -1), last(static_cast<size_t>(nt), -1);
  std::vector<int> order = g.live_nodes();
  int end = static_cast<int>(order.size());
  for (int t : g.inputs) first[t] = 0, last[t] = 0;
  for (int step = 0; step < end; ++step) {
    const ir::Node& n = g.node(order[step]);
    for (int t : n.inputs)
      if (t >= 0 && !g.tensor(t).constant) last[t] = std::max(last[t], step);
    for (int t : n.outputs) {
      if (first[t] < 0) first[t] = step;
      last[t] = std::max(last[t], step);
    }
  }
  for (int t : g.outputs) last[t] = end;  // outputs are read after invoke
  // A root's storage lives from the first to the last use of any tensor stored in it.
  for (int t = 0; t < nt; ++t) {
    int r = aliases.root[t];
    if (r == t || first[t] < 0) continue;
    first[r] = first[r] < 0 ? first[t] : std::min(first[r], first[t]);
    last[r] = std::max(last[r], last[t]);
  }

  auto align = [](uint64_t v) { return (v + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; };
  std::vector<int> todo;
  for (int t = 0; t < nt; ++t)
    if (first[t] >= 0 && !g.tensor(t).constant && aliases.root[t] == t) todo.push_back(t);
  std::stable_sort(todo.begin(), todo.end(), [&](int a, int b) { return g.tensor(a).bytes() > g.tensor(b).bytes(); });

  std::vector<int> placed;
  for (int t : todo) {
    uint64_t size = align(std::max<uint64_t>(1, g.tensor(t).bytes()));
    plan.naive_bytes += size;
    // Intervals taken by tensors alive at the same time, sorted by offset.
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (int p : placed)
      if (!(last[p] < first[t] || last[t] < first[p]))
        busy.emplace_back(static_cast<uint64_t>(plan.offset[p]),
                          static_cast<uint64_t>(plan.offset[p]) + align(std::max<uint64_t>(1, g.tensor(p).bytes())));
    std::sort(busy.begin(), busy.end());
    uint64_t off = 0;
    for (const auto& b : busy) {
      if (off + size <= b.first) break;
      off = std::max(off, b.second);
    }
    plan.offset[t] = static_cast<int64_t>(off);
    plan.arena_bytes = std::max(plan.arena_bytes, off + size);
    placed.push_back(t);
  }
  for (int t = 0; t < nt; ++t)
    if (aliases.root[t] != t && first[t] >= 0) plan.offset[t] = plan.offset[aliases.root[t]];
  return plan;
}

}  // namespace fx
