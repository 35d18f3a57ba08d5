// The column tail of a detect or segment head (DESIGN 5, epilogue). The head's maps are converted to
// NCHW, flattened to [1, C, H*W] and joined along that last axis into one anchor axis of N columns (the
// "gather"); from there on every epilogue op treats each anchor column on its own: element-wise ops
// (with constants that vary along the anchors, such as anchor points and strides), softmax, splits,
// slices and concats over other axes, transposes and reshapes that keep the anchor axis last, 1x1
// convolutions and layout conversions whose width is the anchor axis.
//
// So when few positions of the head maps changed (a non-zero label), the tail runs on just their
// columns: gathered straight from the NHWC maps into compact tensors of K columns, run by the same
// kernels prepared at the smaller size, and scattered into the persistent outputs, whose other columns
// already hold the values of unchanged positions. No kernel's per-element result depends on the size of
// the tensor it runs on (masked vector tails, position-independent reduction orders), so the columns
// equal, bit for bit, those of the whole tail.
//
// The flattening ops, the gather and the tail are "covered": skipped on frames the column path runs.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ops/workspace.h"
#include "runtime/op_runner.h"
#include "runtime/sparse/labels.h"

namespace fx {

class ColumnTail {
 public:
  // The tail of `plan`, or null when its epilogue has none or one this path cannot take (the executor
  // then runs the epilogue whole, as before).
  static std::unique_ptr<ColumnTail> find(const std::shared_ptr<const Plan>& plan);
  ~ColumnTail();
  ColumnTail(const ColumnTail&) = delete;
  ColumnTail& operator=(const ColumnTail&) = delete;

  int64_t anchors() const { return n_; }
  // Covered ops in plan order; the first is where the column path runs (every source map is final).
  const std::vector<int>& covered() const { return covered_; }
  bool covers(int op) const {
    return op >= 0 && static_cast<size_t>(op) < is_covered_.size() && is_covered_[static_cast<size_t>(op)];
  }
  // The layout conversions that feed the gather: their outputs go stale while the column path runs.
  bool feeds(int op) const {
    return op >= 0 && static_cast<size_t>(op) < is_feeder_.size() && is_feeder_[static_cast<size_t>(op)];
  }
  // The NHWC maps the tail reads (tensor ids).
  const std::vector<int>& sources() const { return sources_; }
  // Ops of the tail proper (run on compact tensors), for statistics.
  int tail_op_count() const { return static_cast<int>(tail_ops_.size()); }
  // Most columns the compact path takes; beyond, the tail runs whole.
  int64_t max_columns() const { return buckets_.empty() ? 0 : buckets_.front().k; }
  size_t workspace_bytes() const { return workspace_bytes_; }

  // Collects the columns whose position changed value in any source map (changes_value: labels indexed
  // by tensor id, `round` as the frame's SparseParams) and returns their number. Never allocates.
  int64_t collect(const std::vector<LabelMap*>& labels, bool round);
  // Runs the tail on the collected columns (at most max_columns()): sources are read and outputs
  // written through `full` over `bases` (the executor's storage). Never allocates.
  void run(const OpRunner& full, const TensorBases& bases, ThreadPool& pool, const Workspace& ws);

  struct Index;  // producers and uses of the plan's tensors (column_tail.cpp)
  struct Flat;   // a flattened head map (column_tail.cpp)

 private:
  ColumnTail() = default;
  // The steps of find(), in order; each returns false when the plan's epilogue does not fit. `ax`: per
  // tensor, the logical axis of its anchors (-1: not a column tensor).
  bool add_gathers(const Index& ix, const std::vector<Flat>& flat, std::vector<int>& ax);
  bool add_tail_ops(const Index& ix, std::vector<int>& ax);
  bool prepare_compact(const std::vector<int>& ax);
  // Copies the first `count` collected columns of one row between a compact and a full tensor.
  void copy_columns(float* dst, const float* src, int64_t inner, int64_t count, bool to_compact) const;

  struct Gather {
    int out = -1;           // [1, C, N] tensor the gather produces
    int channels = 0;
    std::vector<int> maps;  // per part: the NHWC map its columns come from
  };
  struct Bucket {
    int64_t k = 0;  // columns
    std::unique_ptr<OpRunner> runner;
    TensorBases bases;
  };

  int64_t n_ = 0;
  std::vector<int64_t> part_offset_;  // first column of each part (parts in gather order)
  std::vector<uint8_t> part_of_;      // per column: its part
  std::vector<Gather> gathers_;
  std::vector<int> sources_;
  std::vector<int> anchor_consts_;  // constants with the anchor axis, gathered per frame
  std::vector<int> outputs_;        // plan outputs in the tail, scattered per frame
  // Elements after the anchor axis of each anchor constant / output (one column holds that many each row).
  std::vector<int64_t> const_inner_, output_inner_;
  std::vector<int> tail_ops_;
  std::vector<int> covered_;
  std::vector<char> is_covered_, is_feeder_;
  std::vector<Bucket> buckets_;  // largest first
  float* compact_ = nullptr;     // storage of every compact root, sized for the largest bucket
  std::vector<char> changed_;    // per column, scratch of collect()
  std::vector<int64_t> cols_;    // collected columns (capacity N)
  std::vector<MapView> views_;   // per part, the map being gathered (scratch of run())
  size_t workspace_bytes_ = 0;
  std::shared_ptr<const Plan> plan_;
};

}  // namespace fx
