// CRC-32 folding on 256-bit registers (VPCLMULQDQ with AVX2): for CPUs that have the vector
// carry-less multiply but not AVX-512 (AMD Zen 3, Intel Alder Lake and later client cores).
// Four registers of two 128-bit lanes fold 128 bytes per step, twice the PCLMULQDQ kernel's
// stride; then the registers fold into one, its lanes into one, and crc32_finish_pclmul does
// the rest. Constants as in crc32_pclmul.cpp: folding a lane forward by D bits multiplies its
// low qword by reflect32(x^(D+32) mod P) << 1 and its high one by reflect32(x^(D-32) mod P) << 1.
// Compiled with -mavx2 -mvpclmulqdq; only called after the run-time check in crc32.cpp.
#include <immintrin.h>

#include "loader/crc32_impl.h"

namespace tinyai {

namespace {
// D = 1024 (8 lanes, 128 bytes), D = 256 (one register), D = 128 (one lane).
constexpr uint64_t kFold1024Lo = 0x01e88ef372ull, kFold1024Hi = 0x014a7fe880ull;
constexpr uint64_t kFold256Lo = 0x00f1da05aaull, kFold256Hi = 0x015a546366ull;
constexpr uint64_t kFold128Lo = 0x01751997d0ull, kFold128Hi = 0x00ccaa009eull;

__m256i load256(const unsigned char* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

__m256i fold256(__m256i x, __m256i k, __m256i next) {
  const __m256i lo = _mm256_clmulepi64_epi128(x, k, 0x00);
  const __m256i hi = _mm256_clmulepi64_epi128(x, k, 0x11);
  return _mm256_xor_si256(_mm256_xor_si256(lo, hi), next);
}

__m128i fold128(__m128i x, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

__m256i broadcast(uint64_t lo, uint64_t hi) {
  return _mm256_broadcastsi128_si256(
      _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo)));
}
}  // namespace

uint32_t crc32_fold_vpclmul256(uint32_t state, const unsigned char* buf, size_t n) {
  __m256i x0 = _mm256_xor_si256(
      load256(buf), _mm256_zextsi128_si256(_mm_cvtsi32_si128(static_cast<int>(state))));
  __m256i x1 = load256(buf + 32), x2 = load256(buf + 64), x3 = load256(buf + 96);
  buf += 128;
  n -= 128;
  const __m256i k1024 = broadcast(kFold1024Lo, kFold1024Hi);
  while (n >= 128) {  // four independent registers keep the multiplier busy
    x0 = fold256(x0, k1024, load256(buf));
    x1 = fold256(x1, k1024, load256(buf + 32));
    x2 = fold256(x2, k1024, load256(buf + 64));
    x3 = fold256(x3, k1024, load256(buf + 96));
    buf += 128;
    n -= 128;
  }
  const __m256i k256 = broadcast(kFold256Lo, kFold256Hi);
  x0 = fold256(x0, k256, x1);
  x0 = fold256(x0, k256, x2);
  x0 = fold256(x0, k256, x3);
  while (n >= 32) {
    x0 = fold256(x0, k256, load256(buf));
    buf += 32;
    n -= 32;
  }
  // The register's two lanes, earliest first, into one.
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kFold128Hi),
                                      static_cast<long long>(kFold128Lo));
  const __m128i x = fold128(_mm256_castsi256_si128(x0), k128, _mm256_extracti128_si256(x0, 1));
  return crc32_finish_pclmul(x, buf, n);
}

}  // namespace tinyai
