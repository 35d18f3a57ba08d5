#include "runtime/plan_checksum.h"

#include <cstring>

#include "schema/plan_generated.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace fx {

namespace fb = ::fluxshard::plan;

int64_t plan_checksum_offset(const uint8_t* data, size_t size) {
  // The generated Plan inherits Table privately; the root table is the same object.
  const uint8_t* field = flatbuffers::GetRoot<flatbuffers::Table>(data)->GetAddressOf(fb::Plan::VT_CHECKSUM);
  if (!field || field < data || field + 8 > data + size) return -1;
  return field - data;
}

uint64_t plan_checksum(const uint8_t* data, size_t size, int64_t field_offset) {
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  const size_t off = static_cast<size_t>(field_offset);
  static const uint8_t zero[8] = {};
  XXH3_64bits_update(&state, data, off);
  XXH3_64bits_update(&state, zero, sizeof zero);
  XXH3_64bits_update(&state, data + off + 8, size - off - 8);
  return XXH3_64bits_digest(&state);
}

bool seal_plan(uint8_t* data, size_t size) {
  if (size < 8 || !fb::PlanBufferHasIdentifier(data)) return false;
  flatbuffers::Verifier verifier(data, size, /*max_depth=*/64, /*max_tables=*/4000000);
  if (!fb::VerifyPlanBuffer(verifier)) return false;
  int64_t off = plan_checksum_offset(data, size);
  if (off < 0) return false;
  uint64_t sum = plan_checksum(data, size, off);
  // FlatBuffers scalars are little-endian in the file.
  flatbuffers::WriteScalar(data + off, sum);
  return true;
}

}  // namespace fx
