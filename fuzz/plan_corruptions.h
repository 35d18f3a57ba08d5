// The ways a compiled plan was found to be damaged in issue 17 (a flipped weight byte, a NaN weight,
// zeroed weights, two ops swapped, an out-of-range enum), applied to a plan's bytes. Shared by the plan
// fuzzer's seeds (fuzz/make_fuzz_seeds.cpp) and the loader's tests (tests/test_bad_input.cpp).
// `reseal`: write the checksum of the damaged bytes (what an attacker who knows the format would do),
// so the damage reaches the loader's structural checks; otherwise the stored checksum no longer matches.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "runtime/plan.h"
#include "runtime/plan_checksum.h"

namespace fx::fuzz {

enum class PlanCorruption { FlipWeightByte, NanWeight, ZeroWeights, SwapOps, BadRegion };

inline std::vector<uint8_t> corrupt_plan(std::vector<uint8_t> bytes, PlanCorruption kind, bool reseal) {
  namespace fb = ::fluxshard::plan;
  auto* plan = fb::GetMutablePlan(bytes.data());
  auto weights = [&](size_t i) {
    return plan->mutable_buffers()->GetMutableObject(static_cast<flatbuffers::uoffset_t>(i))->mutable_data();
  };
  switch (kind) {
    case PlanCorruption::FlipWeightByte:
      weights(0)->Data()[weights(0)->size() / 2] ^= 0x40;
      break;
    case PlanCorruption::NanWeight: {
      float nan = std::numeric_limits<float>::quiet_NaN();
      std::memcpy(weights(0)->Data(), &nan, 4);
      break;
    }
    case PlanCorruption::ZeroWeights:
      for (size_t i = 0; i < plan->buffers()->size(); ++i) std::memset(weights(i)->Data(), 0, weights(i)->size());
      break;
    case PlanCorruption::SwapOps:
    case PlanCorruption::BadRegion: {
      // Through the object API: the fields to change may be stored as their defaults (absent).
      std::unique_ptr<fb::PlanT> t(plan->UnPack());
      if (kind == PlanCorruption::SwapOps) {
        // The first op that reads what the op before it writes trades places with it.
        size_t i = 1;
        auto reads_previous = [&](size_t k) {
          for (int in : t->ops[k]->inputs)
            for (int out : t->ops[k - 1]->outputs)
              if (in == out) return true;
          return false;
        };
        while (i < t->ops.size() && !reads_previous(i)) ++i;
        if (i == t->ops.size()) throw std::runtime_error("corrupt_plan: no dependent pair of ops");
        std::swap(t->ops[i - 1], t->ops[i]);
      } else {
        t->ops[0]->spatial->region = static_cast<fb::Region>(7);
      }
      if (reseal) t->checksum = kChecksumPlaceholder;
      flatbuffers::FlatBufferBuilder b;
      fb::FinishPlanBuffer(b, fb::Plan::Pack(b, t.get()));
      bytes.assign(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
      break;
    }
  }
  if (reseal && !seal_plan(bytes.data(), bytes.size())) throw std::runtime_error("corrupt_plan: cannot reseal");
  return bytes;
}

}  // namespace fx::fuzz
