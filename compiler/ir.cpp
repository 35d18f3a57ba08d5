#include "compiler/ir.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "runtime/error.h"

namespace fx::ir {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::I64: return "int64";
    case DType::I32: return "int32";
    case DType::U8: return "uint8";
    case DType::I8: return "int8";
    case DType::Bool: return "bool";
    case DType::F64: return "float64";
    case DType::F16: return "float16";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::U8: return 1;
    case DType::I8: return 1;
    case DType::Bool: return 1;
    case DType::F64: return 8;
    case DType::F16: return 2;
  }
  return 1;
}

const char* region_name(Region r) {
  switch (r) {
    case Region::Local: return "local";
    case Region::Global: return "global";
    case Region::Epilogue: return "epilogue";
  }
  return "?";
}

int64_t shape_numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_string(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  o << ']';
  return o.str();
}

std::vector<int64_t> broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                                      const std::string& what) {
  size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error(what + ": shapes " + shape_string(a) + " and " + shape_string(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t Tensor::numel() const { return shape_numel(shape); }

std::vector<int64_t> Tensor::to_ints() const {
  int64_t n = numel();
  std::vector<int64_t> v(static_cast<size_t>(n));
  if (data.size() < bytes()) throw Error("constant '" + name + "' has fewer bytes than its shape needs");
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::I64: v[i] = as<int64_t>()[i]; break;
      case DType::I32: v[i] = as<int32_t>()[i]; break;
      case DType::U8: v[i] = as<uint8_t>()[i]; break;
      case DType::I8: v[i] = as<int8_t>()[i]; break;
      case DType::Bool: v[i] = as<uint8_t>()[i] != 0; break;
      case DType::F32: v[i] = static_cast<int64_t>(as<float>()[i]); break;
      case DType::F64: v[i] = static_cast<int64_t>(as<double>()[i]); break;
      case DType::F16: throw Error("constant '" + name + "': float16 is not supported");
    }
  }
  return v;
}

std::vector<float> Tensor::to_floats() const {
  int64_t n = numel();
  std::vector<float> v(static_cast<size_t>(n));
  if (data.size() < bytes()) throw Error("constant '" + name + "' has fewer bytes than its shape needs");
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::F32: v[i] = as<float>()[i]; break;
      case DType::F64: v[i] = static_cast<float>(as<double>()[i]); break;
      case DType::I64: v[i] = static_cast<float>(as<int64_t>()[i]); break;
      case DType::I32: v[i] = static_cast<float>(as<int32_t>()[i]); break;
      case DType::U8: v[i] = as<uint8_t>()[i]; break;
      case DType::I8: v[i] = as<int8_t>()[i]; break;
      case DType::Bool: v[i] = as<uint8_t>()[i] != 0; break;
      case DType::F16: throw Error("constant '" + name + "': float16 is not supported");
    }
  }
  return v;
}

int64_t Node::attr_int(const std::string& k, int64_t dflt) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? dflt : it->second.i;
}
float Node::attr_float(const std::string& k, float dflt) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? dflt : it->second.f;
}
std::string Node::attr_string(const std::string& k, const std::string& dflt) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? dflt : it->second.s;
}
std::vector<int64_t> Node::attr_ints(const std::string& k, std::vector<int64_t> dflt) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? dflt : it->second.ints;
}
void Node::set_int(const std::string& k, int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  attrs[k] = a;
}
void Node::set_ints(const std::string& k, std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(v);
  attrs[k] = a;
}
void Node::set_string(const std::string& k, std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = std::move(v);
  attrs[k] = a;
}
void Node::set_float(const std::string& k, float v) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = v;
  attrs[k] = a;
}

int Graph::add_tensor(Tensor t) {
  if (t.name.empty() || by_name_.count(t.name)) t.name = unique_name(t.name.empty() ? "t" : t.name);
  int id = static_cast<int>(tensors_.size());
  by_name_[t.name] = id;
  tensors_.push_back(std::move(t));
  return id;
}

int Graph::add_node(Node n) {
  nodes_.push_back(std::move(n));
  return static_cast<int>(nodes_.size()) - 1;
}

int Graph::add_constant(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data) {
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.shape_known = true;
  t.constant = true;
  t.data.resize(t.bytes());
  if (!t.data.empty()) std::memcpy(t.data.data(), data, t.data.size());
  return add_tensor(std::move(t));
}

int Graph::add_constant_floats(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
  return add_constant(name, DType::F32, std::move(shape), v.data());
}

int Graph::add_constant_ints(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& v) {
  return add_constant(name, DType::I64, std::move(shape), v.data());
}

int Graph::find_tensor(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

void Graph::rename_tensor(int id, const std::string& name) {
  Tensor& t = tensor(id);
  if (t.name == name) return;
  if (by_name_.count(name)) throw Error("tensor name '" + name + "' is already used");
  by_name_.erase(t.name);
  t.name = name;
  by_name_[name] = id;
}

std::string Graph::unique_name(const std::string& base) const {
  if (!by_name_.count(base)) return base;
  for (int i = 1;; ++i) {
    std::string n = base + "_" + std::to_string(i);
    if (!by_name_.count(n)) return n;
  }
}

int Graph::producer(int t) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].removed) continue;
    for (int o : nodes_[i].outputs)
      if (o == t) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int> Graph::consumers(int t) const {
  std::vector<int> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].removed) continue;
    for (int in : nodes_[i].inputs)
      if (in == t) {
        out.push_back(static_cast<int>(i));
        break;
      }
  }
  return out;
}

bool Graph::is_graph_output(int t) const { return std::find(outputs.begin(), outputs.end(), t) != outputs.end(); }

std::vector<int> Graph::live_nodes() const {
  std::vector<int> out;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!nodes_[i].removed) out.push_back(static_cast<int>(i));
  return out;
}

void Graph::replace_uses(int from, int to) {
  for (Node& n : nodes_) {
    if (n.removed) continue;
    for (int& in : n.inputs)
      if (in == from) in = to;
  }
  for (int& o : outputs)
    if (o == from) o = to;
}

int Graph::insert_node_before(int before, Node n) {
  nodes_.insert(nodes_.begin() + before, std::move(n));
  return before;
}

void Graph::topo_sort() {
  // Kahn's algorithm; among ready nodes the one earliest in the current list goes first.
  std::vector<int> live = live_nodes();
  std::map<int, int> producer_of;  // tensor -> node
  for (int n : live)
    for (int o : nodes_[n].outputs) producer_of[o] = n;
  std::map<int, int> pending;
  std::map<int, std::vector<int>> users;
  for (int n : live) {
    std::set<int> deps;
    for (int in : nodes_[n].inputs) {
      auto it = producer_of.find(in);
      if (in >= 0 && it != producer_of.end() && it->second != n) deps.insert(it->second);
    }
    pending[n] = static_cast<int>(deps.size());
    for (int d : deps) users[d].push_back(n);
  }
  std::set<int> ready;
  for (int n : live)
    if (pending[n] == 0) ready.insert(n);
  std::vector<int> order;
  while (!ready.empty()) {
    int n = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(n);
    for (int u : users[n])
      if (--pending[u] == 0) ready.insert(u);
  }
  if (order.size() != live.size()) throw Error("the graph has a cycle");
  std::vector<Node> sorted;
  sorted.reserve(nodes_.size());
  for (int n : order) sorted.push_back(std::move(nodes_[n]));
  nodes_ = std::move(sorted);
}

void Graph::compact() {
  std::vector<Node> kept;
  for (Node& n : nodes_)
    if (!n.removed) kept.push_back(std::move(n));
  nodes_ = std::move(kept);

  std::vector<char> used(tensors_.size(), 0);
  for (const Node& n : nodes_) {
    for (int t : n.inputs)
      if (t >= 0) used[t] = 1;
    for (int t : n.outputs) used[t] = 1;
  }
  for (int t : inputs) used[t] = 1;
  for (int t : outputs) used[t] = 1;

  std::vector<int> remap(tensors_.size(), -1);
  std::vector<Tensor> new_tensors;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!used[i]) continue;
    remap[i] = static_cast<int>(new_tensors.size());
    new_tensors.push_back(std::move(tensors_[i]));
  }
  tensors_ = std::move(new_tensors);
  by_name_.clear();
  for (size_t i = 0; i < tensors_.size(); ++i) by_name_[tensors_[i].name] = static_cast<int>(i);
  for (Node& n : nodes_) {
    for (int& t : n.inputs)
      if (t >= 0) t = remap[t];
    for (int& t : n.outputs) t = remap[t];
  }
  for (int& t : inputs) t = remap[t];
  for (int& t : outputs) t = remap[t];
}

}  // namespace fx::ir
