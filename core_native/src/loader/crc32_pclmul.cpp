// CRC-32 (zlib's reflected polynomial 0xEDB88320) by carry-less multiplication folding: four
// 128-bit lanes fold 64 bytes per step, then fold to one lane (crc32_finish_pclmul, shared with
// the VPCLMULQDQ kernel: the remaining 16-byte blocks, then 128 -> 64 bits and a Barrett reduction)
// (Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ", Intel 2009;
// the constants are those of the paper's bit-reflected domain, as in zlib/Chromium: to fold a
// lane forward by D bits, the low qword holds reflect32(x^(D+32) mod P) << 1 and the high
// qword reflect32(x^(D-32) mod P) << 1).
// Compiled with -mpclmul; only called after the run-time check in crc32.cpp.
#include <immintrin.h>

#include "loader/crc32_impl.h"

namespace tinyai {

namespace {
// Fold constants (see above) for D = 512 (four lanes, 64 bytes) and D = 128 (one lane), then
// 64 -> 32 bits, and the Barrett reduction's (P' / x, P).
alignas(16) const uint64_t kFold512[] = {0x0154442bd4ull, 0x01c6e41596ull};
alignas(16) const uint64_t kFold128[] = {0x01751997d0ull, 0x00ccaa009eull};
alignas(16) const uint64_t kFold64[] = {0x0163cd6124ull, 0x0000000000ull};
alignas(16) const uint64_t kBarrett[] = {0x01db710641ull, 0x01f7011641ull};

__m128i load128(const unsigned char* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// x * k folded onto the next 128 bits `next`.
__m128i fold128(__m128i x, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}
}  // namespace

// `state` is the internal (pre-inverted) CRC; `n` >= 64 and a multiple of 16.
uint32_t crc32_fold_pclmul(uint32_t state, const unsigned char* buf, size_t n) {
  __m128i x1 = _mm_xor_si128(load128(buf), _mm_cvtsi32_si128(static_cast<int>(state)));
  __m128i x2 = load128(buf + 16), x3 = load128(buf + 32), x4 = load128(buf + 48);
  buf += 64;
  n -= 64;
  const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kFold512));
  while (n >= 64) {  // four independent lanes keep the multiplier busy
    x1 = fold128(x1, k, load128(buf));
    x2 = fold128(x2, k, load128(buf + 16));
    x3 = fold128(x3, k, load128(buf + 32));
    x4 = fold128(x4, k, load128(buf + 48));
    buf += 64;
    n -= 64;
  }
  const __m128i k1 = _mm_load_si128(reinterpret_cast<const __m128i*>(kFold128));
  x1 = fold128(x1, k1, x2);
  x1 = fold128(x1, k1, x3);
  x1 = fold128(x1, k1, x4);
  return crc32_finish_pclmul(x1, buf, n);
}

uint32_t crc32_finish_pclmul(__m128i x1, const unsigned char* buf, size_t n) {
  __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(kFold128));
  while (n >= 16) {
    x1 = fold128(x1, k, load128(buf));
    buf += 16;
    n -= 16;
  }
  // 128 -> 64 bits.
  __m128i x2r = _mm_clmulepi64_si128(x1, k, 0x10);
  const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2r);
  k = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kFold64));
  x2r = _mm_srli_si128(x1, 4);
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k, 0x00);
  x1 = _mm_xor_si128(x1, x2r);
  // Barrett reduction to 32 bits.
  k = _mm_load_si128(reinterpret_cast<const __m128i*>(kBarrett));
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k, 0x10);
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x2r, mask32), k, 0x00);
  x1 = _mm_xor_si128(x1, x2r);
  return static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_srli_si128(x1, 4)));
}

}  // namespace tinyai
