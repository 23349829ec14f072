// GFLOP/s of the AVX-512 GEMM driver (gemm_blocked.h) with different register tiles on the
// conv shapes (M = output channels, N = output pixels, K = input channels x kernel taps) of
// squeezenet, densenet121 and resnet50, A pre-packed as the conv kernel keeps it. This is
// how the 16x16 tile in gemm_avx512.cpp was chosen. Best of 30 runs, one thread:
//
//   g++ -O3 -mavx512f -mavx2 -mfma -std=c++17 -Icore_native/src -Icore_native/include
//       benchmarks/gemm_tile_sweep.cpp -o /tmp/gemm_tile_sweep    (one line)
//   /tmp/gemm_tile_sweep
#include <chrono>
#include <cstdio>
#include <vector>
#include <cstdlib>
#include "kernels/matmul/gemm_blocked.h"
using namespace tinyai::gemm_detail;
template <int MR, int NR>
double bench(int64_t M, int64_t N, int64_t K, int reps) {
  using G = BlockedGemm<16, MR, NR>;
  std::vector<float> A(M*K), B(K*N), C(M*N);
  for (auto& v : A) v = rand() / (float)RAND_MAX;
  for (auto& v : B) v = rand() / (float)RAND_MAX;
  GemmCall call;
  call.g = GemmArgs{false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N};
  int64_t kc = 512;
  int64_t mc = std::max<int64_t>(MR, (1<<20)/2/(kc*4)/MR*MR);
  int64_t nc = std::max<int64_t>(4*NR, (1<<20)/(kc*4)/NR*NR);
  call.bl = Blocking{mc, kc, nc};
  std::vector<char> ws(workspace_bytes(M,N,K,call.bl,MR,NR));
  call.workspace = ws.data();
  // pre-pack A like the conv does
  std::vector<float> pa(round_up(M, MR) * K + 64);
  G::pack_a_rows(call.g, call.bl, 0, M, pa.data());
  call.packed_a = pa.data(); call.packed_a_rows = round_up(M, MR);
  for (int i = 0; i < 2; ++i) G::run(call);
  double best = 1e9;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    G::run(call);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  return 2.0 * M * N * K / best / 1e9;
}
int main() {
  int64_t shapes[][3] = {{16,3025,128},{64,3025,16},{64,3025,144},{32,729,256},{128,729,32},{128,729,288},
                         {48,169,384},{192,169,48},{192,169,432},{64,169,512},{256,169,64},{256,169,576},
                         {32,784,1152},{128,784,256},{32,196,1152},{128,196,512},{32,49,1152},{128,49,800},
                         {64,3136,64},{256,784,128},{512,196,256},{2048,49,512},{512,49,4608},{256,196,2304},{1024,1024,1024}};
  for (auto& s : shapes) {
    double a = bench<14,32>(s[0],s[1],s[2], 30);
    double b = bench<8,32>(s[0],s[1],s[2], 30);
    double c = bench<16,16>(s[0],s[1],s[2], 30);
    double d = bench<4,64>(s[0],s[1],s[2], 30);
    printf("M=%5ld N=%5ld K=%5ld  14x32 %6.1f  8x32 %6.1f  16x16 %6.1f  4x64 %6.1f GF/s\n", s[0], s[1], s[2], a, b, c, d);
  }
}
