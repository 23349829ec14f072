// The graph IR: values (named tensors), nodes with attributes, constants living in the weights
// file, and layers (the unit a user sees, loads and schedules).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tinyai/tensor.h"

namespace tinyai {

struct Attribute {
  enum class Kind { Int, Float, String, Ints, Floats, Strings, Tensor };
  Kind kind = Kind::Int;
  int64_t i = 0;
  float f = 0.f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  // Kind::Tensor: a small constant (e.g. ConstantOfShape's value), stored by value.
  int32_t tensor_dtype = 0;  // ONNX code
  Shape tensor_shape;
  std::vector<uint8_t> tensor_data;
};

struct Node {
  std::string name;
  std::string op_type;
  std::vector<int> inputs;   // value ids; -1 for an omitted optional input
  std::vector<int> outputs;  // value ids; -1 for an omitted optional output
  std::map<std::string, Attribute> attrs;
  int layer = -1;
  int opset = 0;  // default-domain opset of the model (semantics of some ops changed)

  bool has_attr(const std::string& k) const { return attrs.count(k) != 0; }
  int64_t attr_int(const std::string& k, int64_t dflt) const;
  float attr_float(const std::string& k, float dflt) const;
  std::string attr_string(const std::string& k, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& k, const std::vector<int64_t>& dflt = {}) const;
  std::vector<float> attr_floats(const std::string& k, const std::vector<float>& dflt = {}) const;
  const Attribute* attr(const std::string& k) const;
};

// A dimension is either fixed (>= 0) or symbolic (kSymbolicDim, named in dim_params).
constexpr int64_t kSymbolicDim = -1;

struct Value {
  std::string name;
  int32_t onnx_dtype = 0;       // declared dtype if known (0 = unknown)
  bool has_shape = false;
  Shape shape;                  // kSymbolicDim where symbolic
  std::vector<std::string> dim_params;
  // Constants (weights and folded tensors) live in a layer's blob of the weights file.
  bool is_constant = false;
  int constant_layer = -1;
  uint64_t constant_offset = 0;  // absolute byte offset in the weights file
  uint64_t constant_nbytes = 0;
};

struct Layer {
  std::string name;
  std::vector<int> nodes;  // node indices, in execution order
  uint64_t weight_bytes = 0;
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;  // topologically sorted (validated by Graph::validate)
  std::vector<int> inputs;  // runtime inputs (value ids)
  std::vector<int> outputs;
  std::vector<Layer> layers;

  int value_id(const std::string& name) const;  // -1 if absent
  // Checks ids, topological order and that every consumed value is produced; throws ModelError.
  void validate() const;
};

}  // namespace tinyai
