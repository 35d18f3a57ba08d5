// A plan's content checksum (schema/plan.fbs, Plan.checksum): XXH3-64 over every byte of the file with
// the 8 bytes of the checksum field itself read as zero. The compiler writes it as its last step
// (seal_plan); Plan::from_bytes recomputes it before trusting anything else in the file, so a flipped
// weight byte, a zeroed buffer or swapped ops are a "corrupted plan" error rather than wrong detections.
// XXH3 (Debian's libxxhash-dev, header-only here) runs at memory speed: perf/bench_plan_load.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fx {

// Non-zero, so that FlatBuffers stores the field (fields at their default are left out); seal_plan
// overwrites it.
constexpr uint64_t kChecksumPlaceholder = ~uint64_t(0);

// Byte offset of the checksum field in a FlatBuffers-verified plan; -1 when the plan has none.
int64_t plan_checksum_offset(const uint8_t* data, size_t size);
// The checksum of `size` bytes whose checksum field lies at `field_offset` (from plan_checksum_offset).
uint64_t plan_checksum(const uint8_t* data, size_t size, int64_t field_offset);
// Verifies `data` as a plan (FlatBuffers) and writes its checksum into the checksum field. False when
// the bytes are not a verifiable plan or carry no checksum field (nothing is written then). Used by the
// compiler, by `profile` when it rewrites a plan, and by the fuzz harness and tests that edit plans on
// purpose (so that their edits reach the loader's other checks).
bool seal_plan(uint8_t* data, size_t size);

}  // namespace fx
