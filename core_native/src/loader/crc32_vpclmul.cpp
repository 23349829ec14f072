// CRC-32 folding on 512-bit registers (VPCLMULQDQ with AVX-512): four registers of four
// 128-bit lanes fold 256 bytes per step, four times the PCLMULQDQ kernel's stride, so the
// checksum every loader read pays takes a fraction of the time. The lanes then fold into one
// register, that register's lanes into one, and crc32_finish_pclmul does the rest.
// Constants as in crc32_pclmul.cpp: folding a lane forward by D bits multiplies its low qword
// by reflect32(x^(D+32) mod P) << 1 and its high one by reflect32(x^(D-32) mod P) << 1.
// Compiled with -mavx512f -mavx512vl -mvpclmulqdq; only called after the run-time check in
// crc32.cpp.
#include <immintrin.h>

#include "loader/crc32_impl.h"

namespace tinyai {

namespace {
// D = 2048 (16 lanes, 256 bytes), D = 512 (one register), D = 128 (one lane).
constexpr uint64_t kFold2048Lo = 0x011542778aull, kFold2048Hi = 0x01322d1430ull;
constexpr uint64_t kFold512Lo = 0x0154442bd4ull, kFold512Hi = 0x01c6e41596ull;
constexpr uint64_t kFold128Lo = 0x01751997d0ull, kFold128Hi = 0x00ccaa009eull;

__m512i load512(const unsigned char* p) { return _mm512_loadu_si512(p); }

__m512i fold512(__m512i x, __m512i k, __m512i next) {
  const __m512i lo = _mm512_clmulepi64_epi128(x, k, 0x00);
  const __m512i hi = _mm512_clmulepi64_epi128(x, k, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, next, 0x96);  // lo ^ hi ^ next
}

__m128i fold128(__m128i x, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

__m512i broadcast(uint64_t lo, uint64_t hi) {
  return _mm512_broadcast_i32x4(_mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo)));
}
}  // namespace

uint32_t crc32_fold_vpclmul(uint32_t state, const unsigned char* buf, size_t n) {
  __m512i x0 = _mm512_xor_si512(
      load512(buf), _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(state))));
  __m512i x1 = load512(buf + 64), x2 = load512(buf + 128), x3 = load512(buf + 192);
  buf += 256;
  n -= 256;
  const __m512i k2048 = broadcast(kFold2048Lo, kFold2048Hi);
  while (n >= 256) {  // four independent registers keep the multiplier busy
    x0 = fold512(x0, k2048, load512(buf));
    x1 = fold512(x1, k2048, load512(buf + 64));
    x2 = fold512(x2, k2048, load512(buf + 128));
    x3 = fold512(x3, k2048, load512(buf + 192));
    buf += 256;
    n -= 256;
  }
  const __m512i k512 = broadcast(kFold512Lo, kFold512Hi);
  x0 = fold512(x0, k512, x1);
  x0 = fold512(x0, k512, x2);
  x0 = fold512(x0, k512, x3);
  while (n >= 64) {
    x0 = fold512(x0, k512, load512(buf));
    buf += 64;
    n -= 64;
  }
  // The register's four lanes, earliest first, into one.
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(kFold128Hi),
                                      static_cast<long long>(kFold128Lo));
  __m128i x = _mm512_castsi512_si128(x0);
  x = fold128(x, k128, _mm512_extracti32x4_epi32(x0, 1));
  x = fold128(x, k128, _mm512_extracti32x4_epi32(x0, 2));
  x = fold128(x, k128, _mm512_extracti32x4_epi32(x0, 3));
  return crc32_finish_pclmul(x, buf, n);
}

}  // namespace tinyai
