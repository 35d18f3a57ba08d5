#include "runtime/sparse/column_tail.h"

#include <mimalloc.h>

#include <algorithm>
#include <cstring>

#include "runtime/error.h"

namespace fx {

namespace fb = ::fluxshard::plan;

namespace {

constexpr int64_t kMinBucket = 64;  // compact sizes 3N/4, then 1.5x smaller down to this many columns
constexpr int kMaxParts = 255;    // part_of_ holds a part index in a byte
constexpr int64_t kChunk = 32;    // columns per task of the gather

// The physical axis of logical axis `ax` (NHWC tensors keep N, C, H, W logically, store N, H, W, C).
int physical_axis(const TensorInfo& t, int ax) {
  if (t.layout != PlanLayout::NHWC) return ax;
  static const int nhwc[4] = {0, 3, 1, 2};
  return nhwc[ax];
}

int64_t product(const std::vector<int64_t>& d, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= d[i];
  return p;
}

bool epilogue(const OpDesc& op) { return op.region == PlanRegion::Epilogue; }

// Where an op of the tail (other than the element-wise binary ops, which follow broadcasting) puts the
// anchor axis of its output when it computes each anchor column from the same column of its inputs only
// (`ax`: the anchor axis of its first input); -1 when it does not.
int column_axis(const Plan& P, const OpDesc& op, int ax) {
  const TensorInfo& x = P.tensor(op.in[0]);
  const TensorInfo& y = P.tensor(op.out[0]);
  const int ry = static_cast<int>(y.shape.size());
  switch (op.kind) {
    case OpKind::Sigmoid:
    case OpKind::Relayout:  // logical axes stay; only their order in memory changes
      return ax;
    case OpKind::Reshape: {
      // Rows before and after the anchor axis keep their sizes: element (o, a, i) stays (o, a, i).
      const int64_t before = product(x.shape, 0, static_cast<size_t>(ax)), n = x.shape[static_cast<size_t>(ax)];
      for (int a = 0; a < ry; ++a)
        if (y.shape[static_cast<size_t>(a)] == n && product(y.shape, 0, static_cast<size_t>(a)) == before) return a;
      return -1;
    }
    case OpKind::Transpose:
      for (int a = 0; a < ry; ++a)
        if (op.perm[a] == ax) return a;
      return -1;
    case OpKind::Softmax:
      return op.axis != ax ? ax : -1;
    case OpKind::Slice:
      return op.starts[ax] == 0 && op.steps[ax] == 1 && y.shape[static_cast<size_t>(ax)] == x.shape[static_cast<size_t>(ax)]
                 ? ax
                 : -1;
    case OpKind::Concat:
    case OpKind::Split: {
      const TensorInfo& whole = op.kind == OpKind::Concat ? y : x;
      return op.axis != physical_axis(whole, ax) ? ax : -1;
    }
    case OpKind::Conv: {
      // Per position: the anchors must run along the height or the width.
      const ConvParams& c = op.conv;
      return (ax == 2 || ax == 3) && c.kh == 1 && c.kw == 1 && c.sh == 1 && c.sw == 1 && c.pad_t == 0 &&
                     c.pad_l == 0 && c.pad_b == 0 && c.pad_r == 0
                 ? ax
                 : -1;
    }
    default:
      return -1;
  }
}

}  // namespace

ColumnTail::~ColumnTail() { mi_free(compact_); }

// Use counts of a plan's tensors (plan outputs count as a use).
struct ColumnTail::Index {
  const Plan& P;
  std::vector<int> uses;
  explicit Index(const Plan& plan) : P(plan), uses(plan.tensors().size(), 0) {
    for (int i = 0; i < P.op_count(); ++i)
      for (int t : op(i).in)
        if (t >= 0) ++uses[static_cast<size_t>(t)];
    for (int t : P.outputs()) ++uses[static_cast<size_t>(t)];
  }
  const OpDesc& op(int i) const { return P.op(i); }
  int producer(int t) const { return P.tensor(t).producer; }
  // The epilogue op of this kind that produces t, or -1.
  int produced_by(int t, OpKind kind) const {
    const int p = producer(t);
    return p >= 0 && op(p).kind == kind && epilogue(op(p)) ? p : -1;
  }
};

// A flattened head map: Reshape [1, C, H, W] -> [1, C, H*W] of the NCHW conversion of a cached map, each
// intermediate used once.
struct ColumnTail::Flat {
  int reshape = -1, relayout = -1, map = -1, h = 0, w = 0;
};

namespace {

// Per tensor id, the flattened map it is (map < 0: none).
std::vector<ColumnTail::Flat> flattened_maps(const ColumnTail::Index& ix) {
  const Plan& P = ix.P;
  std::vector<ColumnTail::Flat> flat(P.tensors().size());
  for (int i = 0; i < P.op_count(); ++i) {
    const OpDesc& op = ix.op(i);
    if (op.kind != OpKind::Reshape || !epilogue(op)) continue;
    const int x = op.in[0], y = op.out[0];
    const int r = ix.produced_by(x, OpKind::Relayout);
    if (r < 0 || ix.uses[static_cast<size_t>(x)] != 1) continue;
    const int m = ix.op(r).in[0], mp = ix.producer(m);
    const TensorInfo &mi = P.tensor(m), &xi = P.tensor(x), &yi = P.tensor(y);
    if (mi.layout != PlanLayout::NHWC || mi.stride <= 0 || mp < 0 || epilogue(ix.op(mp)) ||
        xi.layout != PlanLayout::Plain || yi.layout != PlanLayout::Plain || xi.shape.size() != 4 ||
        yi.shape != std::vector<int64_t>{1, xi.shape[1], xi.shape[2] * xi.shape[3]})
      continue;
    flat[static_cast<size_t>(y)] = {i, r, m, static_cast<int>(xi.shape[2]), static_cast<int>(xi.shape[3])};
  }
  return flat;
}

}  // namespace

std::unique_ptr<ColumnTail> ColumnTail::find(const std::shared_ptr<const Plan>& plan) {
  const Index ix(*plan);
  auto tail = std::unique_ptr<ColumnTail>(new ColumnTail());
  tail->plan_ = plan;
  tail->is_covered_.assign(static_cast<size_t>(plan->op_count()), 0);
  tail->is_feeder_.assign(static_cast<size_t>(plan->op_count()), 0);
  // Per tensor: the logical axis of its anchors (-1: not a column tensor).
  std::vector<int> ax(plan->tensors().size(), -1);
  if (!tail->add_gathers(ix, flattened_maps(ix), ax) || !tail->add_tail_ops(ix, ax) || !tail->prepare_compact(ax))
    return nullptr;
  return tail;
}

// Gathers: a Concat of flattened maps along the last axis, or a flattened map on its own. All share one
// anchor axis: the same parts in the same order.
bool ColumnTail::add_gathers(const Index& ix, const std::vector<Flat>& flat, std::vector<int>& ax) {
  const Plan& P = ix.P;
  const size_t nt = P.tensors().size();
  std::vector<char> in_gather(nt, 0);
  std::vector<std::pair<int, int>> geometry;  // (h, w) per part
  auto add = [&](int op_index, int out, const std::vector<int>& parts) {
    std::vector<std::pair<int, int>> g;
    Gather gather;
    gather.out = out;
    gather.channels = static_cast<int>(P.tensor(out).shape[1]);
    for (int t : parts) {
      const Flat& f = flat[static_cast<size_t>(t)];
      g.emplace_back(f.h, f.w);
      gather.maps.push_back(f.map);
      is_covered_[static_cast<size_t>(f.reshape)] = is_covered_[static_cast<size_t>(f.relayout)] = 1;
      is_feeder_[static_cast<size_t>(f.relayout)] = 1;
      if (std::find(sources_.begin(), sources_.end(), f.map) == sources_.end()) sources_.push_back(f.map);
    }
    if (geometry.empty()) geometry = g;
    if (g != geometry) return false;
    is_covered_[static_cast<size_t>(op_index)] = 1;
    ax[static_cast<size_t>(out)] = 2;  // [1, C, N]
    gathers_.push_back(std::move(gather));
    return true;
  };
  for (int i = 0; i < P.op_count(); ++i) {
    const OpDesc& op = ix.op(i);
    if (op.kind != OpKind::Concat || !epilogue(op)) continue;
    const TensorInfo& y = P.tensor(op.out[0]);
    if (y.layout != PlanLayout::Plain || op.axis != static_cast<int>(y.physical.size()) - 1) continue;
    std::vector<int> parts(op.in.begin(), op.in.end());
    bool all_flat = !parts.empty();
    for (int t : parts)
      all_flat = all_flat && t >= 0 && flat[static_cast<size_t>(t)].map >= 0 && ix.uses[static_cast<size_t>(t)] == 1;
    if (!all_flat) continue;
    if (!add(i, op.out[0], parts)) return false;
    for (int t : parts) in_gather[static_cast<size_t>(t)] = 1;
  }
  for (size_t t = 0; t < nt; ++t)
    if (flat[t].map >= 0 && !in_gather[t] && !add(flat[t].reshape, static_cast<int>(t), {static_cast<int>(t)}))
      return false;
  if (gathers_.empty() || geometry.size() > static_cast<size_t>(kMaxParts)) return false;
  int64_t n = 0;
  for (auto [h, w] : geometry) {
    part_offset_.push_back(n);
    n += static_cast<int64_t>(h) * w;
  }
  if (n <= 0 || n > (int64_t(1) << 24)) return false;  // no anchors, or more than any head has
  n_ = n;
  for (size_t p = 0; p < geometry.size(); ++p)
    part_of_.insert(part_of_.end(), static_cast<size_t>(geometry[p].first) * geometry[p].second,
                    static_cast<uint8_t>(p));
  views_.resize(geometry.size());
  return true;
}

// The tail: every epilogue op that reads a column tensor, in plan order. It must read only column tensors
// (their anchors on aligned axes) and constants, and act column-wise.
bool ColumnTail::add_tail_ops(const Index& ix, std::vector<int>& ax) {
  const Plan& P = ix.P;
  for (int i = 0; i < P.op_count(); ++i) {
    const OpDesc& op = ix.op(i);
    if (is_covered_[static_cast<size_t>(i)]) continue;
    const int ry = static_cast<int>(P.tensor(op.out[0]).shape.size());
    int first = -1;  // anchor axis of the first column input, aligned to the output's rank
    bool reads_other = false, misaligned = false;
    for (int t : op.in) {
      if (t < 0) continue;
      const int a = ax[static_cast<size_t>(t)];
      if (a >= 0) {
        const int aligned = a + ry - static_cast<int>(P.tensor(t).shape.size());
        if (first < 0) first = aligned;
        misaligned = misaligned || aligned != first;
      } else if (!P.tensor(t).constant) {
        reads_other = true;
      }
    }
    if (first < 0) continue;
    if (reads_other || misaligned || !epilogue(op)) return false;
    const bool binary = op.kind == OpKind::Add || op.kind == OpKind::Sub || op.kind == OpKind::Mul ||
                        op.kind == OpKind::Div;
    // Element-wise ops may take the anchors from either operand; other ops from their first input.
    const int x0 = op.in[0];
    if (!binary && ax[static_cast<size_t>(x0)] < 0) return false;
    const int out_ax = binary ? first : column_axis(P, op, ax[static_cast<size_t>(x0)]);
    if (out_ax < 0) return false;
    for (int t : op.in) {
      if (t < 0 || !P.tensor(t).constant || !binary) continue;
      const TensorInfo& c = P.tensor(t);
      const int cax = out_ax - (ry - static_cast<int>(c.shape.size()));
      if (cax < 0 || c.shape[static_cast<size_t>(cax)] == 1) continue;  // broadcast along the anchors
      if (c.shape[static_cast<size_t>(cax)] != n_ || c.layout != PlanLayout::Plain) return false;
      int& known = ax[static_cast<size_t>(t)];
      if (known >= 0 && known != cax) return false;
      if (known < 0) anchor_consts_.push_back(t);
      known = cax;
    }
    for (int t : op.out) {
      const TensorInfo& o = P.tensor(t);
      if (static_cast<int>(o.shape.size()) != ry || o.shape[static_cast<size_t>(out_ax)] != n_) return false;
      ax[static_cast<size_t>(t)] = out_ax;
    }
    is_covered_[static_cast<size_t>(i)] = 1;
    tail_ops_.push_back(i);
  }
  for (int t : P.outputs())
    if (ax[static_cast<size_t>(t)] >= 0) {
      if (P.tensor(t).layout != PlanLayout::Plain) return false;
      outputs_.push_back(t);
    }
  if (outputs_.empty()) return false;
  for (int i = 0; i < P.op_count(); ++i)
    if (is_covered_[static_cast<size_t>(i)]) covered_.push_back(i);
  // Every source map must be final where the column path runs.
  for (int m : sources_)
    if (ix.producer(m) >= covered_.front()) return false;
  return true;
}

// Compact storage: every column tensor and anchor constant, its anchor axis cut to k columns, and one
// runner of the tail's ops per compact size. A gather's output owns its compact storage even where the
// plan stores it inside a layout conversion's output (a flattening Reshape is a view): tensors that share
// that root are rebased onto the gather's output.
bool ColumnTail::prepare_compact(const std::vector<int>& ax) {
  const std::vector<TensorInfo>& T = plan_->tensors();
  const size_t nt = T.size();
  const int64_t n = n_;
  std::vector<TensorInfo> base = T;
  std::vector<int64_t> root_off(nt, -1);
  // Beyond three quarters of the columns the compact path saves little (at all N it measured no faster).
  const int64_t kmax = (3 * n + 3) / 4;
  int64_t floats = 0;
  for (size_t t = 0; t < nt; ++t) {
    if (ax[t] < 0) continue;
    TensorInfo& ti = base[t];
    ti.constant = false;
    ti.buffer = -1;
    ti.arena_offset = -1;
    bool gather_out = false;
    for (const Gather& g : gathers_) gather_out = gather_out || g.out == static_cast<int>(t);
    if (gather_out) {
      ti.alias_root = -1;
      ti.channel_offset = 0;
    } else if (ti.alias_root >= 0 && ax[static_cast<size_t>(ti.alias_root)] < 0) {
      int home = -1;
      for (const Gather& g : gathers_)
        if (T[static_cast<size_t>(g.out)].alias_root == ti.alias_root) home = g.out;
      if (home < 0) return false;
      ti.alias_root = home;
      ti.channel_offset -= T[static_cast<size_t>(home)].channel_offset;
    }
    if (ti.alias_root >= 0) {
      const TensorInfo& root = T[static_cast<size_t>(ti.alias_root)];
      const int64_t block =
          n * product(root.shape, static_cast<size_t>(ax[static_cast<size_t>(ti.alias_root)]) + 1, root.shape.size());
      if (root.layout != ti.layout || ti.channel_offset < 0 ||
          (ti.layout != PlanLayout::NHWC && ti.channel_offset % block))
        return false;
      continue;
    }
    root_off[t] = floats;
    floats += (ti.numel / n * kmax + 15) / 16 * 16;
  }
  compact_ = static_cast<float*>(mi_zalloc_aligned(static_cast<size_t>(std::max<int64_t>(floats, 16)) * 4, 64));
  if (!compact_) throw Error("cannot allocate the column tail's storage");
  for (int64_t k = kmax;; k = (2 * k + 2) / 3) {
    if (!buckets_.empty() && buckets_.back().k == k) break;
    std::vector<TensorInfo> infos = base;
    for (size_t t = 0; t < nt; ++t) {
      if (ax[t] < 0) continue;
      TensorInfo& ti = infos[t];
      ti.shape[static_cast<size_t>(ax[t])] = k;
      ti.physical[static_cast<size_t>(physical_axis(ti, ax[t]))] = k;
      ti.numel = ti.numel / n * k;
      if (ti.alias_root >= 0 && ti.layout != PlanLayout::NHWC)
        ti.channel_offset = static_cast<int>(ti.channel_offset / n * k);
    }
    Bucket bucket;
    bucket.k = k;
    try {
      bucket.runner = std::make_unique<OpRunner>(plan_, std::move(infos), tail_ops_);
    } catch (const Error&) {
      return false;  // some op does not take its compact shapes: no column path
    }
    bucket.bases.assign(nt, nullptr);
    for (size_t t = 0; t < nt; ++t)
      if (root_off[t] >= 0) bucket.bases[t] = compact_ + root_off[t];
    workspace_bytes_ = std::max(workspace_bytes_, bucket.runner->workspace_bytes());
    buckets_.push_back(std::move(bucket));
    if (k <= kMinBucket) break;
  }
  auto inner = [&](int t) {
    const TensorInfo& ti = T[static_cast<size_t>(t)];
    return product(ti.shape, static_cast<size_t>(ax[static_cast<size_t>(t)]) + 1, ti.shape.size());
  };
  for (int t : anchor_consts_) const_inner_.push_back(inner(t));
  for (int t : outputs_) output_inner_.push_back(inner(t));
  changed_.assign(static_cast<size_t>(n), 0);
  cols_.reserve(static_cast<size_t>(n));
  return true;
}

int64_t ColumnTail::collect(const std::vector<LabelMap*>& labels, bool round) {
  cols_.clear();
  bool any = false;
  for (int m : sources_) any = any || !labels[static_cast<size_t>(m)]->all_zero;
  if (!any) return 0;
  std::fill(changed_.begin(), changed_.end(), 0);
  for (const Gather& g : gathers_)
    for (size_t p = 0; p < g.maps.size(); ++p) {
      const LabelMap& L = *labels[static_cast<size_t>(g.maps[p])];
      if (L.all_zero) continue;
      char* c = changed_.data() + part_offset_[p];
      for (size_t k = 0; k < L.v.size(); ++k) c[k] |= changes_value(L.v[k], L.stride, round);
    }
  for (int64_t j = 0; j < n_; ++j)
    if (changed_[static_cast<size_t>(j)]) cols_.push_back(j);
  return static_cast<int64_t>(cols_.size());
}

void ColumnTail::copy_columns(float* dst, const float* src, int64_t inner, int64_t count, bool to_compact) const {
  // One row: compact column i <-> full column cols_[i], `inner` floats each (mostly 1: a plain loop).
  for (int64_t i = 0; i < count; ++i) {
    const int64_t full = cols_[static_cast<size_t>(i)];
    float* d = dst + (to_compact ? i : full) * inner;
    const float* s = src + (to_compact ? full : i) * inner;
    if (inner == 1) *d = *s;
    else std::memcpy(d, s, static_cast<size_t>(inner) * 4);
  }
}

void ColumnTail::run(const OpRunner& full, const TensorBases& bases, ThreadPool& pool, const Workspace& ws) {
  const int64_t K = static_cast<int64_t>(cols_.size());
  if (K == 0) return;
  if (K > max_columns()) throw Error("column tail: more changed columns than the compact path takes");
  size_t b = buckets_.size() - 1;
  while (buckets_[b].k < K) --b;
  Bucket& B = buckets_[b];
  const int64_t k = B.k;
  // The k - K padding columns are not gathered: they compute on whatever the compact tensors held (finite
  // values of earlier frames, or zeros) and are never scattered.

  // 1. Gather: column j of part p is position j - offset(p) of that part's map, its channels contiguous.
  const int64_t chunks = (K + kChunk - 1) / kChunk;
  for (const Gather& g : gathers_) {
    float* dst = B.runner->data(g.out, B.bases);
    for (size_t p = 0; p < g.maps.size(); ++p) views_[p] = full.map(g.maps[p], bases);
    pool.run(chunks, [&](int64_t chunk, int) {
      const int64_t i0 = chunk * kChunk, i1 = std::min(K, i0 + kChunk);
      const float* src[kChunk];
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t j = cols_[static_cast<size_t>(i)];
        const int p = part_of_[static_cast<size_t>(j)];
        const MapView& m = views_[static_cast<size_t>(p)];
        src[i - i0] = m.data + (j - part_offset_[static_cast<size_t>(p)]) * m.pixel_stride;
      }
      for (int c = 0; c < g.channels; ++c) {
        float* d = dst + c * k;
        for (int64_t i = i0; i < i1; ++i) d[i] = src[i - i0][c];
      }
    });
  }
  for (size_t c = 0; c < anchor_consts_.size(); ++c) {
    const int t = anchor_consts_[c];
    const int64_t inner = const_inner_[c], rows = plan_->tensor(t).numel / n_ / inner;
    const float* src = plan_->constant_data(t);
    float* dst = B.runner->data(t, B.bases);
    for (int64_t r = 0; r < rows; ++r)
      copy_columns(dst + r * k * inner, src + r * n_ * inner, inner, K, /*to_compact=*/true);
  }
  // 2. The tail's ops at k columns.
  for (int op : tail_ops_) B.runner->run(op, B.bases, nullptr, pool, ws);
  // 3. Scatter the real columns into the outputs.
  for (size_t o = 0; o < outputs_.size(); ++o) {
    const int t = outputs_[o];
    const int64_t inner = output_inner_[o], rows = plan_->tensor(t).numel / n_ / inner;
    float* dst = full.data(t, bases);
    const float* src = B.runner->data(t, B.bases);
    pool.run(rows, [&](int64_t r, int) {
      copy_columns(dst + r * n_ * inner, src + r * k * inner, inner, K, /*to_compact=*/false);
    });
  }
}

}  // namespace fx
