// Standalone check of the AArch64 NEON kernels against the scalar references, for machines
// without an arm64 CPU: tests/test_neon_cross.py cross-compiles this file with
// gemm_neon.cpp, gemm_scalar.cpp and activation_neon.cpp (aarch64-linux-gnu-g++ -static) and
// runs it under qemu-aarch64. Prints one line per case and exits non-zero on a mismatch.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/activation/activation_simd.h"
#include "kernels/matmul/gemm_kernel.h"

using namespace tinyai;
using namespace tinyai::gemm_detail;

namespace {

unsigned g_seed = 12345;
float rnd() {  // deterministic, in [-1, 1)
  g_seed = g_seed * 1103515245u + 12345u;
  return static_cast<float>((g_seed >> 8) & 0xffff) / 32768.f - 1.f;
}

struct Case {
  int64_t M, N, K;
  bool ta, tb;
  float alpha, beta;
  bool row_bias, col_bias, relu;
  int64_t kc;  // K block: smaller than K exercises the K-block accumulation
  bool addend = false;  // the fused residual input Z, added before the activation
};

// C = op of `k` on a copy of C0; returns C.
std::vector<float> run(const GemmKernel& k, const Case& c, const std::vector<float>& A,
                       const std::vector<float>& B, const std::vector<float>& C0,
                       const std::vector<float>& rb, const std::vector<float>& cb,
                       const std::vector<float>& z) {
  std::vector<float> C = C0;
  GemmCall call;
  call.g = GemmArgs{c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), c.ta ? c.M : c.K,
                    B.data(), c.tb ? c.K : c.N, c.beta, C.data(), c.N};
  call.bl = Blocking{4 * k.mr, c.kc, 4 * k.nr};
  call.ep.row_bias = c.row_bias ? rb.data() : nullptr;
  call.ep.col_bias = c.col_bias ? cb.data() : nullptr;
  call.ep.addend = c.addend ? z.data() : nullptr;
  call.ep.activation = c.relu ? GemmActivation::Relu : GemmActivation::None;
  std::vector<char> ws(workspace_bytes(c.M, c.N, c.K, call.bl, k.mr, k.nr) + c.N * 4 + 64);
  call.workspace = ws.data();
  k.run(call);
  return C;
}

bool check_gemm(const Case& c) {
  std::vector<float> A(c.M * c.K), B(c.K * c.N), C0(c.M * c.N), rb(c.M), cb(c.N), z(c.M * c.N);
  for (auto& x : A) x = rnd();
  for (auto& x : B) x = rnd();
  for (auto& x : C0) x = rnd();
  for (auto& x : rb) x = rnd();
  for (auto& x : cb) x = rnd();
  for (auto& x : z) x = rnd();
  const std::vector<float> ref = run(gemm_kernel_scalar(), c, A, B, C0, rb, cb, z);
  const std::vector<float> got = run(kGemmNeon, c, A, B, C0, rb, cb, z);
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) worst = std::fmax(worst, std::fabs(ref[i] - got[i]));
  const double tol = 1e-5 * (c.K + 1);  // summation order differs: relative to K terms of |1|
  const bool ok = worst <= tol;
  std::printf("%s gemm M=%lld N=%lld K=%lld ta=%d tb=%d beta=%g bias=%d%d relu=%d z=%d kc=%lld max_err=%.3g\n",
              ok ? "ok  " : "FAIL", (long long)c.M, (long long)c.N, (long long)c.K, c.ta, c.tb, c.beta,
              c.row_bias, c.col_bias, c.relu, c.addend, (long long)c.kc, worst);
  return ok;
}

bool check_activation() {
  bool ok = true;
  std::vector<float> x(1003), y(1003);
  for (size_t i = 0; i < x.size(); ++i) x[i] = -90.f + 180.f * static_cast<float>(i) / 1002.f;
  kActivationNeon.map(ActKind::Exp, ActParams{}, x.data(), y.data(), static_cast<int64_t>(x.size()));
  double worst_rel = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = std::exp(static_cast<double>(x[i]));
    if (ref < 1e-37 || ref > 1e38) continue;  // flushed or clamped ends
    worst_rel = std::fmax(worst_rel, std::fabs(y[i] - ref) / ref);
  }
  ok &= worst_rel < 4 * 1.2e-7;
  std::printf("%s exp over [-90, 90] max_rel_err=%.3g\n", worst_rel < 4 * 1.2e-7 ? "ok  " : "FAIL", worst_rel);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) x[i] = -9.f + 18.f * static_cast<float>(i) / 1002.f;
  kActivationNeon.map(ActKind::Sigmoid, ActParams{}, x.data(), y.data(), static_cast<int64_t>(x.size()));
  for (size_t i = 0; i < x.size(); ++i) worst = std::fmax(worst, std::fabs(y[i] - 1.0 / (1.0 + std::exp(-x[i]))));
  ok &= worst < 1e-6;
  std::printf("%s sigmoid over [-9, 9] max_abs_err=%.3g\n", worst < 1e-6 ? "ok  " : "FAIL", worst);
  std::vector<float> row(37);
  for (auto& v : row) v = 4 * rnd();
  std::vector<float> sm(row.size());
  kActivationNeon.softmax_row(row.data(), sm.data(), static_cast<int64_t>(row.size()), false);
  double mx = row[0], sum = 0;
  for (float v : row) mx = std::fmax(mx, v);
  for (float v : row) sum += std::exp(v - mx);
  worst = 0;
  for (size_t i = 0; i < row.size(); ++i) worst = std::fmax(worst, std::fabs(sm[i] - std::exp(row[i] - mx) / sum));
  ok &= worst < 1e-6;
  std::printf("%s softmax row of 37 max_abs_err=%.3g\n", worst < 1e-6 ? "ok  " : "FAIL", worst);
  return ok;
}

}  // namespace

int main() {
  const Case cases[] = {
      {8, 12, 16, false, false, 1.f, 0.f, false, false, false, 512},   // one full tile
      {1, 1, 1, false, false, 1.f, 0.f, false, false, false, 512},     // smallest
      {37, 29, 53, false, false, 1.f, 0.f, false, false, false, 512},  // edge tiles both ways
      {37, 29, 53, true, true, 0.5f, 1.f, false, false, false, 16},    // transposes, K blocks, beta 1
      {64, 48, 100, false, true, 1.f, 0.25f, true, false, true, 32},   // row bias + relu, beta
      {19, 100, 33, true, false, 2.f, 0.f, false, true, false, 8},     // col bias, alpha
      {96, 96, 96, false, false, 1.f, 0.f, true, true, true, 40},      // several blocks, all epilogues
      {37, 29, 53, false, false, 1.f, 0.f, false, true, true, 16, true},  // residual Z + relu, edges
  };
  bool ok = true;
  for (const Case& c : cases) ok &= check_gemm(c);
  ok &= check_activation();
  std::printf("%s\n", ok ? "ALL OK" : "MISMATCH");
  return ok ? 0 : 1;
}
