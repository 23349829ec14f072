// The ACTIVATION family's vector kernels: pointwise activations and softmax rows, one
// interface, one build per ISA (activation_baseline.cpp, activation_avx2.cpp,
// activation_avx512.cpp), chosen by activation_kernels(isa). SIMD level 0 (or the family
// switched off) keeps the scalar reference functors, which use libm.
#pragma once
#include <cstdint>

#include "simd/dispatch.h"

namespace tinyai {

enum class ActKind {
  Relu,
  LeakyRelu,    // alpha
  Sigmoid,
  Tanh,
  Gelu,         // 0.5 x (1 + erf(x / sqrt 2))
  GeluTanh,     // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  Silu,         // x * sigmoid(x)
  Exp,
  Erf,
  HardSigmoid,  // alpha, beta
  HardSwish,
};

struct ActParams {
  float alpha = 0.f, beta = 0.f;
};

struct ActivationKernels {
  // y[i] = f(x[i]) for i < n (x == y allowed).
  void (*map)(ActKind kind, ActParams p, const float* x, float* y, int64_t n);
  // y = exp(x - max(x)) / sum over a contiguous row of n (x == y allowed); log: y = x - lse.
  void (*softmax_row)(const float* x, float* y, int64_t n, bool log);
};

class ThreadPool;

// y = f(x) over n floats with `isa`'s vector loop, split over `pool` (may be null) when large.
void activation_map(ThreadPool* pool, Isa isa, ActKind kind, ActParams params, const float* x,
                    float* y, int64_t n);

// The table for `isa` (Scalar falls back to Baseline: callers keep their own reference).
const ActivationKernels& activation_kernels(Isa isa);

extern const ActivationKernels kActivationBaseline;
// Built on x86-64 only, with their own target flags (TINYAI_X86_KERNELS).
extern const ActivationKernels kActivationAvx2Fma;
extern const ActivationKernels kActivationAvx512f;
// Built on AArch64 only (TINYAI_NEON_KERNELS): every vector level there.
extern const ActivationKernels kActivationNeon;

}  // namespace tinyai
