// ONNX (protobuf) -> IR. Accepts opset 12-21 of the default domain, static shapes, embedded weights.
// Every malformed input (truncated file, random bytes, wrong sizes, dangling names, unsupported ops)
// is an fx::Error with one line naming the problem; the loader never trusts a size it has not checked
// against the bytes actually present.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "compiler/ir.h"

namespace fx {

// Lowest and highest default-domain opset the compiler accepts.
constexpr int64_t kMinOpset = 12;
constexpr int64_t kMaxOpset = 21;

// `source` names the model in error messages (usually its path).
ir::Graph load_onnx(const void* data, size_t size, const std::string& source);
ir::Graph load_onnx_file(const std::string& path);

// ONNX op types the compiler can lower or fold.
bool onnx_op_supported(const std::string& op_type);

}  // namespace fx
