#include "compiler/onnx_builder.h"

#include <fstream>

#include "onnx.pb.h"
#include "runtime/error.h"

namespace fx {

OnnxAttr OnnxAttr::integer(std::string n, int64_t v) {
  OnnxAttr a;
  a.kind = Kind::Int, a.name = std::move(n), a.i = v;
  return a;
}
OnnxAttr OnnxAttr::real(std::string n, float v) {
  OnnxAttr a;
  a.kind = Kind::Float, a.name = std::move(n), a.f = v;
  return a;
}
OnnxAttr OnnxAttr::string(std::string n, std::string v) {
  OnnxAttr a;
  a.kind = Kind::String, a.name = std::move(n), a.s = std::move(v);
  return a;
}
OnnxAttr OnnxAttr::integers(std::string n, std::vector<int64_t> v) {
  OnnxAttr a;
  a.kind = Kind::Ints, a.name = std::move(n), a.ints = std::move(v);
  return a;
}
OnnxAttr OnnxAttr::reals(std::string n, std::vector<float> v) {
  OnnxAttr a;
  a.kind = Kind::Floats, a.name = std::move(n), a.floats = std::move(v);
  return a;
}

struct OnnxBuilder::Impl {
  onnx::ModelProto model;
  onnx::GraphProto* graph = nullptr;
};

OnnxBuilder::OnnxBuilder(int64_t opset, std::string graph_name) : impl_(std::make_unique<Impl>()) {
  impl_->model.set_ir_version(8);
  impl_->model.set_producer_name("fluxshard");
  auto* os = impl_->model.add_opset_import();
  os->set_domain("");
  os->set_version(opset);
  impl_->graph = impl_->model.mutable_graph();
  impl_->graph->set_name(std::move(graph_name));
}

OnnxBuilder::~OnnxBuilder() = default;

std::string OnnxBuilder::input(const std::string& name, const std::vector<int64_t>& shape) {
  auto* vi = impl_->graph->add_input();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
  return name;
}

std::string OnnxBuilder::initializer(const std::string& name, const std::vector<int64_t>& shape,
                                     const std::vector<float>& v) {
  auto* t = impl_->graph->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  return name;
}

std::string OnnxBuilder::initializer_ints(const std::string& name, const std::vector<int64_t>& shape,
                                          const std::vector<int64_t>& v) {
  auto* t = impl_->graph->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : shape) t->add_dims(d);
  for (int64_t x : v) t->add_int64_data(x);
  return name;
}

std::vector<std::string> OnnxBuilder::node(const std::string& op, const std::string& name,
                                           const std::vector<std::string>& inputs, const std::vector<OnnxAttr>& attrs,
                                           int outputs, std::vector<std::string> output_names) {
  auto* n = impl_->graph->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  if (output_names.empty())
    for (int i = 0; i < outputs; ++i) output_names.push_back(name + "_out" + std::to_string(i));
  for (const auto& o : output_names) n->add_output(o);
  for (const OnnxAttr& a : attrs) {
    auto* ap = n->add_attribute();
    ap->set_name(a.name);
    switch (a.kind) {
      case OnnxAttr::Kind::Int: ap->set_type(onnx::AttributeProto::INT), ap->set_i(a.i); break;
      case OnnxAttr::Kind::Float: ap->set_type(onnx::AttributeProto::FLOAT), ap->set_f(a.f); break;
      case OnnxAttr::Kind::String: ap->set_type(onnx::AttributeProto::STRING), ap->set_s(a.s); break;
      case OnnxAttr::Kind::Ints:
        ap->set_type(onnx::AttributeProto::INTS);
        for (int64_t v : a.ints) ap->add_ints(v);
        break;
      case OnnxAttr::Kind::Floats:
        ap->set_type(onnx::AttributeProto::FLOATS);
        for (float v : a.floats) ap->add_floats(v);
        break;
    }
  }
  return output_names;
}

std::string OnnxBuilder::op(const std::string& op_type, const std::string& name, const std::vector<std::string>& inputs,
                            const std::vector<OnnxAttr>& attrs) {
  return node(op_type, name, inputs, attrs, 1)[0];
}

void OnnxBuilder::output(const std::string& name) {
  auto* vi = impl_->graph->add_output();
  vi->set_name(name);
  vi->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
}

void OnnxBuilder::output(const std::string& name, const std::vector<int64_t>& shape) {
  auto* vi = impl_->graph->add_output();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

void OnnxBuilder::set_ir_version(int64_t v) { impl_->model.set_ir_version(v); }

void OnnxBuilder::set_producer(const std::string& name, const std::string& version) {
  impl_->model.set_producer_name(name);
  impl_->model.set_producer_version(version);
}

void OnnxBuilder::metadata(const std::string& key, const std::string& value) {
  auto* kv = impl_->model.add_metadata_props();
  kv->set_key(key);
  kv->set_value(value);
}

std::string OnnxBuilder::serialize() const {
  std::string s;
  if (!impl_->model.SerializeToString(&s)) throw Error("cannot serialise the ONNX model");
  return s;
}

void OnnxBuilder::save(const std::string& path) const {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  std::string s = serialize();
  f.write(s.data(), static_cast<std::streamsize>(s.size()));
  if (!f) throw Error("cannot write '" + path + "'");
}

}  // namespace fx
