// Activation-family vector kernels for NEON (AArch64, SIMD levels 1-3). Built on arm64 only
// (CMakeLists.txt) and chosen by activation_kernels() when TINYAI_NEON_KERNELS is set.
//
// The loops and the tanh/erf rational fits are the shared generic-vector sources
// (activation_vector_math.h) at 4 lanes; exp, which sigmoid, SiLU, GELU-tanh and softmax all
// go through, is replaced by a NEON version: frintm for the floor (one instruction instead of
// convert, convert back, compare and subtract) and fused multiply-adds for the polynomial.
// Same Cephes range reduction and polynomial, so the same accuracy bound (2 ulp).
#if !defined(__aarch64__)
#error "activation_neon.cpp is for AArch64 only; CMakeLists.txt builds it on arm64 alone"
#endif

#include <arm_neon.h>

#include "kernels/activation/activation_vector_math.h"

namespace tinyai {
namespace {  // NOLINT: the same anonymous namespace as activation_vector_math.h's

using NeonMath = VectorMath<4>;

}  // namespace

template <>
NeonMath::vf NeonMath::exp(vf xv) {
  float32x4_t x = xv;
  x = vmaxq_f32(vminq_f32(x, vdupq_n_f32(88.3762626647950f)), vdupq_n_f32(-88.3762626647949f));
  // n = floor(x / ln2 + 1/2); r = x - n ln2 in two parts (Cody-Waite).
  const float32x4_t n = vrndmq_f32(vfmaq_n_f32(vdupq_n_f32(0.5f), x, 1.44269504088896341f));
  float32x4_t r = vfmsq_n_f32(x, n, 0.693359375f);
  r = vfmsq_n_f32(r, n, -2.12194440e-4f);
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  const float32x4_t y = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.f));
  // 2^n from the exponent bits; the clamp keeps n in [-127, 128].
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vmulq_f32(y, vreinterpretq_f32_s32(bits));
}

// Constant-initialised: taking the table needs no code compiled for this ISA.
const ActivationKernels kActivationNeon{&NeonMath::map, &NeonMath::softmax_row};

}  // namespace tinyai
