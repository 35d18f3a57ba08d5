// IR (after passes, layout, spatial analysis and memory planning) -> FlatBuffers plan bytes. This is
// also where IR ops are lowered to the runtime's OpKind set, with a clear error for anything the
// runtime cannot execute.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/alias_plan.h"
#include "compiler/ir.h"
#include "compiler/memory_plan.h"

namespace fx {

std::vector<uint8_t> write_plan(const ir::Graph& g, const AliasPlan& aliases, const MemoryPlan& mem,
                                const std::string& producer);

}  // namespace fx
