// Single-precision GEMM used by MatMul, Gemm and the convolutions (im2col + GEMM).
// C[M x N] = act(alpha * op(A)[M x K] * op(B)[K x N] + beta * C + bias), row-major with
// leading dimensions. beta == 0 means C is write-only (may hold garbage on entry).
//
// A GemmRuntime says how to run: which ISA (from the session's SIMD level and the family's
// switch), cache blocking (CacheConfig.block_size and the detected caches), software
// prefetch distance and the thread pool. Every ISA, blocking and thread count computes each
// C element with the same K order inside a K block, so results agree to rounding.
#pragma once
#include <cstddef>
#include <cstdint>

#include "simd/dispatch.h"

namespace tinyai {

class KernelContext;
class ThreadPool;

enum class GemmActivation { None = 0, Relu = 1 };

// Fused into the store of the last K block:
//   C = act(C + row_bias[i] + col_bias[j] + addend[i * ldc + j]), added in that order.
struct GemmEpilogue {
  const float* row_bias = nullptr;  // M values (a conv's per-output-channel bias) or null
  const float* col_bias = nullptr;  // N values (a linear layer's bias) or null
  // An M x N block laid out like C (same leading dimension): a residual connection fused
  // into the conv that produces the other summand. Never the same memory as C.
  const float* addend = nullptr;
  GemmActivation activation = GemmActivation::None;
  bool empty() const {
    return !row_bias && !col_bias && !addend && activation == GemmActivation::None;
  }
};

struct GemmRuntime {
  Isa isa = Isa::Baseline;
  int kc = 512;                // K depth of a cache block (floats)
  int prefetch_lines = 0;      // software prefetch distance in cache lines (0: off)
  bool fuse = false;           // epilogues may be fused into the GEMM store
  ThreadPool* pool = nullptr;  // null: single-threaded
  // AVX-512 register tile: 16x16 for convolutions (output pixels are often few: 13x13, 7x7),
  // 8x32 for MatMul/Gemm/attention (wide N, and rows as few as a short sequence); measured
  // by benchmarks/gemm_tile_sweep.cpp. Other ISAs have one tile.
  bool wide_tile = false;
};

// The runtime kernels of `family` use in this node: ISA from the session's SIMD level and
// switches, blocking from CacheConfig, the session's thread pool.
GemmRuntime gemm_runtime(const KernelContext& ctx, SimdOp family);
GemmRuntime gemm_runtime(const SessionConfig& config, ThreadPool* pool, SimdOp family);

// The register tile and cache blocking sgemm uses under `rt`.
struct GemmPlanInfo {
  int mr, nr;
  int64_t mc, kc, nc;
};
GemmPlanInfo gemm_plan_info(const GemmRuntime& rt);

// alpha * op(A) packed once into the blocked panel layout for every K block, for an A that
// many sgemm calls reuse (conv weights across images, column chunks and threads).
struct PackedA {
  const float* data = nullptr;
  int64_t M = 0, K = 0;
  Isa isa = Isa::Scalar;
  int kc = 0;
  int mr = 0;  // the register tile's rows it was packed for
};
// op(B) packed once into the blocked panel layout for every K block, for a B that many sgemm
// calls reuse (a constant weight on the right of activations x weights, kept across runs).
struct PackedB {
  const float* data = nullptr;
  int64_t K = 0, N = 0;
  Isa isa = Isa::Scalar;
  int kc = 0;
  int nr = 0;  // the register tile's columns it was packed for
};
// Bytes of packing workspace sgemm needs for these sizes under `rt` (one slice per thread).
// Kernels get it from ctx.scratch() so packed panels show in the memory accounting.
size_t sgemm_workspace_bytes(const GemmRuntime& rt, int64_t M, int64_t N, int64_t K);

// The cache-blocked GEMM. `workspace`: at least sgemm_workspace_bytes(rt, M, N, K) bytes,
// any alignment. `ep` (optional) is applied exactly once per element of C. `packed_a`
// (optional, from sgemm_pack_a with the same rt, trans_a, M, K, alpha, A) skips packing A;
// `packed_b` (optional, from sgemm_pack_b with the same rt, trans_b, K, N, B) skips packing B.
void sgemm(const GemmRuntime& rt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
           float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
           float* C, int64_t ldc, void* workspace, const GemmEpilogue& ep = GemmEpilogue{},
           const PackedA* packed_a = nullptr, const PackedB* packed_b = nullptr);

// Produces B on the fly instead of reading a materialised matrix (the convolution's
// im2col): pack(self, k0, kc, j0, n, nr, dst) writes rows [k0, k0+kc) x columns [j0, j0+n)
// of B into `dst` as ceil(n / nr) panels of kc x nr floats (panel p at dst + p * kc * nr,
// row-major inside a panel), columns past n set to 0.
struct GemmBPacker {
  void (*pack)(const void* self, int64_t k0, int64_t kc, int64_t j0, int64_t n, int nr,
               float* dst) = nullptr;
  const void* self = nullptr;
};
// Whether sgemm_with_b_packer can run under `rt` (the scalar reference reads B in place only).
bool sgemm_takes_b_packer(const GemmRuntime& rt);
// sgemm with B (K x N) supplied by `b` block by block; same workspace and results as sgemm
// on the materialised B.
void sgemm_with_b_packer(const GemmRuntime& rt, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const GemmBPacker& b, float beta, float* C,
                         int64_t ldc, void* workspace, const GemmEpilogue& ep = GemmEpilogue{},
                         const PackedA* packed_a = nullptr);

// Bytes sgemm_pack_a needs under `rt`; 0 when the ISA reads A in place (scalar reference).
size_t sgemm_packed_a_bytes(const GemmRuntime& rt, int64_t M, int64_t K);
// Packs into `dst` (sgemm_packed_a_bytes bytes, any alignment), split over rt.pool.
PackedA sgemm_pack_a(const GemmRuntime& rt, bool trans_a, int64_t M, int64_t K, float alpha,
                     const float* A, int64_t lda, void* dst);

// Bytes sgemm_pack_b needs under `rt`; 0 when the ISA reads B in place (scalar reference).
size_t sgemm_packed_b_bytes(const GemmRuntime& rt, int64_t K, int64_t N);
// Packs op(B) into `dst` (sgemm_packed_b_bytes bytes, any alignment), split over rt.pool.
PackedB sgemm_pack_b(const GemmRuntime& rt, bool trans_b, int64_t K, int64_t N, const float* B,
                     int64_t ldb, void* dst);

// Applies an epilogue to an M x N block of C in place (what sgemm fuses, as a separate pass).
void apply_epilogue(float* C, int64_t ldc, int64_t M, int64_t N, const GemmEpilogue& ep);

}  // namespace tinyai
