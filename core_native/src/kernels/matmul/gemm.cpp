// The one GEMM dispatch point: picks the ISA kernel (runtime.isa, already capped by cpuid),
// derives cache blocking from CacheConfig and the detected caches, splits the problem over
// the thread pool, and fuses or applies the epilogue.
#include "kernels/matmul/gemm.h"

#include <algorithm>
#include <atomic>
#include <memory>

#include "kernels/matmul/gemm_kernel.h"
#include "simd/cache_model.h"
#include "simd/cpu_info.h"
#include "tinyai/op.h"
#include "tinyai/thread_pool.h"

namespace tinyai {

using gemm_detail::Blocking;
using gemm_detail::GemmArgs;
using gemm_detail::GemmCall;
using gemm_detail::GemmKernel;

namespace {

// Below this many multiply-adds a GEMM runs on one thread: waking workers costs more.
constexpr int64_t kMinParallelMacs = 1 << 17;
constexpr int kLineFloats = 16;
// Parts per thread when a GEMM is split (see dispatch); the pool runs at most `threads` at once.
constexpr int64_t kPartsPerThread = 4;

const GemmKernel& kernel_for(const GemmRuntime& rt) {
  const Isa isa = rt.isa;
#if TINYAI_X86_KERNELS
  if (isa == Isa::Avx512)
    return rt.wide_tile ? gemm_detail::kGemmAvx512fWide : gemm_detail::kGemmAvx512f;
  if (isa == Isa::Avx2) return gemm_detail::kGemmAvx2Fma;
#endif
#if TINYAI_NEON_KERNELS
  if (isa != Isa::Scalar) return gemm_detail::kGemmNeon;  // NEON serves every vector level
#endif
  if (isa == Isa::Scalar) return gemm_detail::gemm_kernel_scalar();
  return gemm_detail::gemm_kernel_baseline();
}

// kc from the runtime; mc so the packed A block fills about half of L2; nc so the packed B
// block is about one L2 (it is re-read once per A block, from L2/L3), bounded so the
// workspace stays a few MiB however large the matrices are.
Blocking blocking_for(const GemmKernel& k, int kc_pref) {
  const CacheSizes& c = cpu_info().caches;
  const int64_t kc = std::clamp<int64_t>(kc_pref, 16, 4096);
  const int64_t mc = std::clamp<int64_t>(c.l2_bytes / 2 / (kc * 4) / k.mr * k.mr, k.mr, 64 * k.mr);
  const int64_t nc = std::clamp<int64_t>(c.l2_bytes / (kc * 4) / k.nr * k.nr, 4 * k.nr, 256 * k.nr);
  return {mc, kc, nc};
}

size_t slice_bytes(const GemmKernel& k, const Blocking& bl, int64_t M, int64_t N, int64_t K) {
  if (k.isa == Isa::Scalar)
    return static_cast<size_t>(std::max<int64_t>(N, 1)) * sizeof(float) + gemm_detail::kWorkspaceAlign;
  return gemm_detail::workspace_bytes(M, N, K, bl, k.mr, k.nr);
}

int thread_count(const GemmRuntime& rt) { return rt.pool ? rt.pool->size() : 1; }

// The [i0, i0+m) x [j0, j0+n) block of a call as a call of its own.
GemmCall sub_call(const GemmCall& c, int64_t i0, int64_t m, int64_t j0, int64_t n) {
  GemmCall s = c;
  GemmArgs& g = s.g;
  g.M = m;
  g.N = n;
  g.A = c.g.A + (c.g.trans_a ? i0 : i0 * c.g.lda);
  if (c.g.B) g.B = c.g.B + (c.g.trans_b ? j0 * c.g.ldb : j0);  // null: a B packer
  s.b_col0 += j0;
  g.C = c.g.C + i0 * c.g.ldc + j0;
  s.packed_a_row0 += i0;
  s.packed_b_col0 += j0;
  if (s.ep.row_bias) s.ep.row_bias += i0;
  if (s.ep.col_bias) s.ep.col_bias += j0;
  if (s.ep.addend) s.ep.addend += i0 * c.g.ldc + j0;
  return s;
}

// `vector_product`: the whole product (not just this part) has one row or column. Only then
// may the in-place matrix-vector path run: a part of a matrix product that happens to be one
// row wide must sum in the blocked kernel's order, or results would depend on the split.
void run_one(const GemmKernel& k, const GemmCall& call, bool fuse, bool vector_product) {
  if (vector_product && !call.b_packer && k.gemv(call)) {
    apply_epilogue(call.g.C, call.g.ldc, call.g.M, call.g.N, call.ep);
    return;
  }
  if (fuse || k.isa == Isa::Scalar) {
    k.run(call);
    return;
  }
  GemmCall plain = call;
  plain.ep = GemmEpilogue{};
  k.run(plain);
  apply_epilogue(call.g.C, call.g.ldc, call.g.M, call.g.N, call.ep);
}

// The first workspace-aligned float at or after `dst` (packing buffers may come unaligned).
float* aligned_floats(void* dst) {
  auto addr = reinterpret_cast<uintptr_t>(dst);
  addr = (addr + gemm_detail::kWorkspaceAlign - 1) &
         ~static_cast<uintptr_t>(gemm_detail::kWorkspaceAlign - 1);
  return reinterpret_cast<float*>(addr);
}

GemmCall make_call(const GemmRuntime& rt, const GemmArgs& g, void* workspace,
                   const GemmEpilogue& ep, const PackedA* packed_a, const PackedB* packed_b) {
  const GemmKernel& k = kernel_for(rt);
  GemmCall call;
  call.g = g;
  call.bl = blocking_for(k, rt.kc);
  call.ep = ep;
  call.prefetch_floats = rt.prefetch_lines * kLineFloats;
  call.workspace = workspace;
  if (packed_a && packed_a->data && packed_a->isa == k.isa && packed_a->kc == rt.kc &&
      packed_a->mr == k.mr && packed_a->M == g.M && packed_a->K == g.K) {
    call.packed_a = packed_a->data;
    call.packed_a_rows = gemm_detail::round_up(g.M, k.mr);
  }
  if (packed_b && packed_b->data && packed_b->isa == k.isa && packed_b->kc == rt.kc &&
      packed_b->nr == k.nr && packed_b->K == g.K && packed_b->N == g.N) {
    call.packed_b = packed_b->data;
    call.packed_b_cols = gemm_detail::round_up(g.N, k.nr);
  }
  return call;
}

void dispatch(const GemmRuntime& rt, const GemmCall& call) {
  const GemmKernel& k = kernel_for(rt);
  const int64_t M = call.g.M, N = call.g.N, K = call.g.K;
  cache_model_record_gemm(k.isa, M, N, K, call.bl.mc, call.bl.kc, call.bl.nc, k.mr, k.nr,
                          call.g.beta == 0.f);

  const bool vector_product = M == 1 || N == 1;
  const int threads = thread_count(rt);
  if (threads == 1 || M * N * K < kMinParallelMacs) {
    run_one(k, call, rt.fuse, vector_product);
    return;
  }
  // Split the dimension whose split duplicates the smaller packing: threads splitting N each
  // pack all of A (M x K), threads splitting M each pack all of B (K x N). A pre-packed
  // operand costs nothing to share, so then the other one is split: with B pre-packed (kept
  // MatMul weights) M, with A pre-packed (conv weights) N -- each thread packs only its own
  // columns of B, where an M split had every thread pack all of it (ResNet-50's deep layers,
  // M > N, scaled 1.6x on 2 threads that way).
  const int64_t n_units = (N + k.nr - 1) / k.nr, m_units = (M + k.mr - 1) / k.mr;
  const bool b_only_packed = call.packed_b && !call.packed_a;
  const bool a_only_packed = call.packed_a && !call.packed_b;
  const bool prefer_n = a_only_packed || (!b_only_packed && M <= N);
  const bool split_n = (prefer_n && n_units >= threads) || m_units < threads;
  const int64_t units = split_n ? n_units : m_units;
  const int64_t unit = split_n ? k.nr : k.mr;
  const size_t slice = slice_bytes(k, call.bl, M, N, K);
  // When the operand every part needs is pre-packed, parts cost nothing extra: then a few
  // per thread, taken dynamically, so a thread that loses its core for a moment (a shared or
  // virtual machine) delays one small part instead of half the product. Otherwise exactly one
  // part per thread (each would pack the other operand again). At most `threads` parts run at
  // once, so each takes a free one of the `threads` workspace slices and hands it back.
  const bool shared_packed = split_n ? call.packed_a != nullptr : call.packed_b != nullptr;
  const int64_t parts = std::min<int64_t>((shared_packed ? kPartsPerThread : 1) * threads, units);
  std::unique_ptr<std::atomic<bool>[]> slice_busy(new std::atomic<bool>[threads]());
  rt.pool->parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    int slot = 0;
    while (slice_busy[slot].exchange(true, std::memory_order_acquire)) slot = (slot + 1) % threads;
    char* workspace = static_cast<char*>(call.workspace) + slice * static_cast<size_t>(slot);
    for (int64_t q = p0; q < p1; ++q) {
      const int64_t u0 = units * q / parts, u1 = units * (q + 1) / parts;
      GemmCall part = split_n ? sub_call(call, 0, M, u0 * unit, std::min(N, u1 * unit) - u0 * unit)
                              : sub_call(call, u0 * unit, std::min(M, u1 * unit) - u0 * unit, 0, N);
      part.workspace = workspace;
      run_one(k, part, rt.fuse, vector_product);
    }
    slice_busy[slot].store(false, std::memory_order_release);
  });
}

}  // namespace

GemmRuntime gemm_runtime(const SessionConfig& c, ThreadPool* pool, SimdOp family) {
  GemmRuntime rt;
  rt.isa = select_isa(c, family);
  // CacheConfig.block_size counts 8-float steps of the K blocking: the default 64 is kc = 512.
  rt.kc = std::max(1, c.cache.block_size) * 8;
  rt.prefetch_lines = use_prefetch(c, family) ? c.cache.prefetch_distance : 0;
  rt.fuse = use_fusion(c, family);
  rt.pool = pool;
  rt.wide_tile = family != SimdOp::Conv;
  return rt;
}

GemmRuntime gemm_runtime(const KernelContext& ctx, SimdOp family) {
  return gemm_runtime(ctx.config(), ctx.pool(), family);
}

GemmPlanInfo gemm_plan_info(const GemmRuntime& rt) {
  const GemmKernel& k = kernel_for(rt);
  const Blocking bl = blocking_for(k, rt.kc);
  return {k.mr, k.nr, bl.mc, bl.kc, bl.nc};
}

size_t sgemm_workspace_bytes(const GemmRuntime& rt, int64_t M, int64_t N, int64_t K) {
  const GemmKernel& k = kernel_for(rt);
  return slice_bytes(k, blocking_for(k, rt.kc), M, N, K) * static_cast<size_t>(thread_count(rt));
}

size_t sgemm_packed_a_bytes(const GemmRuntime& rt, int64_t M, int64_t K) {
  const GemmKernel& k = kernel_for(rt);
  if (k.isa == Isa::Scalar || M <= 0 || K <= 0) return 0;
  return static_cast<size_t>(gemm_detail::round_up(M, k.mr) * K) * sizeof(float) +
         gemm_detail::kWorkspaceAlign;
}

PackedA sgemm_pack_a(const GemmRuntime& rt, bool trans_a, int64_t M, int64_t K, float alpha,
                     const float* A, int64_t lda, void* dst) {
  const GemmKernel& k = kernel_for(rt);
  const Blocking bl = blocking_for(k, rt.kc);
  float* out = aligned_floats(dst);
  const GemmArgs g{trans_a, false, M, 0, K, alpha, A, lda, nullptr, 0, 0.f, nullptr, 0};
  const int64_t panels = (M + k.mr - 1) / k.mr;
  auto pack = [&](int64_t p0, int64_t p1) {
    k.pack_a_rows(g, bl, p0 * k.mr, std::min(M, p1 * k.mr), out);
  };
  if (rt.pool && M * K >= kMinParallelMacs / 8)
    rt.pool->parallel_for(panels, 1, pack);
  else
    pack(0, panels);
  return PackedA{out, M, K, k.isa, rt.kc, k.mr};
}

size_t sgemm_packed_b_bytes(const GemmRuntime& rt, int64_t K, int64_t N) {
  const GemmKernel& k = kernel_for(rt);
  if (k.isa == Isa::Scalar || K <= 0 || N <= 0) return 0;
  return static_cast<size_t>(gemm_detail::round_up(N, k.nr) * K) * sizeof(float) +
         gemm_detail::kWorkspaceAlign;
}

PackedB sgemm_pack_b(const GemmRuntime& rt, bool trans_b, int64_t K, int64_t N, const float* B,
                     int64_t ldb, void* dst) {
  const GemmKernel& k = kernel_for(rt);
  const Blocking bl = blocking_for(k, rt.kc);
  float* out = aligned_floats(dst);
  const GemmArgs g{false, trans_b, 0, N, K, 1.f, nullptr, 0, B, ldb, 0.f, nullptr, 0};
  const int64_t panels = (N + k.nr - 1) / k.nr;
  auto pack = [&](int64_t p0, int64_t p1) {
    k.pack_b_cols(g, bl, p0 * k.nr, std::min(N, p1 * k.nr), out);
  };
  if (rt.pool && K * N >= kMinParallelMacs / 8)
    rt.pool->parallel_for(panels, 1, pack);
  else
    pack(0, panels);
  return PackedB{out, K, N, k.isa, rt.kc, k.nr};
}

void apply_epilogue(float* C, int64_t ldc, int64_t M, int64_t N, const GemmEpilogue& ep) {
  if (ep.empty()) return;
  const bool relu = ep.activation == GemmActivation::Relu;
  for (int64_t i = 0; i < M; ++i) {
    float* c = C + i * ldc;
    const float* z = ep.addend ? ep.addend + i * ldc : nullptr;
    const float rb = ep.row_bias ? ep.row_bias[i] : 0.f;
    for (int64_t j = 0; j < N; ++j) {
      float v = c[j] + rb;
      if (ep.col_bias) v += ep.col_bias[j];
      if (z) v += z[j];
      c[j] = relu && v < 0.f ? 0.f : v;
    }
  }
}

void sgemm(const GemmRuntime& rt, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
           float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
           float* C, int64_t ldc, void* workspace, const GemmEpilogue& ep,
           const PackedA* packed_a, const PackedB* packed_b) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {  // C = beta * C, then the epilogue
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    apply_epilogue(C, ldc, M, N, ep);
    return;
  }
  GemmCall call = make_call(rt, GemmArgs{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta,
                                         C, ldc},
                            workspace, ep, packed_a, packed_b);
  dispatch(rt, call);
}

bool sgemm_takes_b_packer(const GemmRuntime& rt) { return kernel_for(rt).isa != Isa::Scalar; }

void sgemm_with_b_packer(const GemmRuntime& rt, int64_t M, int64_t N, int64_t K, float alpha,
                         const float* A, int64_t lda, const GemmBPacker& b, float beta, float* C,
                         int64_t ldc, void* workspace, const GemmEpilogue& ep,
                         const PackedA* packed_a) {
  if (!sgemm_takes_b_packer(rt))
    throw ExecutionError("sgemm_with_b_packer: the scalar GEMM reads B in place, it cannot take a packer");
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.f) {
    sgemm(rt, false, false, M, N, 0, 1.f, A, lda, nullptr, N, beta, C, ldc, workspace, ep);
    return;
  }
  GemmCall call = make_call(rt, GemmArgs{false, false, M, N, K, alpha, A, lda, nullptr, 0, beta,
                                         C, ldc},
                            workspace, ep, packed_a, nullptr);
  call.b_packer = &b;
  dispatch(rt, call);
}

}  // namespace tinyai
