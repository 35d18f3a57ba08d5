// A compiled plan (.fsp) loaded into memory: FlatBuffers-verified, version-checked, and validated so
// that nothing the executors index with (tensor ids, arena offsets, buffer sizes) can point outside
// what exists. Immutable and shareable between sessions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/op_desc.h"
#include "runtime/plan_types.h"

namespace fx {

// Bumped whenever a plan written by an older compiler would run incorrectly on this runtime.
// 2: plans carry a content checksum (runtime/plan_checksum.h); version-1 plans have none and are
// rejected with a "recompile" message rather than run unchecked.
constexpr uint32_t kPlanVersion = 2;

class Plan {
 public:
  // Throws fx::Error with one line on anything wrong: unreadable file, not a plan, another version,
  // failed FlatBuffers verification, a checksum that does not match the content, ops out of
  // dependency order, an enum out of range, inconsistent contents.
  static std::shared_ptr<const Plan> load_file(const std::string& path);
  static std::shared_ptr<const Plan> from_bytes(const void* data, size_t size, const std::string& source);

  const plan_fb& fb() const { return *fb_; }
  const std::string& source() const { return source_; }
  const uint8_t* bytes() const { return bytes_; }
  size_t size() const { return size_; }
  // The plan's content checksum (XXH3-64, verified at load): two sides of a connection check they run
  // the same plan.
  uint64_t hash() const { return hash_; }

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo& tensor(int id) const { return tensors_.at(static_cast<size_t>(id)); }
  int input() const { return input_; }
  const std::vector<int>& outputs() const { return outputs_; }
  int op_count() const { return static_cast<int>(ops_.size()); }
  // Op i, decoded and validated at load (op_desc.h); executors and tools read ops only through these.
  const OpDesc& op(int i) const { return ops_.at(static_cast<size_t>(i)); }
  const std::vector<OpDesc>& ops() const { return ops_; }
  uint64_t arena_bytes() const { return fb_->arena_bytes(); }
  // Float data of a constant tensor (64-byte aligned in memory).
  const float* constant_data(int tensor) const;

  const std::string& task() const { return task_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  int input_h() const { return input_h_; }
  int input_w() const { return input_w_; }
  uint64_t total_flops() const { return total_flops_; }

  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

 private:
  Plan() = default;
  void validate();
  void check_op_order_and_enums() const;

  uint8_t* bytes_ = nullptr;  // owned, 64-byte aligned
  size_t size_ = 0;
  const plan_fb* fb_ = nullptr;
  std::string source_;
  uint64_t hash_ = 0;
  std::vector<TensorInfo> tensors_;
  int input_ = -1;
  std::vector<int> outputs_;
  std::vector<OpDesc> ops_;
  std::string task_;
  std::vector<std::string> class_names_;
  int input_h_ = 0, input_w_ = 0;
  uint64_t total_flops_ = 0;
};

}  // namespace fx
