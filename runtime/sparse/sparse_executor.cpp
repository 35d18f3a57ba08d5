#include "runtime/sparse/sparse_executor.h"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "runtime/error.h"
#include "runtime/util/clock.h"
#include "runtime/sparse/reference.h"

namespace fx {

// Storage of one root tensor (a tensor that owns memory; in-place concat members live inside it).
// Maps that carry labels are double-buffered: `cur` holds this frame's values, the other buffer the
// previous frame's while the root is being shifted.
//
// Origin moves: a labelled buffer is allocated with `slack` floats before and after the map, and the map
// starts at mem + slack + origin. Moving the origin by (dy * w + dx) * c floats turns the previous
// frame's values at q + (dy, dx) into the values at q for every q whose shifted position is inside the
// map; the others (their old row wraps) are exactly those whose labels are invalid at that offset.
struct SparseExecutor::Root {
  float* mem[2] = {nullptr, nullptr};  // allocations
  float* buf[2] = {nullptr, nullptr};  // map origins: mem + slack + origin
  int64_t slack = 0, origin[2] = {0, 0};
  int h = 0, w = 0, c = 0;  // c: channels of the root (its pixel stride)
  int cur = 0;
  bool labelled = false;  // holds label-carrying maps (double-buffered)
  bool touched = false, swapped = false;
  // This frame, buffer `moved` (or -1) had its origin moved by (mdy, mdx) cells, the offset of label
  // `mlabel`: the previous frame's value at q sits at q - (mdy, mdx) in that buffer.
  int moved = -1, mdy = 0, mdx = 0;
  Label mlabel = 0;
  struct Unit {
    int ch_off, ch;
  };
  std::vector<Unit> written;  // channel ranges written this frame (capacity reserved)
  MapView view(int which, int ch_off, int ch) const { return {buf[which] + ch_off, h, w, ch, c}; }
  // Buffer `which` in the previous frame's coordinates: position q holds the previous frame's value at
  // q (its origin move undone; q inside the map stays inside the allocation).
  MapView previous_view(int which, int ch_off, int ch) const {
    MapView m = view(which, ch_off, ch);
    m.data -= (static_cast<int64_t>(shift_y(which)) * w + shift_x(which)) * c;
    return m;
  }
  // Offset of buffer `which`'s content this frame relative to the previous frame's coordinates.
  int shift_y(int which) const { return which == moved ? mdy : 0; }
  int shift_x(int which) const { return which == moved ? mdx : 0; }
  void set_origin(int which, int64_t o) {
    origin[which] = o;
    buf[which] = mem[which] + slack + o;
  }
};

namespace {

bool is_graph_input(const Plan& plan, int t) { return t == plan.input(); }

}  // namespace

SparseExecutor::SparseExecutor(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool, int block,
                               std::shared_ptr<const OpRunner> runner)
    : SparseExecutor(std::make_shared<CpuDevice>(std::move(plan), BackendOptions{}, std::move(pool), std::move(runner)),
                     block) {}

SparseExecutor::SparseExecutor(std::shared_ptr<const Device> device, int block)
    : device_(std::move(device)), plan_(device_->plan()), backend_(device_->new_backend()), block_(block) {
  const Plan& P = *plan_;
  if (block_ <= 0 || P.input_w() % block_ || P.input_h() % block_)
    throw Error("the block size " + std::to_string(block_) + " must divide the plan's input size " +
                std::to_string(P.input_w()) + "x" + std::to_string(P.input_h()));
  cols_ = P.input_w() / block_;
  rows_ = P.input_h() / block_;
  size_t nt = P.tensors().size();
  roots_.resize(nt);
  labels_.resize(nt);
  cur_labels_.assign(nt, nullptr);
  changed_.assign(nt, 0);
  bases_.assign(nt, nullptr);

  // The image enters through one Relayout into the network's NHWC layout; that op is where labels start.
  for (int i = 0; i < P.op_count(); ++i) {
    const OpDesc& op = plan_->op(i);
    for (int t : op.in)
      if (t >= 0 && is_graph_input(P, t)) {
        if (op.kind != OpKind::Relayout || input_op_ >= 0)
          throw Error("sparse execution needs the image to enter through a single layout conversion");
        input_op_ = i;
      }
  }
  if (input_op_ < 0) throw Error("the plan never reads its input");

  // Label maps for every spatial map produced by a local or global op.
  size_t max_positions = 0, max_floats = 0;
  for (int i = 0; i < P.op_count(); ++i) {
    const OpDesc& op = plan_->op(i);
    PlanRegion region = op.region;
    if (region == PlanRegion::Epilogue) continue;
    for (int t : op.out) {
      const TensorInfo& ti = P.tensor(t);
      bool spatial = ti.layout == PlanLayout::NHWC && ti.stride > 0;
      if (region == PlanRegion::Local && !spatial)
        throw Error("local op writes a non-spatial tensor '" + ti.name + "'");
      if (!spatial) continue;
      // A map covers the image at its stride (plus a border cell or two): with the plan's input of at
      // most 16384 pixels a side, label arithmetic in input pixels then stays small.
      if (ti.w() * ti.stride > 2 * (P.input_w() + ti.stride) || ti.h() * ti.stride > 2 * (P.input_h() + ti.stride))
        throw Error("map '" + ti.name + "' (" + std::to_string(ti.w()) + "x" + std::to_string(ti.h()) + " at stride " +
                    std::to_string(ti.stride) + ") does not fit the " + std::to_string(P.input_w()) + "x" +
                    std::to_string(P.input_h()) + " input");
      labels_[t] = std::make_unique<LabelMap>();
      labels_[t]->resize(static_cast<int>(ti.h()), static_cast<int>(ti.w()), ti.stride);
      cur_labels_[t] = labels_[t].get();
      max_positions = std::max(max_positions, static_cast<size_t>(ti.h() * ti.w()));
      max_floats = std::max(max_floats, static_cast<size_t>(ti.h() * ti.w() * ti.c()));
    }
  }
  {
    const OpDesc& in_op = plan_->op(input_op_);
    if (!labels_[static_cast<size_t>(in_op.out[0])])
      throw Error("sparse execution needs the image's layout conversion to produce a cached map");
  }
  // Storage: one buffer per root, two for roots holding labelled maps.
  for (size_t t = 0; t < nt; ++t) {
    const TensorInfo& ti = P.tensors()[t];
    if (ti.constant || ti.alias_root >= 0) continue;
    auto r = std::make_unique<Root>();
    if (ti.layout == PlanLayout::NHWC) {
      r->h = static_cast<int>(ti.h()), r->w = static_cast<int>(ti.w()), r->c = static_cast<int>(ti.c());
    }
    roots_[t] = std::move(r);
  }
  for (size_t t = 0; t < nt; ++t) {
    if (!labels_[t]) continue;
    const TensorInfo& ti = P.tensors()[t];
    roots_[ti.alias_root >= 0 ? ti.alias_root : t]->labelled = true;
  }
  for (size_t t = 0; t < nt; ++t) {
    const TensorInfo& ti = P.tensors()[t];
    int r = ti.alias_root >= 0 ? ti.alias_root : static_cast<int>(t);
    if (!ti.constant && roots_[r] && roots_[r]->labelled && !labels_[t])
      throw Error("tensor '" + ti.name +
                  "' shares storage with cached maps but is not one; unsupported for sparse execution");
  }
  for (size_t t = 0; t < nt; ++t) {
    Root* r = roots_[t].get();
    if (!r) continue;
    // Labelled maps get slack on each side for origin moves: an eighth of their rows, and at least two
    // frames of the largest vertical shift the aligner finds (+-16 px, rounded up to cells, plus the
    // row a horizontal shift wraps into).
    if (r->labelled) {
      int stride = std::max(1, P.tensors()[t].stride);
      r->slack = static_cast<int64_t>(std::max(r->h / 8, 2 * ((16 + stride - 1) / stride) + 1)) * r->w * r->c;
    }
    const size_t floats = static_cast<size_t>(P.tensors()[t].numel + 2 * r->slack);
    for (int b = 0; b < (r->labelled ? 2 : 1); ++b) {
      r->mem[b] = backend_->alloc(floats);
      r->set_origin(b, 0);
    }
    r->written.reserve(OpRunner::kMaxParts + 4);
    bases_[t] = r->buf[0];
  }
  find_island_entries();
  // The head's column tail, when every map it reads is cached.
  tail_ = ColumnTail::find(plan_);
  if (tail_)
    for (int m : tail_->sources())
      if (!labels_[static_cast<size_t>(m)]) tail_.reset();
  // The column tail runs the CPU kernels on host storage; other backends run the epilogue whole.
  if (!backend_->host_ops()) tail_.reset();
  if (tail_) tail_workspace_ = std::make_unique<WorkspaceBlocks>(tail_->workspace_bytes(), device_->pool().size());
  backend_->reserve({static_cast<int64_t>(max_positions), static_cast<int64_t>(max_floats)});
  op_share_.assign(static_cast<size_t>(P.op_count()), 0.f);
  spans_.reserve(max_positions);
  full_spans_.reserve(static_cast<size_t>(P.input_h()));
  saved_ = backend_->alloc(max_floats);
  copy_runs_.reserve(max_positions);
  image_spans_.reserve(static_cast<size_t>(P.input_h()) * cols_);
  keep_table_.reserve(max_positions * 3);
  cand_labels_.reserve(max_positions * 3);
  keep_choice_.reserve(max_positions);
  max_floats_ = max_floats;
  if (!backend_->host_storage())
    for (int t : P.outputs()) host_outputs_.emplace_back(static_cast<size_t>(P.tensor(t).numel));
  label_scratch_.reserve(max_positions * 2);
  changed_positions_.reserve(max_positions);
  runs_.reserve(max_positions);
  offset_count_.assign(static_cast<size_t>(2 * kMaxOffset + 1) * (2 * kMaxOffset + 1), 0);
  offsets_seen_.reserve(offset_count_.size());
  size_t img = static_cast<size_t>(P.input_w()) * P.input_h() * 3;
  ref_[0].assign(img, 114);
  ref_[1].assign(img, 114);
}

SparseExecutor::~SparseExecutor() {
  for (auto& r : roots_)
    if (r) {
      backend_->release(r->mem[0]);
      backend_->release(r->mem[1]);
    }
  backend_->release(saved_);
}

void SparseExecutor::find_island_entries() {
  const Plan& P = *plan_;
  const size_t nt = P.tensors().size();
  island_entry_.assign(nt, -1);
  auto region_of = [&](int op) {
    const OpDesc& o = plan_->op(op);
    return o.region;
  };
  std::vector<char> seen(nt);
  std::vector<int> stack;
  for (int i = 0; i < P.op_count(); ++i) {
    if (region_of(i) != PlanRegion::Global) continue;
    for (int out : P.op(i).out) {
      const LabelMap* L = labels_[static_cast<size_t>(out)].get();
      if (!L) continue;
      // Back through the island's ops (and unlabelled layout conversions) to the labelled maps of local
      // ops it reads; one of the output's size is its entry.
      std::fill(seen.begin(), seen.end(), 0);
      stack.assign(1, i);
      int entry = -1;
      bool single = true;
      while (!stack.empty() && single) {
        const OpDesc& op = P.op(stack.back());
        stack.pop_back();
        for (int t : op.in) {
          if (t < 0 || P.tensor(t).constant || seen[static_cast<size_t>(t)]) continue;
          seen[static_cast<size_t>(t)] = 1;
          const int from = P.tensor(t).producer;
          const LabelMap* l = labels_[static_cast<size_t>(t)].get();
          if (from < 0) {
            single = false;  // the graph input itself: no island reads it directly
          } else if (l && region_of(from) == PlanRegion::Local) {
            if (l->h != L->h || l->w != L->w || (entry >= 0 && entry != t)) single = false;
            entry = t;
          } else {
            stack.push_back(from);
          }
        }
      }
      if (single) island_entry_[static_cast<size_t>(out)] = entry;
    }
  }
}

const LabelMap* SparseExecutor::labels(int tensor) const {
  if (tensor < 0 || static_cast<size_t>(tensor) >= labels_.size()) return nullptr;
  return cur_labels_[static_cast<size_t>(tensor)];
}

float* SparseExecutor::tensor_data(int tensor) {
  const TensorInfo& t = plan_->tensor(tensor);
  if (t.constant) throw Error("internal: '" + t.name + "' is a constant, not storage");
  return storage_of(t, tensor, bases_);
}

MapView SparseExecutor::map_of(int tensor) { return map_at(plan_->tensor(tensor), tensor_data(tensor)); }

std::vector<float> SparseExecutor::read_tensor(int tensor) { return backend_->read(*plan_, bases_, tensor); }

const float* SparseExecutor::output_data(size_t i) {
  if (backend_->host_storage()) return tensor_data(plan_->outputs().at(i));
  return host_outputs_.at(i).data();
}

LabelMap& SparseExecutor::own_labels(int tensor) {
  LabelMap* own = labels_[static_cast<size_t>(tensor)].get();
  LabelMap*& cur = cur_labels_[static_cast<size_t>(tensor)];
  if (cur != own) {
    own->copy_from(*cur);
    cur = own;
  }
  return *own;
}

SparseExecutor::Root& SparseExecutor::root_of(int tensor) {
  const TensorInfo& ti = plan_->tensor(tensor);
  return *roots_[static_cast<size_t>(ti.alias_root >= 0 ? ti.alias_root : tensor)];
}


namespace {

// Mean |value| of a map: eight partial sums in double over channels c % 8, added in order at the end
// (the same value for any thread count or backend, and eight independent chains instead of one).
float mean_abs(const MapView& m) {
  const int c8 = m.c / 8 * 8;
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int y = 0; y < m.h; ++y)
    for (int x = 0; x < m.w; ++x) {
      const float* v = m.at(y, x);
      for (int c = 0; c < c8; c += 8)
        for (int k = 0; k < 8; ++k) part[k] += std::fabs(v[c + k]);
      for (int c = c8; c < m.c; ++c) part[c - c8] += std::fabs(v[c]);
    }
  double s = 0;
  for (double p : part) s += p;
  return static_cast<float>(s / (static_cast<double>(m.h) * m.w * m.c));
}

}  // namespace

void SparseExecutor::reset(const uint8_t* rgb) {
  std::vector<Label> all_fresh(static_cast<size_t>(cols_) * rows_, kInvalid);
  initialised_ = true;
  run(all_fresh, rgb, SparseParams{});
  // The mean |value| of each cached op output (the scale of its truncation threshold): on host storage
  // one op per pool task; elsewhere each map is downloaded first.
  op_scale_.assign(static_cast<size_t>(plan_->op_count()), 0.f);
  auto cached = [&](int64_t i) {
    const int t = plan_->op(static_cast<int>(i)).out[0];
    return labels_[static_cast<size_t>(t)] ? t : -1;
  };
  if (backend_->host_storage()) {
    device_->pool().run(plan_->op_count(), [&](int64_t i, int) {
      const int t = cached(i);
      if (t >= 0) op_scale_[static_cast<size_t>(i)] = mean_abs(map_of(t));
    });
    return;
  }
  std::vector<float> host(static_cast<size_t>(max_floats_));
  for (int i = 0; i < plan_->op_count(); ++i) {
    const int t = cached(i);
    if (t < 0) continue;
    const MapView m = map_of(t);
    backend_->download_map(m, host.data());
    op_scale_[static_cast<size_t>(i)] = mean_abs(dense_map(host.data(), m.h, m.w, m.c));
  }
}

void SparseExecutor::collect_runs(const LabelMap& L, bool round) {
  runs_.clear();
  for (int y = 0; y < L.h; ++y) {
    const Label* lr = L.row(y);
    for (int x = 0; x < L.w;) {
      Label l = lr[x];
      int x1 = x + 1;
      while (x1 < L.w && lr[x1] == l) ++x1;
      int dx = 0, dy = 0;
      if (l != kInvalid && cell_offset(shift_dx(l), L.stride, round, dx) &&
          cell_offset(shift_dy(l), L.stride, round, dy))
        runs_.push_back({y, x, x1, dy, dx, l});
      x = x1;
    }
  }
}

void SparseExecutor::move_origin(Root& R, const LabelMap& L, bool round) {
  collect_runs(L, round);
  // The most common non-zero cell offset among labelled positions; moving the origin by it pays when it
  // leaves fewer positions to copy than staying (the zero offset's count).
  int64_t best_n = 0, zero_n = 0;
  int best = -1;
  for (const ShiftRun& r : runs_) {
    if (std::abs(r.dy) > kMaxOffset || std::abs(r.dx) > kMaxOffset) continue;
    int k = (r.dy + kMaxOffset) * (2 * kMaxOffset + 1) + r.dx + kMaxOffset;
    if (offset_count_[static_cast<size_t>(k)] == 0) offsets_seen_.push_back(k);
    offset_count_[static_cast<size_t>(k)] += r.x1 - r.x0;
  }
  const int zero_k = kMaxOffset * (2 * kMaxOffset + 1) + kMaxOffset;
  for (int k : offsets_seen_) {
    int64_t n = offset_count_[static_cast<size_t>(k)];
    offset_count_[static_cast<size_t>(k)] = 0;
    if (k == zero_k) zero_n = n;
    else if (n > best_n) best_n = n, best = k;
  }
  offsets_seen_.clear();
  if (best < 0 || best_n <= zero_n) return;
  const int cy = best / (2 * kMaxOffset + 1) - kMaxOffset, cx = best % (2 * kMaxOffset + 1) - kMaxOffset;
  Label label = 0;
  for (const ShiftRun& r : runs_)
    if (r.dy == cy && r.dx == cx) {
      label = r.label;
      break;
    }
  int64_t origin = R.origin[R.cur] + (static_cast<int64_t>(cy) * R.w + cx) * R.c;
  if (origin < -R.slack || origin > R.slack) return;  // no room left: this frame copies (and re-centres)
  R.set_origin(R.cur, origin);
  R.moved = R.cur, R.mdy = cy, R.mdx = cx, R.mlabel = label;
  ++stats_.origin_moves;
}

// Starts writing a channel range of a labelled root this frame. The first write decides whether the
// root is updated in place (every label a zero shift, or the shift its origin moved by) or into its
// other buffer; a later write that needs shifting moves the ranges written so far into the other
// buffer first. Labelled positions are then taken from the previous frame's values.
void SparseExecutor::begin_write(int root_id, int ch_off, int ch, const LabelMap& L, bool need_shift,
                                 const SparseParams& p, bool force_swap) {
  Root& R = *roots_[static_cast<size_t>(root_id)];
  bool round = p.round_offsets;
  bool collected = false;
  if (!R.touched && need_shift && !force_swap && p.move_origins) {
    move_origin(R, L, round);
    collected = true;
  }
  // Positions whose value is still to be moved within the current buffer (after an origin move, every
  // labelled position whose offset differs from the move, zero shifts included): few of them are moved
  // in place (gathered into scratch first, since a source may be another moved position, then
  // scattered); many make the root switch to its other buffer.
  int64_t moved = 0;
  copy_runs_.clear();
  if (need_shift || R.moved == R.cur) {
    if (!collected) collect_runs(L, round);
    const int sy = R.shift_y(R.cur), sx = R.shift_x(R.cur);
    for (const ShiftRun& r : runs_) {
      const int dy = r.dy - sy, dx = r.dx - sx;
      if (dy == 0 && dx == 0) continue;
      copy_runs_.push_back({r.y, r.x0, r.x1, r.y + dy, r.x0 + dx});
      moved += r.x1 - r.x0;
    }
  }
  bool in_place_shift = moved > 0 && moved * 2 <= static_cast<int64_t>(L.h) * L.w && (!R.touched || !R.swapped);
  bool swap = force_swap || (moved > 0 && !in_place_shift);
  if (force_swap) in_place_shift = false;
  if (!R.touched) {
    R.touched = true;
    R.swapped = swap;
    if (swap) {
      R.cur ^= 1;
      R.set_origin(R.cur, 0);  // everything in it is rewritten this frame
    }
  } else if (!R.swapped && swap) {
    const int from = R.cur, to = R.cur ^ 1;
    R.set_origin(to, 0);
    for (const Root::Unit& u : R.written) backend_->copy_map(R.view(from, u.ch_off, u.ch), R.view(to, u.ch_off, u.ch));
    R.cur = to;
    R.swapped = true;
  }
  if (in_place_shift && !R.swapped)
    backend_->move_in_place(R.view(R.cur, ch_off, ch), copy_runs_.data(), copy_runs_.size(), moved * ch);
  bases_[static_cast<size_t>(root_id)] = R.buf[R.cur];
  R.written.push_back({ch_off, ch});
  if (!R.swapped) return;
  // Shifted copy of every labelled position from the previous frame.
  copy_runs_.clear();
  for (int y = 0; y < L.h; ++y) {
    const Label* lr = L.row(y);
    for (int x = 0; x < L.w;) {
      const Label l = lr[x];
      int x1 = x + 1;
      while (x1 < L.w && lr[x1] == l) ++x1;
      if (l != kInvalid) {
        int dx = 0, dy = 0;
        cell_offset(shift_dx(l), L.stride, round, dx);
        cell_offset(shift_dy(l), L.stride, round, dy);
        copy_runs_.push_back({y, x, x1, y + dy, x + dx});
      }
      x = x1;
    }
  }
  const int old = R.cur ^ 1;
  backend_->copy_runs(R.previous_view(old, ch_off, ch), R.view(R.cur, ch_off, ch), copy_runs_.data(),
                      copy_runs_.size());
}

void SparseExecutor::begin_write_tensor(int tensor, bool need_shift, const SparseParams& p, bool force_swap) {
  const TensorInfo& ti = plan_->tensor(tensor);
  int root = ti.alias_root >= 0 ? ti.alias_root : tensor;
  begin_write(root, ti.alias_root >= 0 ? ti.channel_offset : 0, static_cast<int>(ti.c()),
              *cur_labels_[static_cast<size_t>(tensor)], need_shift, p, force_swap);
}

void SparseExecutor::save_cached(int tensor, const std::vector<Span>& spans) {
  backend_->gather(map_of(tensor), make_span_list(spans), saved_);
}

// Recomputed positions whose new value equals the cached one (bitwise when eps == 0, else within eps)
// keep the cached value and get a label back: the candidate shifts are the block's motion vector and 0
// (double-buffered maps), preceded for an island output by its own input's label, within eps_reused.
// The host picks the candidates; the backend compares where the values live.
void SparseExecutor::truncate(int tensor, const std::vector<Span>& recomputed, bool in_place, float eps,
                              const SparseParams& p, const LabelMap* own, float eps_reused) {
  LabelMap& L = own_labels(tensor);
  const TensorInfo& ti = plan_->tensor(tensor);
  Root& R = root_of(tensor);
  const int ch_off = ti.alias_root >= 0 ? ti.channel_offset : 0, ch = static_cast<int>(ti.c());
  const MapView now = R.view(R.cur, ch_off, ch);
  const int S = L.stride;
  const SpanList list = make_span_list(recomputed);
  const int64_t n = list.positions;
  keep_choice_.resize(static_cast<size_t>(n));
  if (in_place) {
    // The value before the recompute was saved (save_cached), in span order: candidate k is saved
    // value k, when the position's previous value lay inside the map (after an origin move by
    // (mdy, mdx) it came from q + (mdy, mdx)).
    keep_table_.resize(static_cast<size_t>(n));
    int64_t k = 0;
    for (const Span& s : recomputed)
      for (int x = s.x0; x < s.x1; ++x, ++k) {
        const bool inside =
            R.moved != R.cur || (s.y + R.mdy >= 0 && s.y + R.mdy < L.h && x + R.mdx >= 0 && x + R.mdx < L.w);
        keep_table_[static_cast<size_t>(k)] = {inside ? static_cast<int32_t>(k) : -1, eps};
      }
    const MapView saved{saved_, 1, static_cast<int>(std::max<int64_t>(n, 1)), ch, ch};
    backend_->keep_close(now, list, saved, keep_table_.data(), 1, keep_choice_.data());
    const Label kept_label = R.moved == R.cur ? R.mlabel : 0;
    int64_t kept = 0;
    k = 0;
    for (const Span& s : recomputed)
      for (int x = s.x0; x < s.x1; ++x, ++k)
        if (keep_choice_[static_cast<size_t>(k)] >= 0) {
          L.row(s.y)[x] = kept_label;
          ++kept;
        }
    if (kept) L.summarize();
    stats_.truncated_positions += kept;
    return;
  }
  // Double-buffered: candidates are the own input's label (islands), the block's motion, no motion;
  // each shift once (the first, loosest threshold wins). Positions of the previous frame's map.
  constexpr int kCands = 3;
  keep_table_.resize(static_cast<size_t>(n) * kCands);
  cand_labels_.resize(static_cast<size_t>(n) * kCands);
  int64_t k = 0;
  for (const Span& s : recomputed)
    for (int x = s.x0; x < s.x1; ++x, ++k) {
      KeepCandidate* row = keep_table_.data() + k * kCands;
      Label* labels = cand_labels_.data() + k * kCands;
      int nc = 0;
      auto candidate = [&](Label l, float e) {
        for (int c = 0; c < nc; ++c)
          if (labels[c] == l) return;
        int dx, dy;
        if (!cell_offset(shift_dx(l), S, p.round_offsets, dx) || !cell_offset(shift_dy(l), S, p.round_offsets, dy))
          return;
        const int sy = s.y + dy, sx = x + dx;
        if (sy < 0 || sy >= L.h || sx < 0 || sx >= L.w) return;
        labels[nc] = l;
        row[nc++] = {sy * L.w + sx, e};
      };
      if (own && own->row(s.y)[x] != kInvalid) candidate(own->row(s.y)[x], eps_reused);
      if (p.block_motion) {
        const int bx = std::min(cols_ - 1, (x * S + S / 2) / block_), by = std::min(rows_ - 1, (s.y * S + S / 2) / block_);
        const Label m = (*p.block_motion)[static_cast<size_t>(by) * cols_ + bx];
        if (m != kInvalid) candidate(m, eps);
      }
      candidate(0, eps);
      for (int c = nc; c < kCands; ++c) row[c] = {-1, 0.f};
    }
  backend_->keep_close(now, list, R.previous_view(R.cur ^ 1, ch_off, ch), keep_table_.data(), kCands,
                       keep_choice_.data());
  int64_t kept = 0;
  k = 0;
  for (const Span& s : recomputed)
    for (int x = s.x0; x < s.x1; ++x, ++k) {
      const int c = keep_choice_[static_cast<size_t>(k)];
      if (c < 0) continue;
      L.row(s.y)[x] = cand_labels_[static_cast<size_t>(k * kCands + c)];
      ++kept;
    }
  if (kept) L.summarize();
  stats_.truncated_positions += kept;
}

namespace {

float op_eps(const SparseParams& p, int op) {
  if (!p.eps || static_cast<size_t>(op) >= p.eps->size()) return 0.f;
  return (*p.eps)[static_cast<size_t>(op)];
}

}  // namespace

void SparseExecutor::run_input_op(const std::vector<Label>& block_labels, const uint8_t* frame_rgb,
                                  const SparseParams& p) {
  const Plan& P = *plan_;
  const int W = P.input_w(), H = P.input_h();
  // R_t from R_{t-1}: moved blocks copy from p + v, fresh blocks from the frame.
  apply_block_update(ref_[ref_cur_].data(), block_labels, frame_rgb, W, H, block_, ref_[ref_cur_ ^ 1].data());
  stats_.fresh_blocks = 0;
  for (Label l : block_labels) stats_.fresh_blocks += l == kInvalid;
  ref_cur_ ^= 1;

  const OpDesc& op = plan_->op(input_op_);
  int out = op.out[0];
  LabelMap& L = *labels_[static_cast<size_t>(out)];
  cur_labels_[static_cast<size_t>(out)] = &L;
  L.fill_blocks(block_labels.data(), cols_, rows_, block_);
  bool need_shift = L.shifted(p.round_offsets);
  const float eps = op_eps(p, input_op_);
  // Without a threshold on this op, moved blocks are rewritten from R_t like fresh ones rather than
  // moving their floats: a byte-to-float conversion costs less than a move, and gives the moved values
  // bit for bit (R_t[p] = R_{t-1}[p + v]). With a threshold, recomputed pixels may keep older values,
  // so moved ones are moved.
  const bool rewrite = eps <= 0.f;
  begin_write_tensor(out, need_shift && !rewrite, p);
  spans_ = L.invalid_spans();
  bool in_place = !root_of(out).swapped;
  if (in_place && eps > 0.f) save_cached(out, spans_);
  // Pixels: the float conversion of rgb_to_planar_float (value / 255), straight into NHWC: the fresh
  // positions, or every block that is not a zero shift (runs of such blocks along a block row).
  int64_t fresh = 0;
  for (const Span& s : spans_) fresh += s.x1 - s.x0;
  const std::vector<Span>* write = &spans_;
  if (rewrite && need_shift) {
    image_spans_.clear();
    for (int by = 0; by < rows_; ++by) {
      const Label* row = block_labels.data() + static_cast<size_t>(by) * cols_;
      for (int bx = 0; bx < cols_;) {
        int bx1 = bx;
        while (bx1 < cols_ && row[bx1] != 0) ++bx1;
        for (int y = by * block_; bx1 > bx && y < (by + 1) * block_; ++y) image_spans_.push_back({y, bx * block_, bx1 * block_});
        bx = std::max(bx1, bx + 1);
      }
    }
    write = &image_spans_;
  }
  backend_->write_image(map_of(out), reference_rgb(), W, make_span_list(*write));
  stats_.local_positions += static_cast<int64_t>(W) * H;
  stats_.recomputed_positions += fresh;
  op_share_[static_cast<size_t>(input_op_)] = static_cast<float>(fresh) / (static_cast<float>(W) * H);
  if (eps > 0.f) truncate(out, spans_, in_place, eps, p);
}

void SparseExecutor::run_local_op(int index, const SparseParams& p) {
  const Plan& P = *plan_;
  const OpDesc& op = plan_->op(index);
  const std::vector<int>& outs = op.out;
  int out = outs[0];
  auto in_labels = [&](int t) -> LabelMap* {
    LabelMap* l = cur_labels_[static_cast<size_t>(t)];
    if (!l) throw Error("local op " + std::to_string(index) + " reads a map without labels");
    return l;
  };
  bool round = p.round_offsets;
  auto t_labels = Clock::now();
  // 1. Labels of the output. Ops that pass their input's labels through unchanged (point-wise ops whose
  //    map inputs share one label map; stride-1 windows in footprint mode; 1x1 stride-1 convolutions)
  //    share the input's map instead of recomputing it.
  const LabelMap* maps[OpRunner::kMaxParts + 4];
  int nmaps = 0;
  for (int t : op.in)
    if (t >= 0 && !P.tensor(t).constant && nmaps < static_cast<int>(OpRunner::kMaxParts) + 4)
      maps[nmaps++] = in_labels(t);
  AxisWindow wy = op.wy, wx = op.wx;
  bool windowed = op.kind == OpKind::Conv || op.kind == OpKind::MaxPool;
  bool unit_window = wy.stride == 1 && wx.stride == 1 &&
                     (p.footprint_only || (wy.kernel == 1 && wx.kernel == 1 && wy.pad == 0 && wx.pad == 0));
  bool passthrough = (!windowed || unit_window) && op.kind != OpKind::ConvTranspose &&
                     op.kind != OpKind::ResizeNearest && nmaps > 0;
  for (int i = 1; i < nmaps && passthrough; ++i) passthrough = maps[i] == maps[0];
  LabelMap* shared = passthrough ? const_cast<LabelMap*>(maps[0]) : nullptr;
  if (shared && shared->h == labels_[static_cast<size_t>(out)]->h &&
      shared->w == labels_[static_cast<size_t>(out)]->w) {
    for (int t : outs) cur_labels_[static_cast<size_t>(t)] = shared;
  } else {
    LabelMap& L = *labels_[static_cast<size_t>(out)];
    cur_labels_[static_cast<size_t>(out)] = &L;
    switch (op.kind) {
      case OpKind::Conv:
      case OpKind::MaxPool: {
        if (p.footprint_only) {
          wy = {wy.stride, wy.stride, 0, 1};
          wx = {wx.stride, wx.stride, 0, 1};
        }
        propagate_window(*maps[0], wy, wx, round, L, label_scratch_);
        // A fused residual is read at the same position: it must agree too.
        if (op.has_residual) {
          const LabelMap& res = *in_labels(op.in[3]);
          if (!res.all_zero || !L.all_zero) {
            for (size_t k = 0; k < L.v.size(); ++k)
              if (!same_move(L.v[k], res.v[k], L.stride, round)) L.v[k] = kInvalid;
            L.summarize();
          }
        }
        break;
      }
      case OpKind::ConvTranspose: {
        if (p.footprint_only) propagate_upsample(*maps[0], op.wy.stride, op.wx.stride, round, L);
        else propagate_transposed(*maps[0], op.wy, op.wx, round, L);
        break;
      }
      case OpKind::ResizeNearest: {
        propagate_upsample(*maps[0], op.scale_h, op.scale_w, round, L);
        break;
      }
      default:
        // Point-wise: element-wise ops, channel concat and split.
        propagate_pointwise(maps, nmaps, round, L);
        break;
    }
    for (size_t k = 1; k < outs.size(); ++k) cur_labels_[static_cast<size_t>(outs[k])] = &L;  // split
  }
  LabelMap& L = *cur_labels_[static_cast<size_t>(out)];
  stats_.labels_ms += ms_since(t_labels);
  auto t_copy = Clock::now();
  // 2. Storage. Every channel range this op writes takes its labelled positions from the cache
  //    (in place, or shifted from the other buffer); in-place concat inputs and split outputs that are
  //    views of the input are written by their producers, not here.
  bool need_shift = L.shifted(round);
  bool compute = true;  // the op computes its output (truncation applies), rather than moving data
  if (op.kind == OpKind::Concat || op.kind == OpKind::Split) {
    compute = false;
    bool concat = op.kind == OpKind::Concat;
    int whole_t = concat ? out : op.in[0];
    MapView whole = map_of(whole_t);
    const TensorInfo& wt = P.tensor(whole_t);
    int whole_root = wt.alias_root >= 0 ? wt.alias_root : whole_t;
    int whole_off = wt.alias_root >= 0 ? wt.channel_offset : 0;
    int off = 0;
    const std::vector<int>& parts = concat ? op.in : op.out;
    for (int t : parts) {
      MapView part = map_of(t), slot = whole.channels(off, part.c);
      if (part.data != slot.data || part.pixel_stride != slot.pixel_stride) {
        if (concat) {
          begin_write(whole_root, whole_off + off, part.c, L, need_shift, p);
        } else {
          begin_write_tensor(t, need_shift, p);
        }
      }
      off += part.c;
    }
  } else {
    begin_write_tensor(out, need_shift, p);
  }
  const std::vector<Span>& spans = L.invalid_spans();
  int64_t positions = static_cast<int64_t>(L.h) * L.w, recompute = 0;
  for (const Span& sp : spans) recompute += sp.x1 - sp.x0;
  stats_.local_positions += positions;
  stats_.recomputed_positions += recompute;
  stats_.local_flops += static_cast<double>(op.flops);
  stats_.recomputed_flops += positions ? static_cast<double>(op.flops) * recompute / positions : 0.0;
  op_share_[static_cast<size_t>(index)] = positions ? static_cast<float>(recompute) / positions : 0.f;
  if (recompute == 0) {
    stats_.copy_ms += ms_since(t_copy);
    return;
  }


  // 3. Recompute the invalid positions as one batch, then keep values that did not change.
  bool in_place = !root_of(out).swapped;
  float eps = op_eps(p, index);
  bool compare = compute && eps > 0.f;
  if (compare && in_place) save_cached(out, spans);
  stats_.copy_ms += ms_since(t_copy);
  auto t_kernel = Clock::now();
  SpanList list{spans.data(), static_cast<int>(spans.size()), recompute};
  backend_->run(index, bases_, &list);
  stats_.kernel_ms += ms_since(t_kernel);
  auto t_cmp = Clock::now();
  if (compare) truncate(out, spans, in_place, eps, p);
  stats_.compare_ms += ms_since(t_cmp);
}

bool SparseExecutor::dirty_inputs(int index) const {
  const OpDesc& op = plan_->op(index);
  for (int t : op.in) {
    if (t < 0 || plan_->tensor(t).constant) continue;
    const LabelMap* l = labels(t);
    if (l ? !l->all_zero : changed_[static_cast<size_t>(t)] != 0) return true;
  }
  return false;
}

bool SparseExecutor::relayout_changed(int index, bool round) {
  const OpDesc& op = plan_->op(index);
  if (op.kind != OpKind::Relayout) return false;
  const int in = op.in[0], out = op.out[0];
  const LabelMap* L = labels(in);
  if (!L || plan_->tensor(out).layout == PlanLayout::NHWC) return false;
  // Its NCHW output persists across frames and equals the input's previous values: only positions whose
  // value changed (recomputed, or moved by whole cells: changes_value) are rewritten, while they are few.
  const int64_t hw = static_cast<int64_t>(L->h) * L->w;
  std::vector<int64_t>& changed = changed_positions_;
  changed.clear();
  for (int64_t k = 0; k < hw; ++k)
    if (changes_value(L->v[static_cast<size_t>(k)], L->stride, round)) changed.push_back(k);
  if (static_cast<int64_t>(changed.size()) * 4 > hw) return false;
  backend_->scatter_planar(map_of(in), changed.data(), changed.size(), tensor_data(out));
  return true;
}

// Global (attention island) and epilogue ops: recomputed whole when an input changed. Spatial outputs
// of the island are then compared with the cache like recomputed local positions.
void SparseExecutor::run_dense_op(int index, const SparseParams& p) {
  const OpDesc& op = plan_->op(index);
  bool global = op.region == PlanRegion::Global;
  // A layout conversion feeding the column tail missed the frames the tail ran on columns: it runs whole.
  const bool stale = tail_stale_ && tail_->feeds(index);
  bool dirty = stale || dirty_inputs(index);
  for (int t : op.out) {
    LabelMap* L = labels_[static_cast<size_t>(t)].get();
    if (L) {
      cur_labels_[static_cast<size_t>(t)] = L;
      L->fill(dirty ? kInvalid : 0);
      begin_write_tensor(t, false, p, /*force_swap=*/dirty && op_eps(p, index) > 0.f);
    } else {
      changed_[static_cast<size_t>(t)] = dirty;
    }
  }
  op_share_[static_cast<size_t>(index)] = dirty ? 1.f : 0.f;
  if (!dirty) return;
  auto t0 = Clock::now();
  if (!global && !stale && relayout_changed(index, p.round_offsets)) {
    ++stats_.epilogue_run;
    stats_.epilogue_ms += ms_since(t0);
    return;
  }
  backend_->run(index, bases_, nullptr);
  if (global) ++stats_.islands_run;
  else ++stats_.epilogue_run;
  for (int t : op.out) {
    LabelMap* L = labels_[static_cast<size_t>(t)].get();
    if (!L) continue;
    if (op_eps(p, index) <= 0.f) continue;  // everything counts as changed
    full_spans_.clear();
    for (int y = 0; y < L->h; ++y) full_spans_.push_back({y, 0, L->w});
    const int entry = global ? island_entry_[static_cast<size_t>(t)] : -1;
    const LabelMap* own = entry >= 0 && p.island_reused_scale != 1.f ? labels(entry) : nullptr;
    truncate(t, full_spans_, false, op_eps(p, index), p, own, op_eps(p, index) * p.island_reused_scale);
  }
  (global ? stats_.island_ms : stats_.epilogue_ms) += ms_since(t0);
}

const SparseStats& SparseExecutor::run(const std::vector<Label>& block_labels, const uint8_t* frame_rgb,
                                       const SparseParams& params) {
  if (block_labels.size() != static_cast<size_t>(cols_) * rows_)
    throw Error("block labels: expected " + std::to_string(cols_ * rows_) + ", got " +
                std::to_string(block_labels.size()));
  stats_ = SparseStats{};
  for (auto& r : roots_)
    if (r) {
      r->touched = r->swapped = false;
      r->moved = -1;
      r->mdy = r->mdx = 0;
      r->written.clear();
    }
  std::fill(changed_.begin(), changed_.end(), 0);
  const Plan& P = *plan_;
  bool columns = false;  // this frame the column tail replaces its covered ops
  for (int i = 0; i < P.op_count(); ++i) {
    const OpDesc& op = plan_->op(i);
    PlanRegion region = op.region;
    if (tail_ && i == tail_->covered().front()) columns = run_tail(params.round_offsets);
    if (columns && tail_->covers(i)) continue;
    if (i == input_op_) {
      run_input_op(block_labels, frame_rgb, params);
    } else if (region == PlanRegion::Local) {
      run_local_op(i, params);
    } else {
      run_dense_op(i, params);
    }
  }
  if (tail_ && !columns) tail_stale_ = false;  // the covered ops ran whole (or had nothing to do)
  if (!backend_->host_storage())
    for (size_t o = 0; o < host_outputs_.size(); ++o) {
      const int t = P.outputs()[o];
      backend_->download(host_outputs_[o].data(), tensor_data(t), host_outputs_[o].size());
    }
  return stats_;
}

bool SparseExecutor::run_tail(bool round) {
  const int64_t k = tail_->collect(cur_labels_, round);
  if (k > tail_->max_columns()) return false;
  auto t0 = Clock::now();
  if (k > 0) {
    tail_->run(*backend_->host_ops(), bases_, device_->pool(), tail_workspace_->get());
    tail_stale_ = true;
    stats_.epilogue_run += tail_->tail_op_count();
    stats_.tail_columns = k;
  }
  const float share = static_cast<float>(k) / static_cast<float>(tail_->anchors());
  for (int i : tail_->covered()) {
    op_share_[static_cast<size_t>(i)] = share;
    for (int t : plan_->op(i).out)
      changed_[static_cast<size_t>(t)] = k > 0;
  }
  stats_.epilogue_ms += ms_since(t0);
  return true;
}

void SparseExecutor::refresh_op(int index) {
  const OpDesc& op = plan_->op(index);
  if (index == input_op_) {
    // The network's input map, rewritten from R_t (it only differs where a threshold kept old pixels).
    const int out = op.out[0];
    const MapView m = map_of(out);
    full_spans_.clear();
    for (int y = 0; y < m.h; ++y) full_spans_.push_back({y, 0, m.w});
    backend_->write_image(m, reference_rgb(), m.w, make_span_list(full_spans_));
    cur_labels_[static_cast<size_t>(out)] = labels_[static_cast<size_t>(out)].get();
    labels_[static_cast<size_t>(out)]->fill(0);
    return;
  }
  if (tail_ && tail_->covers(index)) {
    // The column tail is refreshed as one slice, at its first op: its intermediates are stale after
    // frames that ran it on columns, so every covered op runs whole, in order.
    if (index != tail_->covered().front()) return;
    for (int i : tail_->covered()) backend_->run(i, bases_, nullptr);
    tail_stale_ = false;
    return;
  }
  // Recompute in the current buffers; the values become the exact function of the current inputs.
  backend_->run(index, bases_, nullptr);
  for (int t : op.out)
    if (LabelMap* L = labels_[static_cast<size_t>(t)].get()) {
      cur_labels_[static_cast<size_t>(t)] = L;
      L->fill(0);
    }
}

}  // namespace fx
