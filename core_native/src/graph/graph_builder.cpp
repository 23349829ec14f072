#include "tinyai/graph_builder.h"

#include "tinyai/errors.h"

namespace tinyai {

GraphBuilder::GraphBuilder(std::string name, int opset) : opset_(opset) {
  g_.name = std::move(name);
}

int GraphBuilder::id_of(const std::string& name, const char* what) {
  auto it = ids_.find(name);
  if (it == ids_.end())
    throw ModelError(std::string(what) + " refers to unknown value '" + name + "'");
  return it->second;
}

int GraphBuilder::add_value(const std::string& name, int32_t onnx_dtype, bool has_shape,
                            const Shape& shape, const std::vector<std::string>& dim_params) {
  if (name.empty()) throw ModelError("a value has an empty name");
  if (ids_.count(name)) throw ModelError("value '" + name + "' is declared twice");
  Value v;
  v.name = name;
  v.onnx_dtype = onnx_dtype;
  v.has_shape = has_shape;
  v.shape = shape;
  v.dim_params = dim_params;
  const int id = static_cast<int>(g_.values.size());
  g_.values.push_back(std::move(v));
  ids_[name] = id;
  return id;
}

void GraphBuilder::set_constant(int value, int layer, uint64_t offset, uint64_t nbytes) {
  if (value < 0 || value >= static_cast<int>(g_.values.size()))
    throw ModelError("constant refers to an unknown value");
  Value& v = g_.values[value];
  if (!v.has_shape)
    throw ModelError("constant '" + v.name + "' has no shape");
  for (int64_t d : v.shape)
    if (d < 0) throw ModelError("constant '" + v.name + "' has a non-static shape");
  v.is_constant = true;
  v.constant_layer = layer;
  v.constant_offset = offset;
  v.constant_nbytes = nbytes;
}

int GraphBuilder::add_node(const std::string& name, const std::string& op_type,
                           const std::vector<std::string>& inputs,
                           const std::vector<std::string>& outputs, int layer) {
  Node n;
  n.name = name;
  n.op_type = op_type;
  n.layer = layer;
  n.opset = opset_;
  for (const auto& s : inputs) n.inputs.push_back(s.empty() ? -1 : id_of(s, "a node input"));
  for (const auto& s : outputs) n.outputs.push_back(s.empty() ? -1 : id_of(s, "a node output"));
  g_.nodes.push_back(std::move(n));
  return static_cast<int>(g_.nodes.size()) - 1;
}

void GraphBuilder::set_attr(int node, const std::string& key, const Attribute& a) {
  if (node < 0 || node >= static_cast<int>(g_.nodes.size()))
    throw ModelError("attribute for an unknown node");
  g_.nodes[node].attrs[key] = a;
}

int GraphBuilder::add_layer(const std::string& name, const std::vector<int>& nodes,
                            uint64_t weight_bytes) {
  Layer l;
  l.name = name;
  l.nodes = nodes;
  l.weight_bytes = weight_bytes;
  g_.layers.push_back(std::move(l));
  return static_cast<int>(g_.layers.size()) - 1;
}

void GraphBuilder::set_inputs(const std::vector<std::string>& names) {
  g_.inputs.clear();
  for (const auto& s : names) g_.inputs.push_back(id_of(s, "a graph input"));
}

void GraphBuilder::set_outputs(const std::vector<std::string>& names) {
  g_.outputs.clear();
  for (const auto& s : names) g_.outputs.push_back(id_of(s, "a graph output"));
}

std::shared_ptr<const Graph> GraphBuilder::finish() {
  g_.validate();
  auto out = std::make_shared<const Graph>(std::move(g_));
  g_ = Graph{};
  ids_.clear();
  return out;
}

}  // namespace tinyai
