// The CPU backend's kernels for a plan's ops, prepared once and runnable against any storage: each
// op's description (op_desc.h, checked when the plan was loaded) gets its weights packed at
// construction; run() binds the data pointers of one invocation (the dense executor's arena, or the sparse executor's per-frame cache buffers) and,
// for local ops, computes only the given output positions. One switch over OpKind for the CPU backend.
// run() never allocates and is re-entrant (one OpRunner may serve several executors).
#pragma once

#include <memory>
#include <vector>

#include "ops/map_view.h"
#include "ops/thread_pool.h"
#include "ops/workspace.h"
#include "runtime/backend.h"  // TensorBases
#include "runtime/plan.h"

namespace fx {

class OpRunner {
 public:
  static constexpr size_t kMaxParts = OpDesc::kMaxParts;

  explicit OpRunner(std::shared_ptr<const Plan> plan);
  // Prepares only `ops`, over `tensors` (one per plan tensor) instead of the plan's own descriptions:
  // the same ops at other shapes, e.g. the column tail of a head at fewer anchors (column_tail.h).
  // Throws fx::Error naming the op when an op does not fit those shapes.
  OpRunner(std::shared_ptr<const Plan> plan, std::vector<TensorInfo> tensors, const std::vector<int>& ops);
  ~OpRunner();

  const Plan& plan() const { return *plan_; }
  int op_count() const { return static_cast<int>(ops_.size()); }
  // Scratch bytes per pool thread the kernels need.
  size_t workspace_bytes() const { return workspace_bytes_; }
  // True when op i runs a local (NHWC, span-based) kernel, i.e. accepts a span list.
  bool is_local(int index) const;

  // The description of a tensor this runner works with (the plan's, unless given others).
  const TensorInfo& tensor(int id) const;
  float* data(int tensor, const TensorBases& bases) const;
  MapView map(int tensor, const TensorBases& bases) const;

  // Runs op i (which must be prepared). For local ops `spans` (output positions) restricts the work;
  // nullptr: the whole map.
  void run(int index, const TensorBases& bases, const SpanList* spans, ThreadPool& pool, const Workspace& ws) const;

 private:
  struct PreparedOp;
  void prepare_op(const OpDesc& d);

  std::shared_ptr<const Plan> plan_;
  std::vector<TensorInfo> tensors_;  // empty: the plan's
  std::vector<std::unique_ptr<PreparedOp>> ops_;  // per op index; null where not prepared
  size_t workspace_bytes_ = 0;
};

}  // namespace fx
