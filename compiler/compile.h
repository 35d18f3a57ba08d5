// The compiler driver: ONNX bytes -> passes -> layouts -> spatial analysis -> memory plan -> plan bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/ir.h"

namespace fx {

struct CompileReport {
  int folded = 0, batchnorms = 0, activations = 0, residuals = 0, dead = 0, relayouts = 0;
  int nodes = 0;
  uint64_t arena_bytes = 0, naive_bytes = 0;
};

// Runs every pass up to (not including) plan emission; the graph is then ready for write_plan.
ir::Graph compile_graph(ir::Graph g, CompileReport* report = nullptr);

std::vector<uint8_t> compile_onnx(const void* data, size_t size, const std::string& source,
                                  CompileReport* report = nullptr);
std::vector<uint8_t> compile_onnx_file(const std::string& path, CompileReport* report = nullptr);

}  // namespace fx
