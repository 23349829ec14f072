// zlib-compatible CRC-32, so Python's zlib.crc32 and the core agree (FORMAT.md): VPCLMULQDQ
// folding on 512-bit registers where the CPU has it, on 256-bit ones where it has VPCLMULQDQ
// with AVX2 but no AVX-512, PCLMULQDQ folding on 128-bit lanes where it has only that (about
// 10x the table version, which used to bound the loader's throughput), slicing-by-8 tables
// otherwise and for the unaligned head/tail lengths.
#include <cstring>
#include <stdexcept>
#include <string>

#include "loader/crc32_impl.h"
#include "tinyai/weights_file.h"

namespace tinyai {

namespace {
struct Crc32Tables {
  uint32_t t[8][256];
  Crc32Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};
const Crc32Tables& tables() {
  static const Crc32Tables tabs;
  return tabs;
}

#if TINYAI_X86_KERNELS
// Run-time detection: the build machine's flags never decide which instructions run.
bool have_pclmul() {
  static const bool yes = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
  return yes;
}
bool have_vpclmul256() {
  static const bool yes = have_pclmul() && __builtin_cpu_supports("vpclmulqdq") &&
                          __builtin_cpu_supports("avx2");
  return yes;
}
bool have_vpclmul() {
  static const bool yes = have_vpclmul256() && __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512vl");
  return yes;
}
#endif

// In the order of what they need (each CPU feature set runs a prefix of the list).
enum class Kernel { Table, Pclmul, Vpclmul256, Vpclmul };
constexpr int kKernelCount = 4;
const char* const kKernelNames[kKernelCount] = {"table", "pclmul", "vpclmul256", "vpclmul"};

Kernel best_kernel() {
#if TINYAI_X86_KERNELS
  if (have_vpclmul()) return Kernel::Vpclmul;
  if (have_vpclmul256()) return Kernel::Vpclmul256;
  if (have_pclmul()) return Kernel::Pclmul;
#endif
  return Kernel::Table;
}

#if TINYAI_X86_KERNELS
// The folding kernels, widest first, with the kernel level that runs each and the least input
// it takes: a buffer too short for the widest falls back to a narrower one the CPU also runs.
struct Folder {
  Kernel needs;
  size_t min_bytes;
  uint32_t (*fold)(uint32_t state, const unsigned char* buf, size_t n);
};
constexpr Folder kFolders[] = {{Kernel::Vpclmul, 256, crc32_fold_vpclmul},
                               {Kernel::Vpclmul256, 128, crc32_fold_vpclmul256},
                               {Kernel::Pclmul, 64, crc32_fold_pclmul}};
#endif

uint32_t update(Kernel kernel, uint32_t crc, const unsigned char* p, size_t n) {
  uint32_t state = ~crc;
#if TINYAI_X86_KERNELS
  for (const Folder& f : kFolders) {
    if (kernel < f.needs || n < f.min_bytes) continue;
    const size_t bulk = n & ~static_cast<size_t>(15);  // whole lanes; the table takes the tail
    state = f.fold(state, p, bulk);
    p += bulk;
    n -= bulk;
    break;
  }
#endif
  return ~crc32_table(state, p, n);
}
}  // namespace

uint32_t crc32_table(uint32_t crc, const unsigned char* p, size_t n) {
  const auto& T = tables().t;
  while (n >= 8) {
    uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = T[7][lo & 0xFF] ^ T[6][(lo >> 8) & 0xFF] ^ T[5][(lo >> 16) & 0xFF] ^ T[4][lo >> 24] ^
          T[3][hi & 0xFF] ^ T[2][(hi >> 8) & 0xFF] ^ T[1][(hi >> 16) & 0xFF] ^ T[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) crc = T[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

const char* crc32_kernel_name() { return kKernelNames[static_cast<int>(best_kernel())]; }

uint32_t crc32_update(uint32_t crc, const void* data, size_t n) {
  static const Kernel kernel = best_kernel();
  return update(kernel, crc, static_cast<const unsigned char*>(data), n);
}

uint32_t crc32_update_with(const char* kernel, uint32_t crc, const void* data, size_t n) {
  const std::string name = kernel;
  for (int k = 0; k < kKernelCount; ++k) {
    if (name != kKernelNames[k]) continue;
    // Kernels are ordered by what they need: a CPU runs every kernel up to its best one.
    if (k > static_cast<int>(best_kernel()))
      throw std::invalid_argument("this CPU cannot run the '" + name + "' CRC-32 kernel");
    return update(static_cast<Kernel>(k), crc, static_cast<const unsigned char*>(data), n);
  }
  throw std::invalid_argument("unknown CRC-32 kernel '" + name + "' (table, pclmul, vpclmul)");
}

}  // namespace tinyai
