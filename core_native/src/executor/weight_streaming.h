// Streaming one oversized Gemm/MatMul weight in pieces: which layers qualify, how a layer is
// cut for a given weight budget, the fewest bytes it then needs at once, and the StreamedInput
// a kernel receives for the weight.
//
// A layer qualifies when one float32 matrix W dominates it and every consumer of W is a Gemm
// or MatMul reading it as input B: those kernels can loop over whole rows of W (Gemm with
// transB: output columns; otherwise K rows with partial sums). The layer is cut into
//   [constants before W] [row block 0] ... [row block k-1] [constants after W]
// and acquired small pieces first (the loader's piece sequence), so the bias is at hand for
// the whole op and the row blocks stream in order behind it.
#pragma once
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "executor/weight_binder.h"
#include "tinyai/op.h"

namespace tinyai {

struct StreamableLayer {
  int value = -1;           // the constant W; -1: the layer is not streamable
  uint64_t w_offset = 0;    // W's byte range inside the layer blob
  uint64_t w_bytes = 0;
  int64_t rows = 0;         // W's first dimension; pieces are whole rows
  uint64_t row_bytes = 0;
  uint64_t blob_bytes = 0;
  bool valid() const { return value >= 0; }
};

// Pieces are whole blocks of this many rows (one block at least): fine enough that the
// streaming minimum stays small, coarse enough to keep the GEMM's column tiles whole.
constexpr int64_t kStreamRowGranule = 16;

// Per layer (blob_bytes[l] = size of layer l's blob).
std::vector<StreamableLayer> find_streamable_layers(const Graph& g,
                                                    const std::vector<ConstantRef>& constants,
                                                    const std::vector<uint64_t>& blob_bytes);

struct PieceLayout {
  std::vector<uint64_t> split_offsets;  // empty: the layer stays one unit
  std::vector<size_t> sequence;         // acquisition order: small pieces, then W's blocks
  std::vector<size_t> small_pieces;     // pieces holding the other constants
  size_t first_w_piece = 0;
  size_t num_w_pieces = 0;
  int64_t rows_per_piece = 0;
  bool split() const { return !split_offsets.empty(); }
};

// A cut layer's row blocks are at most this fraction of the budget. Fine blocks (not a quarter,
// as first): the block in use and the one being read pin less of the budget, so more layers
// stay resident across inferences (vgg19 at 30 %: fc6 in ~11 MB blocks instead of ~43 MB),
// and the prefetcher fills freed room block by block instead of waiting for a quarter of it.
constexpr uint64_t kPieceBudgetFraction = 16;

// How to cut `s` under a weight budget (0 = unlimited: never). A layer larger than a quarter
// of the budget is cut into row blocks of at most budget / kPieceBudgetFraction (at least one
// granule), so the block in use, the blocks being prefetched and the layers around fit together.
PieceLayout piece_layout(const StreamableLayer& s, uint64_t budget);

// The fewest weight bytes the layer needs resident at once: everything when not streamable,
// else its other constants plus one granule of rows.
uint64_t streaming_floor_bytes(const StreamableLayer& s);

// The StreamedInput of one bound weight: pieces come from the loader at the layer's position.
class LoaderStreamedInput final : public StreamedInput {
 public:
  LoaderStreamedInput(ProgressiveLoader& loader, int layer, const PieceLayout& layout,
                      int64_t rows, size_t position);
  ~LoaderStreamedInput() override;  // releases pieces a failing kernel left acquired
  size_t num_pieces() const override { return held_.size(); }
  std::pair<int64_t, int64_t> piece_rows(size_t j) const override;
  const void* acquire(size_t j) override;
  void release(size_t j) override;

 private:
  ProgressiveLoader& loader_;
  int layer_;
  size_t first_piece_;
  int64_t rows_, rows_per_piece_;
  size_t position_;
  std::vector<BufferPtr> held_;
};

// A streamed weight travels through the value table as a Tensor without data whose
// shared_ptr carries this deleter: the table and the execute loop stay unchanged, and the
// NodeContext finds the stream with std::get_deleter.
struct StreamedTensorDeleter {
  std::shared_ptr<StreamedInput> stream;
  void operator()(Tensor* t) const { delete t; }
};
TensorPtr make_streamed_tensor(const Tensor& tmpl, std::shared_ptr<StreamedInput> stream);
StreamedInput* streamed_input_of(const TensorPtr& t);  // null for an ordinary tensor

}  // namespace tinyai
