// Vectorised exp / sigmoid / tanh / erf and the activation loops built from them, written
// with GCC/Clang generic vectors of VW floats so one source becomes SSE2, AVX2 or AVX-512
// code under each ISA file's flags. Internal linkage and no out-of-line library calls, so no
// ISA build can be merged into another by the linker (see kernels/matmul/gemm_blocked.h).
//
// Accuracy (checked in tests/test_simd_activation.py against float64): exp within 2 ulp
// (Cephes polynomial), tanh and sigmoid within a few ulp, erf within ~1e-6 absolute.
// Tails shorter than a vector go through a stack buffer: no load or store past n.
#pragma once
#include <cstdint>

#include "kernels/activation/activation_simd.h"

namespace tinyai {
namespace {  // NOLINT: one private copy per ISA translation unit, on purpose

template <int VW> struct VecTypes;
template <> struct VecTypes<4> {
  typedef float f __attribute__((vector_size(16), aligned(4), may_alias));
  typedef int32_t i __attribute__((vector_size(16), aligned(4), may_alias));
};
template <> struct VecTypes<8> {
  typedef float f __attribute__((vector_size(32), aligned(4), may_alias));
  typedef int32_t i __attribute__((vector_size(32), aligned(4), may_alias));
};
template <> struct VecTypes<16> {
  typedef float f __attribute__((vector_size(64), aligned(4), may_alias));
  typedef int32_t i __attribute__((vector_size(64), aligned(4), may_alias));
};

template <int VW>
struct VectorMath {
  using vf = typename VecTypes<VW>::f;
  using vi = typename VecTypes<VW>::i;

  static vf load(const float* p) { return *reinterpret_cast<const vf*>(p); }
  static void store(float* p, vf v) { *reinterpret_cast<vf*>(p) = v; }
  static vf splat(float x) { return vf{} + x; }
  static vf vmin(vf a, vf b) { return a < b ? a : b; }
  static vf vmax(vf a, vf b) { return a > b ? a : b; }

  static vf exp(vf x) {
    // x = n ln2 + r, |r| <= ln2/2; exp(r) by a degree-6 polynomial; 2^n from exponent bits.
    // The clamp keeps n in [-127, 128]: 2^-127 flushes to 0, 2^128 is inf.
    x = vmax(vmin(x, splat(88.3762626647950f)), splat(-88.3762626647949f));
    const vf fx = x * 1.44269504088896341f + 0.5f;
    vf n = __builtin_convertvector(__builtin_convertvector(fx, vi), vf);
    n = n > fx ? n - 1.f : n;  // floor
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const vf y = p * r * r + r + 1.f;
    const vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
    return y * reinterpret_cast<const vf&>(bits);
  }

  static vf sigmoid(vf x) { return 1.f / (1.f + exp(-x)); }

  // 13/6 rational minimax fit on [-7.9, 7.9]; odd numerator keeps tiny |x| precise.
  static vf tanh(vf x) {
    const vf xc = vmax(vmin(x, splat(7.90531110763549805f)), splat(-7.90531110763549805f));
    const vf x2 = xc * xc;
    vf p = splat(-2.76076847742355e-16f);
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * xc;
    vf q = splat(1.19825839466702e-06f);
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
  }

  // Rational approximation on [-4, 4] (erf is +-1 in float beyond), odd numerator.
  static vf erf(vf x) {
    const vf xc = vmax(vmin(x, splat(4.f)), splat(-4.f));
    const vf x2 = xc * xc;
    vf p = splat(-2.72614225801306e-10f);
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    p = p * xc;
    vf q = splat(-1.45660718464996e-05f);
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    // float erf is exactly +-1 from |x| = 3.92 on; the fit is not, and 1 + erf(x) (GELU's
    // negative tail) would keep a 1e-7 residue instead of 0.
    const vf r = p / q;
    return xc >= 3.92f ? splat(1.f) : (xc <= -3.92f ? splat(-1.f) : r);
  }

  template <ActKind kKind>
  static vf apply(vf x, ActParams a) {
    if constexpr (kKind == ActKind::Relu) return vmax(x, vf{});
    if constexpr (kKind == ActKind::LeakyRelu) return x >= 0.f ? x : x * a.alpha;
    if constexpr (kKind == ActKind::Sigmoid) return sigmoid(x);
    if constexpr (kKind == ActKind::Tanh) return tanh(x);
    if constexpr (kKind == ActKind::Gelu) return 0.5f * x * (1.f + erf(x * 0.7071067811865476f));
    if constexpr (kKind == ActKind::GeluTanh)  // 0.5 (1 + tanh z) = sigmoid(2z): no cancellation
      return x * sigmoid(1.5957691216057308f * (x + 0.044715f * x * x * x));
    if constexpr (kKind == ActKind::Silu) return x * sigmoid(x);
    if constexpr (kKind == ActKind::Exp) return exp(x);
    if constexpr (kKind == ActKind::Erf) return erf(x);
    if constexpr (kKind == ActKind::HardSigmoid)
      return vmin(splat(1.f), vmax(vf{}, x * a.alpha + a.beta));
    if constexpr (kKind == ActKind::HardSwish)
      return x * vmin(splat(1.f), vmax(vf{}, x * (1.f / 6.f) + 0.5f));
    return x;
  }

  template <ActKind kKind>
  static void map_loop(ActParams a, const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + VW <= n; i += VW) store(y + i, apply<kKind>(load(x + i), a));
    if (i < n) {
      float tail[VW] = {};
      for (int64_t j = i; j < n; ++j) tail[j - i] = x[j];
      store(tail, apply<kKind>(load(tail), a));
      for (int64_t j = i; j < n; ++j) y[j] = tail[j - i];
    }
  }

  static void map(ActKind kind, ActParams a, const float* x, float* y, int64_t n) {
    switch (kind) {
      case ActKind::Relu: return map_loop<ActKind::Relu>(a, x, y, n);
      case ActKind::LeakyRelu: return map_loop<ActKind::LeakyRelu>(a, x, y, n);
      case ActKind::Sigmoid: return map_loop<ActKind::Sigmoid>(a, x, y, n);
      case ActKind::Tanh: return map_loop<ActKind::Tanh>(a, x, y, n);
      case ActKind::Gelu: return map_loop<ActKind::Gelu>(a, x, y, n);
      case ActKind::GeluTanh: return map_loop<ActKind::GeluTanh>(a, x, y, n);
      case ActKind::Silu: return map_loop<ActKind::Silu>(a, x, y, n);
      case ActKind::Exp: return map_loop<ActKind::Exp>(a, x, y, n);
      case ActKind::Erf: return map_loop<ActKind::Erf>(a, x, y, n);
      case ActKind::HardSigmoid: return map_loop<ActKind::HardSigmoid>(a, x, y, n);
      case ActKind::HardSwish: return map_loop<ActKind::HardSwish>(a, x, y, n);
    }
  }

  static float reduce_max(vf v) {
    float m = v[0];
    for (int j = 1; j < VW; ++j) m = v[j] > m ? v[j] : m;
    return m;
  }

  static float reduce_sum(vf v) {
    float s = 0.f;
    for (int j = 0; j < VW; ++j) s += v[j];
    return s;
  }

  static void softmax_row(const float* x, float* y, int64_t n, bool log) {
    if (n <= 0) return;
    int64_t i = 0;
    vf mv = splat(x[0]);
    for (; i + VW <= n; i += VW) mv = vmax(mv, load(x + i));
    float mx = reduce_max(mv);
    for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
    // Pass 2: e = exp(x - max) (stored unless log), summed in vector lanes.
    vf sv{};
    float tail_sum = 0.f;
    i = 0;
    for (; i + VW <= n; i += VW) {
      const vf e = exp(load(x + i) - mx);
      if (!log) store(y + i, e);
      sv += e;
    }
    if (i < n) {
      float tail[VW];
      for (int j = 0; j < VW; ++j) tail[j] = i + j < n ? x[i + j] - mx : -100.f;
      store(tail, exp(load(tail)));
      for (int64_t j = i; j < n; ++j) {
        if (!log) y[j] = tail[j - i];
        tail_sum += tail[j - i];
      }
    }
    const float sum = reduce_sum(sv) + tail_sum;
    if (log) {
      const float shift = mx + __builtin_logf(sum);
      for (int64_t j = 0; j < n; ++j) y[j] = x[j] - shift;
      return;
    }
    const vf inv = splat(1.f / sum);
    i = 0;
    for (; i + VW <= n; i += VW) store(y + i, load(y + i) * inv);
    for (; i < n; ++i) y[i] *= inv[0];
  }
};

}  // namespace
}  // namespace tinyai
