// Activation-family vector kernels built for the architecture's baseline 128-bit vectors
// (SSE2 / NEON, no extra flags), and the ISA dispatch for the family.
#include "kernels/activation/activation_vector_math.h"
#include "tinyai/thread_pool.h"

namespace tinyai {

// Constant-initialised: taking the table needs no code compiled for this ISA.
const ActivationKernels kActivationBaseline{&VectorMath<4>::map, &VectorMath<4>::softmax_row};

const ActivationKernels& activation_kernels(Isa isa) {
#if TINYAI_X86_KERNELS
  if (isa == Isa::Avx512) return kActivationAvx512f;
  if (isa == Isa::Avx2) return kActivationAvx2Fma;
#endif
#if TINYAI_NEON_KERNELS
  if (isa != Isa::Scalar) return kActivationNeon;
#endif
  (void)isa;
  return kActivationBaseline;
}

void activation_map(ThreadPool* pool, Isa isa, ActKind kind, ActParams params, const float* x,
                    float* y, int64_t n) {
  const ActivationKernels& k = activation_kernels(isa);
  // Chunks of a few pages: big enough to amortise a wake-up, small enough to balance.
  constexpr int64_t kGrain = 16 * 1024;
  if (!pool || n < 2 * kGrain) {
    k.map(kind, params, x, y, n);
    return;
  }
  pool->parallel_for(n, kGrain, [&](int64_t i0, int64_t i1) {
    k.map(kind, params, x + i0, y + i0, i1 - i0);
  });
}

}  // namespace tinyai
