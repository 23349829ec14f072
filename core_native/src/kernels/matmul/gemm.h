// Single-precision GEMM used by MatMul, Gemm and the convolutions (im2col + GEMM).
// C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C, row-major with leading dimensions.
// beta == 0 means C is write-only (may hold garbage on entry).
#pragma once
#include <cstdint>

namespace tinyai {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

}  // namespace tinyai
