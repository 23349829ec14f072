// Binds a node's constant inputs to weights held by the progressive loader: before a node
// runs, the layers whose blobs it reads are acquired (layers no longer needed are released
// first, so a tight weight budget has room), and its constants become views into them.
#pragma once
#include <map>
#include <vector>

#include "tinyai/graph.h"
#include "tinyai/progressive_loader.h"
#include "tinyai/tensor.h"

namespace tinyai {

// Where a constant lives: its layer's blob and the byte offset inside it.
struct ConstantRef {
  Tensor tmpl;  // dtype and shape; data filled in per acquisition
  int layer = -1;
  uint64_t offset_in_blob = 0;
  bool valid = false;
};

struct StreamableLayer;
struct PieceLayout;

// A layer larger than the loader's budget allows, whose dominant constant is a Gemm/MatMul
// weight, is split into pieces when the binder is created (between runs): its small constants
// are bound as views into their pieces, the weight as a StreamedInput the kernel walks piece
// by piece (see weight_streaming.h).
class WeightBinder {
 public:
  WeightBinder(const Graph& g, ProgressiveLoader& loader, const std::vector<ConstantRef>& constants);
  ~WeightBinder();  // releases whatever is still held

  // Makes node `n`'s constant inputs available in `values`.
  void bind(const Node& n, std::vector<TensorPtr>& values);
  // Drops the constant views `n` read (call after it ran).
  void unbind(const Node& n, std::vector<TensorPtr>& values) const;
  // Makes constant `v` available in `values` (a graph output that import folded).
  void bind_constant(int v, std::vector<TensorPtr>& values);
  void release_all();

 private:
  const Graph& g_;
  ProgressiveLoader& loader_;
  const std::vector<ConstantRef>& constants_;
  struct Held {
    BufferPtr whole;                                  // an unsplit layer
    std::vector<std::pair<size_t, BufferPtr>> small;  // a split layer's small pieces
    size_t position = 0;
  };
  void acquire_layer(int layer);
  void release_layer(int layer, Held& h);
  TensorPtr view(int v);  // constant v of a held layer

  std::map<int, Held> held_;
  std::vector<StreamableLayer> streamable_;
  std::vector<PieceLayout> layouts_;
  size_t position_ = 0;
};

// The layers a node reads constants from, ascending.
std::vector<int> constant_layers(const Node& n, const std::vector<ConstantRef>& constants);
// The sequence of acquisitions WeightBinder makes over `order`: the loader's execution order.
std::vector<int> layer_use_sequence(const Graph& g, const std::vector<int>& order,
                                    const std::vector<ConstantRef>& constants);

}  // namespace tinyai
