// The CRC-32 kernels behind crc32_update (weights_file.h): the portable slicing-by-8 table
// version and, on x86-64, carry-less multiplication folding (PCLMULQDQ on 128-bit lanes,
// VPCLMULQDQ on 256-bit or 512-bit ones); crc32.cpp picks one at run time.
#pragma once
#include <cstddef>
#include <cstdint>
#if TINYAI_X86_KERNELS
#include <emmintrin.h>  // __m128i (SSE2, baseline on x86-64)
#endif

namespace tinyai {

// All take and return the internal (pre-inverted) CRC state.
uint32_t crc32_table(uint32_t state, const unsigned char* p, size_t n);
#if TINYAI_X86_KERNELS
uint32_t crc32_fold_pclmul(uint32_t state, const unsigned char* buf, size_t n);  // n >= 64, n % 16 == 0
// n >= 128, n % 16 == 0; needs AVX2 and VPCLMULQDQ.
uint32_t crc32_fold_vpclmul256(uint32_t state, const unsigned char* buf, size_t n);
// n >= 256, n % 16 == 0; needs AVX-512F/VL and VPCLMULQDQ.
uint32_t crc32_fold_vpclmul(uint32_t state, const unsigned char* buf, size_t n);
// The shared end of both folding kernels: `x` holds the bytes folded so far as one 128-bit
// lane; folds the remaining `n` (a multiple of 16) bytes into it and reduces to the state.
uint32_t crc32_finish_pclmul(__m128i x, const unsigned char* buf, size_t n);
#endif

// crc32_update with a named kernel ("table", "pclmul", "vpclmul256", "vpclmul"), for tests
// that check each kernel against the others; throws std::invalid_argument if the CPU lacks it.
uint32_t crc32_update_with(const char* kernel, uint32_t crc, const void* data, size_t n);

}  // namespace tinyai
