// Builds ONNX models in memory (the generated protobuf classes, serialised to bytes): what tests use to
// make small graphs for every op and pass, and what `fluxshard synth` uses to write YOLO11 graphs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fx {

struct OnnxAttr {
  enum class Kind { Int, Float, String, Ints, Floats } kind = Kind::Int;
  std::string name;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;

  static OnnxAttr integer(std::string n, int64_t v);
  static OnnxAttr real(std::string n, float v);
  static OnnxAttr string(std::string n, std::string v);
  static OnnxAttr integers(std::string n, std::vector<int64_t> v);
  static OnnxAttr reals(std::string n, std::vector<float> v);
};

class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset = 17, std::string graph_name = "graph");
  ~OnnxBuilder();
  OnnxBuilder(const OnnxBuilder&) = delete;
  OnnxBuilder& operator=(const OnnxBuilder&) = delete;

  // A float32 graph input with a static shape; returns its name.
  std::string input(const std::string& name, const std::vector<int64_t>& shape);
  std::string initializer(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v);
  std::string initializer_ints(const std::string& name, const std::vector<int64_t>& shape,
                               const std::vector<int64_t>& v);
  // Appends a node; output names default to "<name>_out<i>". Returns the output names.
  std::vector<std::string> node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                                const std::vector<OnnxAttr>& attrs = {}, int outputs = 1,
                                std::vector<std::string> output_names = {});
  // Shorthand for single-output nodes.
  std::string op(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                 const std::vector<OnnxAttr>& attrs = {});
  void output(const std::string& name);
  // A float32 graph output that also declares its static shape (as exporters do).
  void output(const std::string& name, const std::vector<int64_t>& shape);
  void metadata(const std::string& key, const std::string& value);
  // Model header fields (defaults: IR version 8, producer "fluxshard").
  void set_ir_version(int64_t v);
  void set_producer(const std::string& name, const std::string& version = "");

  std::string serialize() const;
  void save(const std::string& path) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fx
