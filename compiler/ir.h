// The compiler's graph IR: tensors with static shapes and data types, nodes in topological order, and a
// small public mutation API so that every pass is a stand-alone unit over this interface.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace fx::ir {

enum class DType : uint8_t { F32, I64, I32, U8, I8, Bool, F64, F16 };

const char* dtype_name(DType t);
size_t dtype_size(DType t);

enum class Layout : uint8_t { Plain, NHWC };
enum class Region : uint8_t { Local, Global, Epilogue };
const char* region_name(Region r);

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  bool shape_known = false;
  // Constants (ONNX initializers, folded values) carry their data; activations do not.
  bool constant = false;
  std::vector<uint8_t> data;

  // Filled by the layout pass and the spatial analysis.
  Layout layout = Layout::Plain;
  int stride = 0;  // relative to the model input; 0 when the tensor is not a spatial map

  int64_t numel() const;
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(data.data()); }
  template <typename T>
  T* as_mut() { return reinterpret_cast<T*>(data.data()); }
  // Constant value as a list of int64 (from any integer or float dtype).
  std::vector<int64_t> to_ints() const;
  std::vector<float> to_floats() const;
};

struct Attribute {
  enum class Kind : uint8_t { Int, Float, String, Ints, Floats } kind = Kind::Int;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

// Receptive-field metadata of a node (DESIGN 3.4).
struct SpatialInfo {
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int halo_top = 0, halo_left = 0, halo_bottom = 0, halo_right = 0;
  int upsample = 1;
};

struct Node {
  std::string name;
  std::string op;             // ONNX op type, or one of our fused forms (see passes)
  std::vector<int> inputs;    // tensor ids; -1 for an omitted optional input
  std::vector<int> outputs;
  std::map<std::string, Attribute> attrs;
  bool removed = false;

  // Annotations from the analysis passes.
  Region region = Region::Epilogue;
  SpatialInfo spatial;
  uint64_t flops = 0;

  bool has_attr(const std::string& k) const { return attrs.count(k) != 0; }
  int64_t attr_int(const std::string& k, int64_t dflt) const;
  float attr_float(const std::string& k, float dflt) const;
  std::string attr_string(const std::string& k, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& k, std::vector<int64_t> dflt = {}) const;
  void set_int(const std::string& k, int64_t v);
  void set_ints(const std::string& k, std::vector<int64_t> v);
  void set_string(const std::string& k, std::string v);
  void set_float(const std::string& k, float v);
};

class Graph {
 public:
  // --- construction and access ----------------------------------------------------------------
  int add_tensor(Tensor t);
  int add_node(Node n);  // appended at the end of the node list
  // A new constant tensor holding `data` (raw bytes of dtype) with the given shape.
  int add_constant(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data);
  int add_constant_floats(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v);
  int add_constant_ints(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& v);

  Tensor& tensor(int id) { return tensors_.at(static_cast<size_t>(id)); }
  const Tensor& tensor(int id) const { return tensors_.at(static_cast<size_t>(id)); }
  Node& node(int id) { return nodes_.at(static_cast<size_t>(id)); }
  const Node& node(int id) const { return nodes_.at(static_cast<size_t>(id)); }
  int tensor_count() const { return static_cast<int>(tensors_.size()); }
  int node_count() const { return static_cast<int>(nodes_.size()); }
  int find_tensor(const std::string& name) const;  // -1 if absent
  // Renames tensor `id`; throws when another tensor already has that name.
  void rename_tensor(int id, const std::string& name);
  // A tensor name not used yet, derived from `base`.
  std::string unique_name(const std::string& base) const;

  // --- structure queries -----------------------------------------------------------------------
  // The live node producing tensor t, or -1 (graph input, constant).
  int producer(int t) const;
  // Live nodes reading tensor t (a node reading it twice is listed once).
  std::vector<int> consumers(int t) const;
  bool is_graph_output(int t) const;
  // Live nodes in list order.
  std::vector<int> live_nodes() const;

  // --- mutation --------------------------------------------------------------------------------
  // Every live node input and graph output referring to `from` now refers to `to`.
  void replace_uses(int from, int to);
  void remove_node(int n) { nodes_.at(static_cast<size_t>(n)).removed = true; }
  // Inserts node `n` so that it runs before node `before` (topological order is restored by
  // topo_sort anyway; this keeps the list readable).
  int insert_node_before(int before, Node n);
  // Restores a topological node order (stable: keeps the existing order where it is valid). Throws
  // fx::Error on a cycle.
  void topo_sort();
  // Drops removed nodes and tensors no live node or graph port references. Invalidates ids.
  void compact();

  std::vector<int> inputs;   // graph input tensor ids (activations only, not initializers)
  std::vector<int> outputs;  // graph output tensor ids
  int64_t opset = 0;
  std::string producer_name;
  std::vector<std::pair<std::string, std::string>> metadata;  // ONNX metadata_props, in order

 private:
  std::vector<Tensor> tensors_;
  std::vector<Node> nodes_;
  std::map<std::string, int> by_name_;
};

// Shape/rank helpers shared by passes.
int64_t shape_numel(const std::vector<int64_t>& s);
std::string shape_string(const std::vector<int64_t>& s);
// numpy broadcast of two shapes; throws fx::Error naming `what` when incompatible.
std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                      const std::string& what);

}  // namespace fx::ir
