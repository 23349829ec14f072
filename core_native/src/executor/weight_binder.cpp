#include "executor/weight_binder.h"

#include <algorithm>

#include "executor/weight_streaming.h"
#include "tinyai/errors.h"

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

WeightBinder::WeightBinder(const Graph& g, ProgressiveLoader& loader,
                           const std::vector<ConstantRef>& constants)
    : g_(g), loader_(loader), constants_(constants) {
  std::vector<uint64_t> blob_bytes(g.layers.size(), 0);
  for (size_t l = 0; l < blob_bytes.size() && l < loader.num_layers(); ++l)
    blob_bytes[l] = loader.layer_nbytes(static_cast<int>(l));
  streamable_ = find_streamable_layers(g, constants, blob_bytes);
  layouts_.resize(streamable_.size());
  const uint64_t budget = loader.budget_bytes();
  for (size_t l = 0; l < streamable_.size(); ++l) {
    if (!streamable_[l].valid()) continue;
    layouts_[l] = piece_layout(streamable_[l], budget);
    // A no-op when the layer is already cut this way; re-cut when the budget changed.
    loader.set_layer_pieces(static_cast<int>(l), layouts_[l].split_offsets, layouts_[l].sequence);
  }
}

WeightBinder::~WeightBinder() { release_all(); }

void WeightBinder::release_layer(int layer, Held& h) {
  if (!layouts_[layer].split()) {
    h.whole.reset();  // the loader may free the bytes only once nobody points at them
    loader_.release(layer);
    return;
  }
  for (auto& piece : h.small) {
    piece.second.reset();
    loader_.release_piece(layer, piece.first);
  }
}

void WeightBinder::release_all() {
  for (auto& kv : held_) release_layer(kv.first, kv.second);
  held_.clear();
}

void WeightBinder::acquire_layer(int layer) {
  Held h;
  h.position = position_++;
  const PieceLayout& lay = layouts_[layer];
  if (!lay.split()) {
    h.whole = loader_.acquire(layer, h.position);
  } else {
    try {
      for (size_t p : lay.small_pieces) {
        h.small.emplace_back(p, nullptr);
        h.small.back().second = loader_.acquire_piece(layer, p, h.position);
      }
    } catch (...) {
      h.small.pop_back();  // the failed acquire pinned nothing
      release_layer(layer, h);
      throw;
    }
  }
  held_[layer] = std::move(h);
}

TensorPtr WeightBinder::view(int v) {
  const ConstantRef& c = constants_[v];
  Held& h = held_.at(c.layer);
  const PieceLayout& lay = layouts_[c.layer];
  if (lay.split() && streamable_[c.layer].value == v)
    return make_streamed_tensor(c.tmpl, std::make_shared<LoaderStreamedInput>(
                                            loader_, c.layer, lay, c.tmpl.dim(0), h.position));
  auto t = std::make_shared<Tensor>(c.tmpl);
  if (!lay.split()) {
    t->buffer = h.whole;
    t->data = t->buffer ? static_cast<char*>(t->buffer->data()) + c.offset_in_blob : nullptr;
    return t;
  }
  for (const auto& piece : h.small) {  // constants never straddle the weight's row blocks
    const auto range = loader_.piece_range(c.layer, piece.first);
    if (c.offset_in_blob >= range.first &&
        c.offset_in_blob + c.tmpl.nbytes() <= range.first + range.second) {
      t->buffer = piece.second;
      t->data = t->buffer ? static_cast<char*>(t->buffer->data()) + (c.offset_in_blob - range.first)
                          : nullptr;
      return t;
    }
  }
  if (c.tmpl.nbytes() == 0) return t;
  throw ModelError("constant '" + g_.values[v].name + "' lies in no small piece of its split layer");
}

void WeightBinder::bind(const Node& n, std::vector<TensorPtr>& values) {
  const std::vector<int> needed = constant_layers(n, constants_);
  for (auto it = held_.begin(); it != held_.end();) {
    if (std::binary_search(needed.begin(), needed.end(), it->first)) {
      ++it;
      continue;
    }
    release_layer(it->first, it->second);
    it = held_.erase(it);
  }
  for (int l : needed)
    if (!held_.count(l)) acquire_layer(l);
  for (int in : n.inputs)
    if (in >= 0 && constants_[in].valid) values[in] = view(in);
}

void WeightBinder::bind_constant(int v, std::vector<TensorPtr>& values) {
  if (!held_.count(constants_[v].layer)) acquire_layer(constants_[v].layer);
  values[v] = view(v);
}

void WeightBinder::unbind(const Node& n, std::vector<TensorPtr>& values) const {
  for (int in : n.inputs)
    if (in >= 0 && constants_[in].valid) values[in].reset();
}

}  // namespace tinyai
