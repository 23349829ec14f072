// Single-precision GEMM used by MatMul, Gemm and the convolutions (im2col + GEMM).
// C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C, row-major with leading dimensions.
// beta == 0 means C is write-only (may hold garbage on entry).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tinyai {

// Bytes of packing workspace sgemm_ws needs for these sizes. Kernels get it from
// ctx.scratch() so packed panels show up in the memory accounting; it is bounded by the cache
// blocking (about 1.1 MiB) however large the matrices are.
size_t sgemm_workspace_bytes(int64_t M, int64_t N, int64_t K);

// The cache-blocked GEMM, packing panels of A and B into `workspace` (at least
// sgemm_workspace_bytes(M, N, K) bytes, any alignment).
void sgemm_ws(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc, void* workspace);

// Same result without a caller workspace: packs through small fixed-size blocks on the stack
// (tens of KiB), so it is slower on large problems. Kernels should prefer sgemm_ws.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

}  // namespace tinyai
