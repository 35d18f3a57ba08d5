// The spatial sparse executor (DESIGN 5): keeps every feature map of a plan cached across frames and,
// for each frame, brings the caches to dense inference on the new reference image R_t while
// recomputing only what is not valid-by-shift.
//
// Per frame the caller gives one label per input block: kInvalid for a *fresh* block (copied from the
// current frame) or a shift v for a *moved* block (R_t[p] = R_{t-1}[p + v]). Then, op by op in plan
// order:
//  - local ops: output labels follow from input labels through the op's window (labels.h); positions
//    with a label are taken from the cache (in place when the shift is 0, else from the other of two
//    buffers at q + v / S; when most positions share one shift, the buffer's origin moves by it instead
//    of copying); the remaining positions are recomputed by the op's kernel, batched as one span list. A recomputed
//    value that equals the cached one (bit for bit in exact mode, within the layer's threshold eps in approximate mode)
//    keeps the cached value and gets a label again, so the change does not bleed into the consumers.
//  - dense islands (global ops, the attention): recomputed whole when any input changed; outputs are
//    then compared with the cache the same way (in approximate mode, a position whose own island input
//    kept its label at a looser threshold: SparseParams::island_reused_scale).
//  - epilogue ops: recomputed whole when any input changed; the head's column tail (column_tail.h)
//    recomputes just the anchor columns of changed head positions while they are few.
// Exact mode invariant: after run() every cached map equals, bit for bit, dense inference on R_t.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ops/thread_pool.h"
#include "runtime/backend.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/op_runner.h"
#include "runtime/plan.h"
#include "runtime/sparse/column_tail.h"
#include "runtime/sparse/labels.h"

namespace fx {

struct SparseParams {
  // Approximate mode: reuse shifts that are not multiples of a layer's stride at the nearest cell.
  bool round_offsets = false;
  // Approximate mode: a position is recomputed only when the input positions under its own footprint
  // changed; its window's halo is read from the (shifted) cache even where a neighbour changed (the
  // paper's offset-aware padding), so the recomputed region does not grow by the kernel radius at every
  // layer.
  bool footprint_only = false;
  // Per-op truncation thresholds (indexed by op). A recomputed position whose value is within eps of
  // the cached one keeps the cached value and does not dirty its consumers; eps == 0 (or no vector):
  // no comparison, every recomputed position counts as changed.
  const std::vector<float>* eps = nullptr;
  // Per block: the motion vector the aligner found (also for fresh blocks), packed as a Label; used as
  // the candidate shift when comparing recomputed values with the cache. May be null (shift 0 only).
  const std::vector<Label>* block_motion = nullptr;
  // A cached map whose positions mostly share one shift moves its buffer's origin instead of copying
  // (DESIGN 5, storage fast path). Off: every shifted map is copied. Both give bit-identical caches,
  // except with thresholds on local ops: a moved map then compares a recomputed value with the cached
  // value at the move's offset only, a copied one with the values at the block's motion and at 0.
  bool move_origins = true;
  // Approximate mode: an attention-island output position whose own island inputs were reused (only
  // other positions changed, which reach it through the attention's mixing) is compared with the cache
  // at eps x this factor instead of eps (infinity: kept whenever its own inputs were, as blocks that
  // pass the network independently would be).
  float island_reused_scale = 1.f;

  // A session's parameters for its mode (the caller adds eps and block_motion): exact mode none of the
  // approximations; approximate mode nearest-cell reuse, the footprint policy and the island's looser
  // threshold for reused positions. One place, so the sessions (local, edge, server) cannot drift apart.
  static SparseParams for_mode(bool approximate, float island_reused) {
    SparseParams p;
    p.round_offsets = p.footprint_only = approximate;
    if (approximate) p.island_reused_scale = island_reused;
    return p;
  }
};

struct SparseStats {
  int64_t local_positions = 0;      // output positions of local ops this frame
  int64_t recomputed_positions = 0;  // of which recomputed
  double local_flops = 0;           // FLOPs of local ops for a dense run
  double recomputed_flops = 0;      // FLOPs actually spent on local ops
  int64_t truncated_positions = 0;  // recomputed positions that kept their cached value
  int islands_run = 0;              // global ops executed
  int epilogue_run = 0;             // epilogue ops executed
  int64_t tail_columns = 0;         // anchor columns the column tail recomputed (0: none, or it ran whole)
  int64_t fresh_blocks = 0;
  int origin_moves = 0;             // cached maps shifted by moving their buffer's origin (no copy)
  // Where the time went (ms): label propagation, cache copies (shifts, saves), local kernels, the
  // comparison with the cache, dense islands, epilogue.
  double labels_ms = 0, copy_ms = 0, kernel_ms = 0, compare_ms = 0, island_ms = 0, epilogue_ms = 0;
  double hit_ratio() const { return local_positions ? 1.0 - double(recomputed_positions) / local_positions : 1.0; }
  double flop_hit_ratio() const { return local_flops > 0 ? 1.0 - recomputed_flops / local_flops : 1.0; }
};

// Written once against the backend interface (runtime/backend.h): labels, spans and every decision are
// computed here on the host; the backend holds the caches and moves, compares and computes their data.
class SparseExecutor {
 public:
  // block: size in input pixels of the blocks labels are given for (input size must be a multiple).
  SparseExecutor(std::shared_ptr<const Device> device, int block);
  // On the CPU backend (`runner` may be shared with other executors of the plan).
  SparseExecutor(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool, int block,
                 std::shared_ptr<const OpRunner> runner = nullptr);
  ~SparseExecutor();
  SparseExecutor(const SparseExecutor&) = delete;
  SparseExecutor& operator=(const SparseExecutor&) = delete;

  const Plan& plan() const { return *plan_; }
  const Device& device() const { return *device_; }
  Backend& backend() { return *backend_; }
  int block() const { return block_; }
  int block_cols() const { return cols_; }
  int block_rows() const { return rows_; }

  // R_0 := image (packed RGB24 at the plan's input size); every cache is computed densely.
  void reset(const uint8_t* rgb);
  bool initialised() const { return initialised_; }

  // Applies one frame: block_labels (cols x rows, row-major) give fresh (kInvalid) or moved(v) blocks;
  // fresh blocks take their pixels from `frame_rgb` (packed RGB24, input size). Never allocates.
  const SparseStats& run(const std::vector<Label>& block_labels, const uint8_t* frame_rgb, const SparseParams& params);

  // Recomputes op `index` over its whole output from its current inputs and marks it unchanged-valid:
  // one preemptible slice of a dense refresh between frames (freshness updater).
  void refresh_op(int index);

  // The reference image R_t (packed RGB24, input size).
  const uint8_t* reference_rgb() const { return ref_[ref_cur_].data(); }
  // Storage of any tensor this frame (physical layout; the backend's memory: device memory on a GPU).
  float* tensor_data(int tensor);
  MapView map_of(int tensor);
  // A tensor's current values in host memory, packed (NHWC maps h x w x c).
  std::vector<float> read_tensor(int tensor);
  // Output i (plan order) after run(), in host memory.
  const float* output_data(size_t i);
  // Labels of a spatial map produced by a local or global op (null for others).
  const LabelMap* labels(int tensor) const;
  const SparseStats& stats() const { return stats_; }
  // Per op, the mean |value| of its first output after reset() (0 for ops without a cached map): the
  // scale that default truncation thresholds are relative to.
  const std::vector<float>& op_scale() const { return op_scale_; }
  // Per op, the share of its output positions recomputed in the last run (local ops; 1 for a dense op
  // that ran, 0 for one that was skipped).
  const std::vector<float>& op_recompute_share() const { return op_share_; }
  // Ops whose output maps carry labels (local and global spatial ops).
  bool has_cache(int tensor) const { return labels(tensor) != nullptr; }
  // For a spatial output of the attention island: the labelled map of a local op that the island reads at
  // the same positions (SparseParams::island_reused_scale), else -1.
  int island_entry(int tensor) const {
    if (tensor < 0 || static_cast<size_t>(tensor) >= island_entry_.size()) return -1;
    return island_entry_[static_cast<size_t>(tensor)];
  }

 private:
  struct Root;
  void run_input_op(const std::vector<Label>& block_labels, const uint8_t* frame_rgb, const SparseParams& p);
  void run_local_op(int index, const SparseParams& p);
  void run_dense_op(int index, const SparseParams& p);
  // An epilogue NHWC -> NCHW relayout of a labelled map with few changed positions: rewrites just those
  // in its persistent output and returns true; false leaves the op to the dense kernel.
  bool relayout_changed(int index, bool round);
  // At the column tail's first op: collects the changed anchor columns and, when they are few enough,
  // recomputes them and returns true (the covered ops are then skipped); false leaves them to run whole.
  bool run_tail(bool round);
  // Prepares a channel range of a labelled root for writing this frame: decides in-place or
  // double-buffered and copies the positions labelled in L from the previous frame's buffer.
  // force_swap: the whole range is about to be rewritten and compared with the previous frame's values
  // (dense islands), so they must stay in the other buffer.
  void begin_write(int root, int ch_off, int ch, const LabelMap& L, bool need_shift, const SparseParams& p,
                   bool force_swap = false);
  void begin_write_tensor(int tensor, bool need_shift, const SparseParams& p, bool force_swap = false);
  // First write of a labelled root this frame: when more positions of L share one non-zero cell offset
  // than the zero offset and the buffer's slack allows, moves the current buffer's origin by it (a
  // pointer move instead of copying those positions).
  void move_origin(Root& R, const LabelMap& L, bool round);
  // Saves the cached values at `spans` of tensor t before an in-place recompute overwrites them.
  void save_cached(int tensor, const std::vector<Span>& spans);
  // Compares recomputed positions of tensor t with the cache; keeps cached values within eps.
  // own (dense islands): the labels of the island's input at the same positions; where one is valid the
  // position is first compared with the cache at that label's offset with eps_reused.
  void truncate(int tensor, const std::vector<Span>& recomputed, bool in_place, float eps, const SparseParams& p,
                const LabelMap* own = nullptr, float eps_reused = 0.f);
  bool dirty_inputs(int index) const;
  void find_island_entries();  // fills island_entry_
  bool shifted(const LabelMap& l, bool round) const;
  Root& root_of(int tensor);

  std::shared_ptr<const Device> device_;
  std::shared_ptr<const Plan> plan_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<WorkspaceBlocks> tail_workspace_;  // CPU: the column tail's compact kernels
  int block_ = 16, cols_ = 0, rows_ = 0;
  int input_op_ = -1;
  bool initialised_ = false;
  std::unique_ptr<ColumnTail> tail_;  // null: the plan has none
  bool tail_stale_ = false;           // the tail ran on columns since its covered ops last ran whole

  std::vector<std::unique_ptr<Root>> roots_;   // per tensor id (null for non-roots)
  std::vector<std::unique_ptr<LabelMap>> labels_;  // per tensor id: its own label storage
  // Per tensor id: the labels it has this frame — its own map, or (when an op provably passes its
  // input's labels through unchanged) the input's map, shared to skip recomputing and rescanning it.
  std::vector<LabelMap*> cur_labels_;
  LabelMap& own_labels(int tensor);  // cur_labels_[tensor] made private (copy-on-write)
  std::vector<char> changed_;                  // per tensor: recomputed this frame (non-labelled tensors)
  // Per tensor: for a spatial output of the attention island, the one labelled map of a local op that
  // the island reads at the same positions (-1: none, or several).
  std::vector<int> island_entry_;
  TensorBases bases_;
  std::vector<uint8_t> ref_[2];
  int ref_cur_ = 0;

  // Per-frame scratch, sized at construction.
  float* saved_ = nullptr;  // backend storage: cached values of positions about to be recomputed in place
  int64_t max_floats_ = 0;  // the largest cached map
  std::vector<std::vector<float>> host_outputs_;  // device backends: the outputs downloaded after run()
  std::vector<CopyRun> copy_runs_;  // cache moves of one write
  std::vector<Span> image_spans_;   // the input map's rewritten blocks
  std::vector<KeepCandidate> keep_table_;  // truncation: per recomputed position, its candidates
  std::vector<Label> cand_labels_;         //   and their labels
  std::vector<int8_t> keep_choice_;        //   the candidate kept (-1: none)
  std::vector<Span> spans_;
  std::vector<Label> label_scratch_;
  std::vector<int64_t> changed_positions_;  // relayout_changed: positions whose value changed
  std::vector<Span> full_spans_;
  struct ShiftRun {
    int y, x0, x1, dy, dx;  // a run of one label and its offset in cells
    Label label;
  };
  // runs_ := every run of labelled positions of L with its cell offset.
  void collect_runs(const LabelMap& L, bool round);
  // Origin moves consider cell offsets up to this far (a histogram over them picks the move).
  static constexpr int kMaxOffset = 32;
  std::vector<int64_t> offset_count_;
  std::vector<int> offsets_seen_;
  std::vector<ShiftRun> runs_;
  SparseStats stats_;
  std::vector<float> op_share_;
  std::vector<float> op_scale_;
};

}  // namespace fx
