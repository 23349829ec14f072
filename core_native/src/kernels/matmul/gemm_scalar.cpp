// The portable GEMM: the blocked driver built for the baseline ISA (128-bit vectors: SSE2 on
// x86-64, NEON on AArch64). Per-ISA variants instantiate gemm_blocked.h beside this file.
#include "kernels/matmul/gemm.h"

#include "kernels/matmul/gemm_blocked.h"

namespace tinyai {

namespace {

using gemm_detail::Blocking;
using gemm_detail::GemmArgs;

// 6x8 tile: 12 accumulator registers + 2 for B + 1 broadcast fits the 16 xmm registers.
using Portable = gemm_detail::BlockedGemm</*VW=*/4, /*MR=*/6, /*NR=*/8>;

// mc x kc of A = 72 KiB (L2), kc x NR of B = 8 KiB (L1), kc x nc of B = 1 MiB (L3).
constexpr Blocking kBlocking{72, 256, 1024};
// For sgemm without a workspace: 6 KiB of A and 16 KiB of B on the stack.
constexpr Blocking kStackBlocking{24, 64, 64};

// Handles empty sizes, K == 0 and alpha == 0; returns true when nothing is left to compute.
bool degenerate(const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0) return true;
  if (g.K <= 0 || g.alpha == 0.f) {
    gemm_detail::scale_c(g.C, g.ldc, g.M, g.N, g.beta);
    return true;
  }
  return false;
}

}  // namespace

size_t sgemm_workspace_bytes(int64_t M, int64_t N, int64_t K) {
  return gemm_detail::workspace_bytes(M, N, K, kBlocking, 6, 8);
}

void sgemm_ws(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc, void* workspace) {
  const GemmArgs g{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  if (degenerate(g) || Portable::try_gemv(g)) return;
  Portable::run(g, kBlocking, workspace);
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  const GemmArgs g{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  if (degenerate(g) || Portable::try_gemv(g)) return;
  constexpr size_t kFloats = (kStackBlocking.mc + kStackBlocking.nc) * kStackBlocking.kc +
                             gemm_detail::kWorkspaceAlign / sizeof(float);
  float stack_workspace[kFloats];
  Portable::run(g, kStackBlocking, stack_workspace);
}

}  // namespace tinyai
