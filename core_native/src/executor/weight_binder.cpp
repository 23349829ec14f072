#include "executor/weight_binder.h"

#include <algorithm>

namespace tinyai {

std::vector<int> constant_layers(const Node& n, const std::vector<ConstantRef>& constants) {
  std::vector<int> layers;
  for (int in : n.inputs)
    if (in >= 0 && constants[in].valid) layers.push_back(constants[in].layer);
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

std::vector<int> layer_use_sequence(const Graph& g, const std::vector<int>& order,
                                    const std::vector<ConstantRef>& constants) {
  std::vector<int> seq, held;
  for (int ni : order) {
    const std::vector<int> needed = constant_layers(g.nodes[ni], constants);
    std::vector<int> keep;
    for (int l : held)
      if (std::binary_search(needed.begin(), needed.end(), l)) keep.push_back(l);
    for (int l : needed)
      if (std::find(keep.begin(), keep.end(), l) == keep.end()) {
        seq.push_back(l);
        keep.push_back(l);
      }
    held = std::move(keep);
  }
  return seq;
}

WeightBinder::~WeightBinder() { release_all(); }

void WeightBinder::release_all() {
  for (auto& kv : held_) {
    kv.second.reset();  // the loader may free the bytes only once nobody points at them
    loader_.release(kv.first);
  }
  held_.clear();
}

void WeightBinder::bind(const Node& n, std::vector<TensorPtr>& values) {
  const std::vector<int> needed = constant_layers(n, constants_);
  for (auto it = held_.begin(); it != held_.end();) {
    if (std::binary_search(needed.begin(), needed.end(), it->first)) {
      ++it;
      continue;
    }
    it->second.reset();
    loader_.release(it->first);
    it = held_.erase(it);
  }
  for (int l : needed)
    if (!held_.count(l)) held_[l] = loader_.acquire(l, position_++);
  for (int in : n.inputs) {
    if (in < 0 || !constants_[in].valid) continue;
    const ConstantRef& c = constants_[in];
    auto t = std::make_shared<Tensor>(c.tmpl);
    t->buffer = held_[c.layer];
    t->data = t->buffer ? static_cast<char*>(t->buffer->data()) + c.offset_in_blob : nullptr;
    values[in] = std::move(t);
  }
}

void WeightBinder::bind_constant(int v, std::vector<TensorPtr>& values) {
  const ConstantRef& c = constants_[v];
  if (!held_.count(c.layer)) held_[c.layer] = loader_.acquire(c.layer, position_++);
  auto t = std::make_shared<Tensor>(c.tmpl);
  t->buffer = held_[c.layer];
  t->data = t->buffer ? static_cast<char*>(t->buffer->data()) + c.offset_in_blob : nullptr;
  values[v] = std::move(t);
}

void WeightBinder::unbind(const Node& n, std::vector<TensorPtr>& values) const {
  for (int in : n.inputs)
    if (in >= 0 && constants_[in].valid) values[in].reset();
}

}  // namespace tinyai
