// A model compiled once per test binary: compiling YOLO11 takes a second or more, and several test cases
// share each model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "runtime/plan.h"

namespace fx::test {

struct CompiledModel {
  std::vector<uint8_t> bytes;  // the .fsp file
  std::shared_ptr<const Plan> plan;
};

// The ONNX file at `path`, compiled on first use (its file name names the plan in error messages).
inline const CompiledModel& compiled_model(const std::string& path) {
  static std::map<std::string, CompiledModel> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  CompiledModel c;
  c.bytes = compile_onnx_file(path);
  c.plan = Plan::from_bytes(c.bytes.data(), c.bytes.size(), path.substr(path.find_last_of('/') + 1));
  return cache.emplace(path, std::move(c)).first->second;
}

}  // namespace fx::test
