// Builds a Graph value by value and node by node. The Python facade feeds it from graph.json;
// a future C API (or a native graph.json reader) uses the same calls.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tinyai/graph.h"

namespace tinyai {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name = "", int opset = 0);

  // Returns the value id. `shape` uses kSymbolicDim for symbolic dims; has_shape=false when
  // unknown. A constant lives at [offset, offset+nbytes) of the weights file, in `layer`.
  int add_value(const std::string& name, int32_t onnx_dtype, bool has_shape, const Shape& shape,
                const std::vector<std::string>& dim_params);
  void set_constant(int value, int layer, uint64_t offset, uint64_t nbytes);
  // Inputs/outputs by value name; "" is an omitted optional slot. Returns the node index.
  int add_node(const std::string& name, const std::string& op_type,
               const std::vector<std::string>& inputs, const std::vector<std::string>& outputs,
               int layer);
  void set_attr(int node, const std::string& key, const Attribute& a);
  int add_layer(const std::string& name, const std::vector<int>& nodes, uint64_t weight_bytes);
  void set_inputs(const std::vector<std::string>& names);
  void set_outputs(const std::vector<std::string>& names);

  // Validates and hands the graph over (the builder is empty afterwards).
  std::shared_ptr<const Graph> finish();

 private:
  int id_of(const std::string& name, const char* what);
  Graph g_;
  int opset_;
  std::map<std::string, int> ids_;
};

}  // namespace tinyai
