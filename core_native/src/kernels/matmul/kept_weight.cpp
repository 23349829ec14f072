#include "kernels/matmul/kept_weight.h"

namespace tinyai {

namespace {

// Larger weights are packed block by block as the GEMM goes (as Conv does): a kept copy
// would double their resident size.
constexpr size_t kMaxKeptWeightBytes = size_t{64} << 20;

}  // namespace

const PackedB* KeptWeightGemm::packing(KernelContext& ctx, const GemmRuntime& rt, size_t w_input,
                                       bool trans_w, int64_t K, int64_t N, const float* W,
                                       int64_t ldw) {
  const Kept& k = kept_;
  if (k.buffer && k.w == W && k.K == K && k.N == N && k.trans_w == trans_w && k.isa == rt.isa &&
      k.kc == rt.kc)
    return &k.packed;
  kept_ = Kept{};  // free the stale copy before its replacement is allocated
  const size_t bytes = sgemm_packed_b_bytes(rt, K, N);
  if (bytes == 0 || bytes > kMaxKeptWeightBytes) return nullptr;  // 0: read in place
  BufferPtr buffer = ctx.persistent(bytes, w_input);
  if (!buffer) return nullptr;
  Kept fresh;
  fresh.packed = sgemm_pack_b(rt, trans_w, K, N, W, ldw, buffer->data());
  fresh.buffer = std::move(buffer);
  fresh.w = W;
  fresh.K = K;
  fresh.N = N;
  fresh.trans_w = trans_w;
  fresh.isa = rt.isa;
  fresh.kc = rt.kc;
  kept_ = std::move(fresh);
  return &kept_.packed;
}

}  // namespace tinyai
