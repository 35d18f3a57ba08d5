#include "compiler/plan_truncation.h"

#include "runtime/error.h"
#include "runtime/plan_checksum.h"

namespace fx {

namespace fb = ::fluxshard::plan;

std::vector<uint8_t> plan_with_truncation(const Plan& plan, const std::vector<TruncationBucket>& table) {
  std::unique_ptr<fb::PlanT> p(plan.fb().UnPack());
  flatbuffers::FlatBufferBuilder b(plan.size() + 4096);
  // Weight buffers keep their 64-byte alignment (the object API's own packing would not).
  std::vector<flatbuffers::Offset<fb::Buffer>> buffers;
  for (const auto& buf : p->buffers) {
    b.ForceVectorAlignment(buf->data.size(), 1, 64);
    buffers.push_back(fb::CreateBuffer(b, b.CreateVector(buf->data)));
  }
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  for (const auto& t : p->tensors) tensors.push_back(fb::CreateTensor(b, t.get()));
  std::vector<flatbuffers::Offset<fb::Op>> ops;
  for (const auto& o : p->ops) ops.push_back(fb::CreateOp(b, o.get()));
  std::vector<flatbuffers::Offset<fb::TruncationBucket>> buckets;
  for (const TruncationBucket& t : table) {
    if (t.eps.size() != static_cast<size_t>(plan.op_count()))
      throw Error("truncation thresholds: " + std::to_string(t.eps.size()) + " values for " +
                  std::to_string(plan.op_count()) + " ops");
    buckets.push_back(fb::CreateTruncationBucket(b, t.max_median_mv, t.max_candidate_share, b.CreateVector(t.eps)));
  }
  auto meta = fb::CreateModelMeta(b, p->meta.get());
  auto root = fb::CreatePlan(b, p->version, meta, b.CreateVector(tensors), b.CreateVector(ops), b.CreateVector(buffers),
                             b.CreateVector(p->inputs), b.CreateVector(p->outputs), p->arena_bytes,
                             b.CreateVector(buckets), kChecksumPlaceholder);
  fb::FinishPlanBuffer(b, root);
  std::vector<uint8_t> bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  if (!seal_plan(bytes.data(), bytes.size())) throw Error("internal error: the rewritten plan does not verify");
  return bytes;
}

}  // namespace fx
