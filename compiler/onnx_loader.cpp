#include "compiler/onnx_loader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "onnx.pb.h"
#include "runtime/error.h"

namespace fx {

namespace {

// Tensors larger than this are certainly not a YOLO model's weights; the check keeps a hostile file
// from making us allocate from a size it merely claims.
constexpr int64_t kMaxTensorElements = int64_t(1) << 31;
constexpr size_t kMaxTensorBytes = size_t(1) << 31;  // no .onnx file (protobuf: < 2 GiB) holds more
constexpr int kMaxRank = 8;

const std::set<std::string>& supported_ops() {
  static const std::set<std::string> ops = {
      // executed by the runtime
      "Conv", "ConvTranspose", "Sigmoid", "Mul", "Add", "Sub", "Div", "Concat", "Split", "MaxPool", "Resize",
      "Reshape", "Transpose", "MatMul", "Softmax", "Slice",
      // folded into constants, fused, or lowered to the ops above
      "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Identity", "Flatten", "BatchNormalization"};
  return ops;
}

ir::DType convert_dtype(int32_t onnx_type, const std::string& what) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT: return ir::DType::F32;
    case onnx::TensorProto::INT64: return ir::DType::I64;
    case onnx::TensorProto::INT32: return ir::DType::I32;
    case onnx::TensorProto::UINT8: return ir::DType::U8;
    case onnx::TensorProto::INT8: return ir::DType::I8;
    case onnx::TensorProto::BOOL: return ir::DType::Bool;
    case onnx::TensorProto::DOUBLE: return ir::DType::F64;
    case onnx::TensorProto::FLOAT16: return ir::DType::F16;
    default: throw Error(what + " has unsupported data type " + std::to_string(onnx_type));
  }
}

std::vector<int64_t> checked_dims(const google::protobuf::RepeatedField<int64_t>& dims, const std::string& what) {
  if (dims.size() > kMaxRank) throw Error(what + " has rank " + std::to_string(dims.size()) + " (at most 8)");
  std::vector<int64_t> shape;
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error(what + " has a negative dimension");
    if (d > 0 && n > kMaxTensorElements / d) throw Error(what + " is too large");
    n *= d;
    shape.push_back(d);
  }
  return shape;
}

ir::Tensor convert_tensor(const onnx::TensorProto& tp, const std::string& fallback_name) {
  std::string name = tp.name().empty() ? fallback_name : tp.name();
  std::string what = "tensor '" + name + "'";
  if (tp.data_location() == onnx::TensorProto::EXTERNAL || tp.external_data_size() > 0)
    throw Error(what + " stores its data in an external file; embed the weights in the .onnx file");
  ir::Tensor t;
  t.name = name;
  t.dtype = convert_dtype(tp.data_type(), what);
  t.shape = checked_dims(tp.dims(), what);
  t.shape_known = true;
  t.constant = true;
  int64_t n = t.numel();
  size_t bytes = static_cast<size_t>(n) * ir::dtype_size(t.dtype);
  // Every size below is checked against the data the file holds before anything is allocated: a tensor
  // merely claiming 2^31 values must not cost 16 GB.
  if (bytes > kMaxTensorBytes) throw Error(what + " claims " + std::to_string(bytes) + " bytes (the limit is 2 GiB)");
  if (tp.has_raw_data()) {
    if (tp.raw_data().size() != bytes)
      throw Error(what + " has " + std::to_string(tp.raw_data().size()) + " bytes of data, its shape needs " +
                  std::to_string(bytes));
    t.data.assign(tp.raw_data().begin(), tp.raw_data().end());
    return t;
  }
  int have = 0;
  switch (t.dtype) {
    case ir::DType::F32: have = tp.float_data_size(); break;
    case ir::DType::F64: have = tp.double_data_size(); break;
    case ir::DType::I64: have = tp.int64_data_size(); break;
    default: have = tp.int32_data_size(); break;  // ONNX stores the narrower types widened into int32_data
  }
  if (have != n) throw Error(what + " has " + std::to_string(have) + " values, its shape needs " + std::to_string(n));
  t.data.resize(bytes);
  switch (t.dtype) {
    case ir::DType::F32:
      if (n) std::memcpy(t.data.data(), tp.float_data().data(), bytes);
      break;
    case ir::DType::F64:
      if (n) std::memcpy(t.data.data(), tp.double_data().data(), bytes);
      break;
    case ir::DType::I64:
      if (n) std::memcpy(t.data.data(), tp.int64_data().data(), bytes);
      break;
    case ir::DType::I32:
    case ir::DType::U8:
    case ir::DType::I8:
    case ir::DType::Bool:
    case ir::DType::F16:
      // Widened into int32_data.
      for (int64_t i = 0; i < n; ++i) {
        int32_t v = tp.int32_data(static_cast<int>(i));
        switch (t.dtype) {
          case ir::DType::I32: t.as_mut<int32_t>()[i] = v; break;
          case ir::DType::F16: t.as_mut<uint16_t>()[i] = static_cast<uint16_t>(v); break;
          default: t.data[static_cast<size_t>(i)] = static_cast<uint8_t>(v); break;
        }
      }
      break;
  }
  return t;
}

ir::Attribute convert_attribute(const onnx::AttributeProto& a, const std::string& node_name) {
  ir::Attribute out;
  std::string what = "attribute '" + a.name() + "' of node '" + node_name + "'";
  switch (a.type()) {
    case onnx::AttributeProto::INT: out.kind = ir::Attribute::Kind::Int; out.i = a.i(); break;
    case onnx::AttributeProto::FLOAT: out.kind = ir::Attribute::Kind::Float; out.f = a.f(); break;
    case onnx::AttributeProto::STRING: out.kind = ir::Attribute::Kind::String; out.s = a.s(); break;
    case onnx::AttributeProto::INTS:
      out.kind = ir::Attribute::Kind::Ints;
      out.ints.assign(a.ints().begin(), a.ints().end());
      break;
    case onnx::AttributeProto::FLOATS:
      out.kind = ir::Attribute::Kind::Floats;
      out.floats.assign(a.floats().begin(), a.floats().end());
      break;
    default:
      // Old exporters leave the type unset for simple attributes; infer it from what is present.
      if (a.type() == onnx::AttributeProto::UNDEFINED) {
        if (a.ints_size()) {
          out.kind = ir::Attribute::Kind::Ints;
          out.ints.assign(a.ints().begin(), a.ints().end());
        } else if (a.has_s()) {
          out.kind = ir::Attribute::Kind::String;
          out.s = a.s();
        } else if (a.has_f()) {
          out.kind = ir::Attribute::Kind::Float;
          out.f = a.f();
        } else {
          out.kind = ir::Attribute::Kind::Int;
          out.i = a.i();
        }
        break;
      }
      throw Error(what + " has an unsupported attribute type");
  }
  return out;
}

// A Constant node's value as a constant tensor.
ir::Tensor constant_node_value(const onnx::NodeProto& n, const std::string& out_name) {
  for (const auto& a : n.attribute()) {
    ir::Tensor t;
    t.name = out_name;
    t.constant = true;
    t.shape_known = true;
    if (a.name() == "value") {
      ir::Tensor v = convert_tensor(a.t(), out_name);
      v.name = out_name;
      return v;
    }
    if (a.name() == "value_float") {
      t.dtype = ir::DType::F32;
      t.data.resize(4);
      float f = a.f();
      std::memcpy(t.data.data(), &f, 4);
      return t;
    }
    if (a.name() == "value_int") {
      t.dtype = ir::DType::I64;
      t.data.resize(8);
      int64_t i = a.i();
      std::memcpy(t.data.data(), &i, 8);
      return t;
    }
    if (a.name() == "value_floats") {
      t.dtype = ir::DType::F32;
      t.shape = {a.floats_size()};
      t.data.resize(4 * static_cast<size_t>(a.floats_size()));
      if (a.floats_size()) std::memcpy(t.data.data(), a.floats().data(), t.data.size());
      return t;
    }
    if (a.name() == "value_ints") {
      t.dtype = ir::DType::I64;
      t.shape = {a.ints_size()};
      t.data.resize(8 * static_cast<size_t>(a.ints_size()));
      if (a.ints_size()) std::memcpy(t.data.data(), a.ints().data(), t.data.size());
      return t;
    }
  }
  throw Error("Constant node '" + n.name() + "' has no supported value attribute");
}

}  // namespace

bool onnx_op_supported(const std::string& op_type) { return supported_ops().count(op_type) != 0; }

ir::Graph load_onnx(const void* data, size_t size, const std::string& source) {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw Error("'" + source + "' is larger than 2 GB; external-data ONNX files are not supported");
  onnx::ModelProto model;
  if (size == 0 || !model.ParseFromArray(data, static_cast<int>(size)))
    throw Error("'" + source + "' is not a valid ONNX model (protobuf parse failed; truncated or not ONNX?)");
  if (!model.has_graph() || model.graph().node_size() == 0)
    throw Error("'" + source + "' is not a valid ONNX model (no graph nodes)");

  ir::Graph g;
  g.producer_name = model.producer_name();
  for (const auto& kv : model.metadata_props()) g.metadata.emplace_back(kv.key(), kv.value());
  for (const auto& os : model.opset_import()) {
    if (os.domain().empty() || os.domain() == "ai.onnx") g.opset = os.version();
  }
  if (g.opset == 0) throw Error("'" + source + "' does not import the default ONNX opset");
  if (g.opset < kMinOpset || g.opset > kMaxOpset)
    throw Error("'" + source + "' uses opset " + std::to_string(g.opset) + "; supported opsets are " +
                std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset));

  const onnx::GraphProto& gp = model.graph();
  for (int i = 0; i < gp.initializer_size(); ++i) {
    ir::Tensor t = convert_tensor(gp.initializer(i), "initializer_" + std::to_string(i));
    if (g.find_tensor(t.name) >= 0) throw Error("'" + source + "': tensor '" + t.name + "' is defined twice");
    g.add_tensor(std::move(t));
  }

  for (const auto& vi : gp.input()) {
    if (g.find_tensor(vi.name()) >= 0) continue;  // an initializer listed as input (old exporters)
    std::string what = "input '" + vi.name() + "'";
    if (!vi.type().has_tensor_type()) throw Error(what + " is not a tensor");
    const auto& tt = vi.type().tensor_type();
    ir::Tensor t;
    t.name = vi.name();
    t.dtype = convert_dtype(tt.elem_type(), what);
    if (t.dtype != ir::DType::F32) throw Error(what + " must be float32");
    if (!tt.has_shape()) throw Error(what + " has no shape; export the model with a fixed input size");
    if (tt.shape().dim_size() > kMaxRank) throw Error(what + " has too many dimensions");
    for (const auto& d : tt.shape().dim()) {
      if (!d.has_dim_value() || d.dim_value() <= 0)
        throw Error(what + " has a dynamic dimension" + (d.has_dim_param() ? " '" + d.dim_param() + "'" : "") +
                    "; export the model with a fixed input size");
      if (d.dim_value() > (int64_t(1) << 20)) throw Error(what + " has an implausible dimension");
      t.shape.push_back(d.dim_value());
    }
    if (ir::shape_numel(t.shape) > kMaxTensorElements) throw Error(what + " is too large");
    t.shape_known = true;
    g.inputs.push_back(g.add_tensor(std::move(t)));
  }
  if (g.inputs.empty()) throw Error("'" + source + "' has no activation input");

  for (int ni = 0; ni < gp.node_size(); ++ni) {
    const onnx::NodeProto& np = gp.node(ni);
    std::string name = np.name().empty() ? np.op_type() + "_" + std::to_string(ni) : np.name();
    if (!np.domain().empty() && np.domain() != "ai.onnx")
      throw Error("unsupported op '" + np.domain() + "." + np.op_type() + "' in node '" + name + "'");
    if (!onnx_op_supported(np.op_type()))
      throw Error("unsupported op '" + np.op_type() + "' in node '" + name + "'");
    if (np.output_size() == 0) throw Error("node '" + name + "' has no outputs");
    for (const auto& o : np.output())
      if (!o.empty() && g.find_tensor(o) >= 0)
        throw Error("tensor '" + o + "' is produced twice (node '" + name + "')");

    if (np.op_type() == "Constant") {
      if (np.output_size() != 1) throw Error("Constant node '" + name + "' must have one output");
      g.add_tensor(constant_node_value(np, np.output(0)));
      continue;
    }
    ir::Node n;
    n.name = name;
    n.op = np.op_type();
    for (const auto& in : np.input()) {
      if (in.empty()) {
        n.inputs.push_back(-1);
        continue;
      }
      int t = g.find_tensor(in);
      if (t < 0) throw Error("node '" + name + "' reads '" + in + "', which no earlier node produces");
      n.inputs.push_back(t);
    }
    for (const auto& o : np.output()) {
      ir::Tensor t;
      t.name = o.empty() ? name + "/unused" : o;
      n.outputs.push_back(g.add_tensor(std::move(t)));
    }
    for (const auto& a : np.attribute()) n.attrs[a.name()] = convert_attribute(a, name);
    g.add_node(std::move(n));
  }

  for (const auto& vi : gp.output()) {
    int t = g.find_tensor(vi.name());
    if (t < 0) throw Error("graph output '" + vi.name() + "' is not produced by any node");
    g.outputs.push_back(t);
  }
  if (g.outputs.empty()) throw Error("'" + source + "' has no outputs");
  return g;
}

ir::Graph load_onnx_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw Error("cannot read '" + path + "'");
  return load_onnx(bytes.data(), bytes.size(), path);
}

}  // namespace fx
