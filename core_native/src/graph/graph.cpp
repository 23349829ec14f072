#include <string>
#include <vector>

#include "tinyai/errors.h"
#include "tinyai/graph.h"

namespace tinyai {

const Attribute* Node::attr(const std::string& k) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? nullptr : &it->second;
}

namespace {
[[noreturn]] void bad_attr(const Node& n, const std::string& k, const char* want) {
  throw ModelError("node '" + n.name + "' (" + n.op_type + "): attribute '" + k +
                   "' is not of type " + want);
}
}  // namespace

int64_t Node::attr_int(const std::string& k, int64_t dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::Int) bad_attr(*this, k, "int");
  return a->i;
}

float Node::attr_float(const std::string& k, float dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  if (a->kind == Attribute::Kind::Int) return static_cast<float>(a->i);
  if (a->kind != Attribute::Kind::Float) bad_attr(*this, k, "float");
  return a->f;
}

std::string Node::attr_string(const std::string& k, const std::string& dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  if (a->kind != Attribute::Kind::String) bad_attr(*this, k, "string");
  return a->s;
}

std::vector<int64_t> Node::attr_ints(const std::string& k, const std::vector<int64_t>& dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  if (a->kind == Attribute::Kind::Int) return {a->i};
  if (a->kind != Attribute::Kind::Ints) bad_attr(*this, k, "ints");
  return a->ints;
}

std::vector<float> Node::attr_floats(const std::string& k, const std::vector<float>& dflt) const {
  const Attribute* a = attr(k);
  if (!a) return dflt;
  if (a->kind == Attribute::Kind::Float) return {a->f};
  if (a->kind != Attribute::Kind::Floats) bad_attr(*this, k, "floats");
  return a->floats;
}

int Graph::value_id(const std::string& n) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == n) return static_cast<int>(i);
  return -1;
}

void Graph::validate() const {
  const int nv = static_cast<int>(values.size());
  std::vector<char> available(values.size(), 0);
  for (int v = 0; v < nv; ++v)
    if (values[v].is_constant) available[v] = 1;
  for (int v : inputs) {
    if (v < 0 || v >= nv) throw ModelError("graph input refers to an unknown value");
    available[v] = 1;
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    if (n.layer < 0 || n.layer >= static_cast<int>(layers.size()))
      throw ModelError("node '" + n.name + "' has no layer");
    for (int v : n.inputs) {
      if (v < -1 || v >= nv) throw ModelError("node '" + n.name + "' refers to an unknown value");
      if (v >= 0 && !available[v])
        throw ModelError("node '" + n.name + "' consumes '" + values[v].name +
                         "' before it is produced (graph is not topologically sorted or the "
                         "value has no producer)");
    }
    for (int v : n.outputs) {
      if (v < -1 || v >= nv) throw ModelError("node '" + n.name + "' refers to an unknown value");
      if (v >= 0) {
        if (available[v]) throw ModelError("value '" + values[v].name + "' is produced twice");
        available[v] = 1;
      }
    }
  }
  for (int v : outputs) {
    if (v < 0 || v >= nv || !available[v])
      throw ModelError("graph output '" + (v >= 0 && v < nv ? values[v].name : std::string("?")) +
                       "' is never produced");
  }
}

}  // namespace tinyai
