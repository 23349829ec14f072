#include "executor/weight_streaming.h"

#include <algorithm>

namespace tinyai {

std::vector<StreamableLayer> find_streamable_layers(const Graph& g,
                                                    const std::vector<ConstantRef>& constants,
                                                    const std::vector<uint64_t>& blob_bytes) {
  std::vector<StreamableLayer> out(g.layers.size());
  for (size_t l = 0; l < out.size() && l < blob_bytes.size(); ++l) out[l].blob_bytes = blob_bytes[l];
  // Which constants only Gemm/MatMul nodes read, and only as input B.
  std::vector<char> b_only(g.values.size(), 1), consumed(g.values.size(), 0);
  for (const Node& n : g.nodes)
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int v = n.inputs[i];
      if (v < 0 || !constants[v].valid) continue;
      consumed[v] = 1;
      if (i != 1 || (n.op_type != "Gemm" && n.op_type != "MatMul")) b_only[v] = 0;
    }
  for (int v : g.outputs)
    if (v >= 0) b_only[v] = 0;  // a folded graph output is bound whole at the end
  for (size_t v = 0; v < constants.size(); ++v) {
    const ConstantRef& c = constants[v];
    if (!c.valid || !consumed[v] || !b_only[v] || c.tmpl.dtype != DType::Float32 ||
        c.tmpl.rank() != 2 || c.tmpl.dim(0) <= 1)
      continue;
    const size_t l = static_cast<size_t>(c.layer);
    StreamableLayer s;
    s.value = static_cast<int>(v);
    s.w_offset = c.offset_in_blob;
    s.w_bytes = c.tmpl.nbytes();
    s.rows = c.tmpl.dim(0);
    s.row_bytes = s.w_bytes / static_cast<uint64_t>(s.rows);
    s.blob_bytes = l < blob_bytes.size() ? blob_bytes[l] : 0;
    // W must dominate its layer: the other constants stay whole and count towards the floor.
    if (s.w_bytes * 2 < s.blob_bytes || s.w_offset + s.w_bytes > s.blob_bytes) continue;
    if (!out[l].valid() || s.w_bytes > out[l].w_bytes) out[l] = s;
  }
  return out;
}

PieceLayout piece_layout(const StreamableLayer& s, uint64_t budget) {
  PieceLayout p;
  if (!s.valid() || budget == 0 || s.blob_bytes <= budget / 4) return p;
  const uint64_t granule_bytes = s.row_bytes * static_cast<uint64_t>(kStreamRowGranule);
  const uint64_t granules =
      std::max<uint64_t>(1, (budget / kPieceBudgetFraction) / std::max<uint64_t>(1, granule_bytes));
  const int64_t rows_per_piece = static_cast<int64_t>(granules) * kStreamRowGranule;
  if (rows_per_piece >= s.rows) return p;  // W in one piece: nothing to gain
  p.rows_per_piece = rows_per_piece;
  size_t piece = 0;
  if (s.w_offset > 0) {
    p.split_offsets.push_back(s.w_offset);
    p.small_pieces.push_back(piece++);
  }
  p.first_w_piece = piece;
  for (int64_t r = 0; r < s.rows; r += rows_per_piece) {
    if (r > 0) p.split_offsets.push_back(s.w_offset + static_cast<uint64_t>(r) * s.row_bytes);
    ++p.num_w_pieces;
    ++piece;
  }
  if (s.w_offset + s.w_bytes < s.blob_bytes) {
    p.split_offsets.push_back(s.w_offset + s.w_bytes);
    p.small_pieces.push_back(piece++);
  }
  p.sequence = p.small_pieces;
  for (size_t j = 0; j < p.num_w_pieces; ++j) p.sequence.push_back(p.first_w_piece + j);
  return p;
}

uint64_t streaming_floor_bytes(const StreamableLayer& s) {
  if (!s.valid()) return s.blob_bytes;
  const int64_t rows = std::min(s.rows, kStreamRowGranule);
  return s.blob_bytes - s.w_bytes + static_cast<uint64_t>(rows) * s.row_bytes;
}

LoaderStreamedInput::LoaderStreamedInput(ProgressiveLoader& loader, int layer,
                                         const PieceLayout& layout, int64_t rows,
                                         size_t position)
    : loader_(loader),
      layer_(layer),
      first_piece_(layout.first_w_piece),
      rows_(rows),
      rows_per_piece_(layout.rows_per_piece),
      position_(position),
      held_(layout.num_w_pieces) {}

LoaderStreamedInput::~LoaderStreamedInput() {
  for (size_t j = 0; j < held_.size(); ++j) {
    try {
      release(j);
    } catch (...) {  // a destructor must not throw; the loader only throws on bad indices
    }
  }
}

std::pair<int64_t, int64_t> LoaderStreamedInput::piece_rows(size_t j) const {
  const int64_t first = static_cast<int64_t>(j) * rows_per_piece_;
  return {first, std::min(rows_, first + rows_per_piece_)};
}

const void* LoaderStreamedInput::acquire(size_t j) {
  if (!held_.at(j)) held_[j] = loader_.acquire_piece(layer_, first_piece_ + j, position_);
  return held_[j]->data();
}

void LoaderStreamedInput::release(size_t j) {
  if (!held_.at(j)) return;
  held_[j].reset();  // the loader may free the bytes only once nobody points at them
  loader_.release_piece(layer_, first_piece_ + j);
}

TensorPtr make_streamed_tensor(const Tensor& tmpl, std::shared_ptr<StreamedInput> stream) {
  return TensorPtr(new Tensor(tmpl), StreamedTensorDeleter{std::move(stream)});
}

StreamedInput* streamed_input_of(const TensorPtr& t) {
  if (!t) return nullptr;
  const auto* d = std::get_deleter<StreamedTensorDeleter>(t);
  return d ? d->stream.get() : nullptr;
}

}  // namespace tinyai
