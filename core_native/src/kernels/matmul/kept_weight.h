// A constant weight on the right of a product, Y = alpha * op(X) * op(W) (+ epilogue), with
// op(W) kept packed for the GEMM across runs while the session allows it (keep_packed_weights:
// tradeoff >= 0.75, no loader budget), as Conv keeps its packed weights. Each run then packs
// only X, and with several threads splits X's rows (no thread re-packs W's columns). The GEMM
// computes every element as it does with per-run packing, so outputs are identical.
#pragma once
#include <cstdint>

#include "kernels/matmul/gemm.h"
#include "tinyai/op.h"

namespace tinyai {

class KeptWeightGemm {
 public:
  // The packing of input `w_input` (W, a K x N op(W) with leading dimension ldw) for `rt`:
  // the kept one when it still matches, else packed afresh (the stale copy freed first).
  // Null when the session keeps no packed copies, W is not a resident constant, the ISA
  // reads B in place, or the copy would be too large; the caller then packs per run.
  const PackedB* packing(KernelContext& ctx, const GemmRuntime& rt, size_t w_input,
                         bool trans_w, int64_t K, int64_t N, const float* W, int64_t ldw);

  // Frees the packing (the settings stop keeping packed weights).
  void drop() { kept_ = Kept{}; }

 private:
  struct Kept {
    BufferPtr buffer;
    const float* w = nullptr;
    int64_t K = 0, N = 0;
    bool trans_w = false;
    Isa isa = Isa::Scalar;
    int kc = 0;
    PackedB packed;
  };
  Kept kept_;
};

}  // namespace tinyai
