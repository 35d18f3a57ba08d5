#include "runtime/plan.h"

#include <mimalloc.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "runtime/error.h"
#include "runtime/plan_checksum.h"

namespace fx {

namespace fb = ::fluxshard::plan;

namespace {

constexpr int64_t kMaxElements = int64_t(1) << 31;
constexpr int kMaxStride = 4096;  // of a spatial map, in input pixels
constexpr uint64_t kMaxArenaBytes = uint64_t(1) << 36;

template <typename E>
bool enum_in_range(E v) {
  return static_cast<int64_t>(v) >= 0 && v <= E::MAX;
}

// The options table each op kind reads (NONE: it has none).
fb::OpOptions options_of(OpKind k) {
  switch (k) {
    case OpKind::Conv:
    case OpKind::ConvTranspose: return fb::OpOptions::ConvOptions;
    case OpKind::MaxPool: return fb::OpOptions::PoolOptions;
    case OpKind::ResizeNearest: return fb::OpOptions::ResizeOptions;
    case OpKind::Concat:
    case OpKind::Split:
    case OpKind::Softmax: return fb::OpOptions::AxisOptions;
    case OpKind::Transpose: return fb::OpOptions::TransposeOptions;
    case OpKind::Slice: return fb::OpOptions::SliceOptions;
    case OpKind::Relayout: return fb::OpOptions::RelayoutOptions;
    default: return fb::OpOptions::NONE;
  }
}

}  // namespace

const char* op_kind_name(OpKind k) {
  const char* name = fb::EnumNameOpKind(k);
  return (name && *name) ? name : "?";
}

std::shared_ptr<const Plan> Plan::load_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open plan '" + path + "': " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw Error("cannot read plan '" + path + "'");
  return from_bytes(bytes.data(), bytes.size(), path);
}

std::shared_ptr<const Plan> Plan::from_bytes(const void* data, size_t size, const std::string& source) {
  std::shared_ptr<Plan> p(new Plan());
  p->source_ = source;
  if (size < 8 || !fb::PlanBufferHasIdentifier(data))
    throw Error("'" + source + "' is not a FluxShard plan (missing the FXSP file identifier)");
  if (size > (size_t(1) << 31)) throw Error("'" + source + "' is too large for a plan (over 2 GB)");
  // FlatBuffers data is aligned relative to the buffer start: a 64-byte aligned copy keeps the weight
  // buffers 64-byte aligned in memory.
  p->bytes_ = static_cast<uint8_t*>(mi_malloc_aligned(size, 64));
  if (!p->bytes_) throw Error("out of memory loading '" + source + "'");
  std::memcpy(p->bytes_, data, size);
  p->size_ = size;
  flatbuffers::Verifier verifier(p->bytes_, size, /*max_depth=*/64, /*max_tables=*/4000000);
  if (!fb::VerifyPlanBuffer(verifier))
    throw Error("'" + source + "' is a corrupted plan (FlatBuffers verification failed)");
  p->fb_ = fb::GetPlan(p->bytes_);
  if (p->fb_->version() != kPlanVersion)
    throw Error("'" + source + "' is a plan of version " + std::to_string(p->fb_->version()) +
                "; this runtime reads version " + std::to_string(kPlanVersion) + " (recompile the model)");
  // Before anything else in the file is trusted: the content is what the compiler wrote.
  int64_t sum_at = plan_checksum_offset(p->bytes_, size);
  if (sum_at < 0) throw Error("'" + source + "' has no checksum (recompile the model)");
  uint64_t stored = p->fb_->checksum();
  if (plan_checksum(p->bytes_, size, sum_at) != stored)
    throw Error("'" + source + "' is a corrupted plan (checksum mismatch: damaged or modified after compilation)");
  p->hash_ = stored;
  p->validate();
  return p;
}

Plan::~Plan() { mi_free(bytes_); }

const float* Plan::constant_data(int tensor) const {
  const TensorInfo& t = tensors_.at(static_cast<size_t>(tensor));
  if (!t.constant) return nullptr;
  const auto* data = fb_->buffers()->Get(static_cast<flatbuffers::uoffset_t>(t.buffer))->data();
  return data ? reinterpret_cast<const float*>(data->data()) : nullptr;
}

void Plan::validate() {
  auto bad = [&](const std::string& what) { return Error("'" + source_ + "' is an invalid plan: " + what); };
  const fb::ModelMeta* meta = fb_->meta();
  if (!meta) throw bad("no model metadata");
  input_h_ = meta->input_h();
  input_w_ = meta->input_w();
  if (input_h_ <= 0 || input_w_ <= 0 || input_h_ > 16384 || input_w_ > 16384) throw bad("invalid input size");
  task_ = meta->task() ? meta->task()->str() : "";
  if (task_ != "detect" && task_ != "segment") throw bad("unknown task '" + task_ + "'");
  if (meta->class_names())
    for (auto s : *meta->class_names()) class_names_.push_back(s ? s->str() : "");

  if (!fb_->tensors() || !fb_->ops() || !fb_->inputs() || !fb_->outputs()) throw bad("missing tensors, ops or ports");
  uint64_t arena = fb_->arena_bytes();
  if (arena > kMaxArenaBytes) throw bad("arena of " + std::to_string(arena) + " bytes");
  size_t nbuf = fb_->buffers() ? fb_->buffers()->size() : 0;
  int nt = static_cast<int>(fb_->tensors()->size());
  tensors_.resize(static_cast<size_t>(nt));
  for (int i = 0; i < nt; ++i) {
    const fb::Tensor* t = fb_->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i));
    TensorInfo& ti = tensors_[static_cast<size_t>(i)];
    std::string what = "tensor " + std::to_string(i);
    if (!t) throw bad(what + " is missing");
    ti.name = t->name() ? t->name()->str() : "";
    if (t->dtype() != fb::DType::F32) throw bad(what + " is not float32");
    // An absent shape is an empty one (a scalar), as FlatBuffers' object API writes it.
    if ((t->shape() && t->shape()->size() > 8) || !vector_aligned(t->shape()))
      throw bad(what + " has a misaligned shape or rank > 8");
    int64_t n = 1;
    if (t->shape())
      for (int64_t d : *t->shape()) {
        if (d < 0 || d > kMaxElements) throw bad(what + " has an invalid dimension");
        if (d > 0 && n > kMaxElements / d) throw bad(what + " is too large");
        n *= d;
        ti.shape.push_back(d);
      }
    ti.numel = n;
    ti.layout = t->layout();
    if (ti.layout != PlanLayout::Plain && ti.layout != PlanLayout::NHWC) throw bad(what + " has an unknown layout");
    ti.physical = ti.shape;
    if (ti.layout == PlanLayout::NHWC) {
      if (ti.shape.size() != 4 || ti.shape[0] != 1) throw bad(what + " is NHWC but not 4-D with batch 1");
      ti.physical = {ti.shape[0], ti.shape[2], ti.shape[3], ti.shape[1]};
    }
    ti.stride = t->stride();
    // In input pixels (0: not spatial). Bounded so that cell arithmetic on shifts cannot overflow.
    if (ti.stride < 0 || ti.stride > kMaxStride) throw bad(what + " has an invalid spatial stride");
    ti.pixel_stride = ti.shape.size() == 4 ? ti.shape[1] : 0;
    ti.alias_root = t->alias_of();
    ti.channel_offset = t->alias_channel_offset();
    if (ti.alias_root == -1 && t->pixel_stride() != 0 && t->pixel_stride() != ti.pixel_stride)
      throw bad(what + " has a pixel stride but no storage owner");
    ti.buffer = t->buffer();
    ti.constant = ti.buffer >= 0;
    if (ti.constant) {
      if (static_cast<size_t>(ti.buffer) >= nbuf) throw bad(what + " refers to a missing weight buffer");
      const fb::Buffer* b = fb_->buffers()->Get(static_cast<flatbuffers::uoffset_t>(ti.buffer));
      size_t have = b && b->data() ? b->data()->size() : 0;
      if (!b || have != static_cast<size_t>(n) * 4) throw bad(what + " has a weight buffer of the wrong size");
      if (have && reinterpret_cast<uintptr_t>(b->data()->data()) % 4 != 0) throw bad(what + " has a misaligned buffer");
    } else if (ti.alias_root != -1) {
      ti.arena_offset = -1;  // checked against its root below
    } else {
      ti.arena_offset = static_cast<int64_t>(t->arena_offset());
      if (ti.arena_offset < 0 || ti.arena_offset % 4 != 0 ||
          static_cast<uint64_t>(ti.arena_offset) + static_cast<uint64_t>(n) * 4 > arena)
        throw bad(what + " lies outside the activation arena");
    }
  }
  // Channel-slice aliases: the root owns arena storage, is an NHWC map of the same size, and the slice
  // fits inside it.
  for (int i = 0; i < nt; ++i) {
    TensorInfo& ti = tensors_[static_cast<size_t>(i)];
    if (ti.alias_root == -1) continue;
    std::string what = "tensor " + std::to_string(i);
    if (ti.alias_root < 0 || ti.alias_root >= nt || ti.alias_root == i) throw bad(what + " aliases an invalid tensor");
    const TensorInfo& r = tensors_[static_cast<size_t>(ti.alias_root)];
    if (r.alias_root != -1 || r.constant || ti.constant) throw bad(what + " aliases an invalid tensor");
    if (ti.layout == PlanLayout::Plain) {
      // A contiguous block of the root (a reshape, or a part of a concat / split): an element offset.
      if (r.layout != PlanLayout::Plain || ti.channel_offset < 0 || ti.channel_offset + ti.numel > r.numel)
        throw bad(what + " is not a contiguous block of the tensor it aliases");
      if (fb_->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i))->pixel_stride() != 0)
        throw bad(what + " has the wrong pixel stride");
      continue;
    }
    if (r.layout != PlanLayout::NHWC ||
        ti.layout != PlanLayout::NHWC || r.shape[2] != ti.shape[2] || r.shape[3] != ti.shape[3] ||
        ti.channel_offset < 0 || ti.channel_offset + ti.shape[1] > r.shape[1])
      throw bad(what + " is not a channel slice of the tensor it aliases");
    ti.pixel_stride = r.shape[1];
    if (fb_->tensors()->Get(static_cast<flatbuffers::uoffset_t>(i))->pixel_stride() != ti.pixel_stride)
      throw bad(what + " has the wrong pixel stride");
  }
  if (fb_->inputs()->size() != 1) throw bad("a plan must have exactly one input");
  input_ = fb_->inputs()->Get(0);
  if (input_ < 0 || input_ >= nt || tensors_[input_].constant || tensors_[input_].alias_root != -1)
    throw bad("invalid input tensor");
  const TensorInfo& in = tensors_[input_];
  if (in.shape.size() != 4 || in.shape[0] != 1 || in.shape[1] != 3 || in.shape[2] != input_h_ ||
      in.shape[3] != input_w_ || in.layout != PlanLayout::Plain)
    throw bad("the input must be a [1,3,H,W] image matching the metadata");
  if (fb_->outputs()->size() == 0) throw bad("no outputs");
  for (int o : *fb_->outputs()) {
    if (o < 0 || o >= nt || tensors_[o].constant || tensors_[o].alias_root != -1) throw bad("invalid output tensor");
    outputs_.push_back(o);
  }
  const int nops = static_cast<int>(fb_->ops()->size());
  if (nops == 0) throw bad("no ops");
  for (int i = 0; i < nops; ++i) {
    const fb::Op* op = fb_->ops()->Get(static_cast<flatbuffers::uoffset_t>(i));
    std::string what = "op " + std::to_string(i);
    if (!op || !op->inputs() || !op->outputs() || op->outputs()->size() == 0)
      throw bad(what + " has no inputs/outputs");
    if (op->kind() > fb::OpKind::MAX) throw bad(what + " has an unknown kind");
    for (int t : *op->inputs())
      if (t < -1 || t >= nt) throw bad(what + " reads a tensor that does not exist");
    for (int t : *op->outputs()) {
      if (t < 0 || t >= nt || tensors_[t].constant) throw bad(what + " writes an invalid tensor");
      tensors_[t].producer = i;
    }
    // An op's output never shares arena bytes with an input stored elsewhere (both are alive while it
    // runs); kernels rely on that.
    auto root = [&](int t) { return tensors_[t].alias_root >= 0 ? tensors_[t].alias_root : t; };
    for (int o : *op->outputs())
      for (int t : *op->inputs()) {
        if (t < 0 || tensors_[t].constant || root(t) == root(o)) continue;
        const TensorInfo &a = tensors_[root(o)], &b = tensors_[root(t)];
        if (a.arena_offset < b.arena_offset + b.bytes() && b.arena_offset < a.arena_offset + a.bytes())
          throw bad(what + " writes over its own input in the arena");
      }
    total_flops_ += op->flops();
  }
  check_op_order_and_enums();  // before the ops are decoded: their enums and order are known good
  // Every op decoded into the parameters the backends run (op_desc.h); any misfit is an invalid plan.
  ops_.reserve(static_cast<size_t>(nops));
  for (int i = 0; i < nops; ++i) {
    try {
      ops_.push_back(describe_op(*this, tensors_, i));
    } catch (const Error& e) {
      throw bad(e.what());
    }
  }
}

// Ops run in file order: each reads only what the graph input, a constant or an earlier op provides
// (a swapped pair would read stale arena bytes). Every enum and union tag is one this runtime knows
// (FlatBuffers verifies neither), and each op carries the options table its kind reads.
void Plan::check_op_order_and_enums() const {
  auto bad = [&](const std::string& what) { return Error("'" + source_ + "' is an invalid plan: " + what); };
  std::vector<char> ready(tensors_.size(), 0);
  for (size_t t = 0; t < tensors_.size(); ++t) ready[t] = tensors_[t].constant;
  ready[static_cast<size_t>(input_)] = 1;
  const int nops = static_cast<int>(fb_->ops()->size());  // (ops_ is filled after this check)
  for (int i = 0; i < nops; ++i) {
    const fb::Op* op = fb_->ops()->Get(static_cast<flatbuffers::uoffset_t>(i));
    std::string what = "op " + std::to_string(i);
    for (int t : *op->inputs())
      if (t >= 0 && !ready[static_cast<size_t>(t)])
        throw bad(what + " reads tensor " + std::to_string(t) + " before any op writes it (ops out of order)");
    for (int t : *op->outputs()) ready[static_cast<size_t>(t)] = 1;
    if (!enum_in_range(op->options_type()) || op->options_type() != options_of(op->kind()))
      throw bad(what + " (" + op_kind_name(op->kind()) + ") has options of the wrong type");
    if (op->spatial() && !enum_in_range(op->spatial()->region()))
      throw bad(what + " has an unknown region");
    if (auto* c = op->options_as_ConvOptions(); c && !enum_in_range(c->activation()))
      throw bad(what + " has an unknown activation");
    if (auto* r = op->options_as_RelayoutOptions(); r && !enum_in_range(r->to()))
      throw bad(what + " converts to an unknown layout");
  }
  for (int o : outputs_)
    if (!ready[static_cast<size_t>(o)]) throw bad("output tensor " + std::to_string(o) + " is never written");
}

}  // namespace fx
