// The CRC-32 kernels behind crc32_update (weights_file.h): the portable slicing-by-8 table
// version and, on x86-64, the PCLMULQDQ folding version; crc32.cpp picks one at run time.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tinyai {

// Both take and return the internal (pre-inverted) CRC state.
uint32_t crc32_table(uint32_t state, const unsigned char* p, size_t n);
#if TINYAI_X86_KERNELS
uint32_t crc32_fold_pclmul(uint32_t state, const unsigned char* buf, size_t n);  // n >= 64, n % 16 == 0
#endif

}  // namespace tinyai
