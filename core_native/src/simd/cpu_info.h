// What this CPU can do, detected once per process: instruction sets the OS has enabled
// (cpuid + xgetbv on x86-64; NEON is architectural on AArch64), cache sizes (sysfs, else
// cpuid) and core counts. The build machine's flags never decide this.
#pragma once
#include <cstdint>
#include <string>

namespace tinyai {

struct CacheSizes {
  int64_t l1d_bytes = 32 << 10;  // per core
  int64_t l2_bytes = 512 << 10;  // per core
  int64_t l3_bytes = 8 << 20;    // shared
  int line_bytes = 64;
  const char* source = "default";  // "sysfs", "cpuid" or "default"
};

struct CpuInfo {
  std::string vendor;      // "GenuineIntel", "AuthenticAMD", "arm64", ...
  bool sse2 = false;       // x86-64 baseline
  bool avx2 = false;       // AVX2 and the OS saves YMM state
  bool fma = false;        // FMA3
  bool avx512f = false;    // AVX-512F and the OS saves ZMM/opmask state
  bool neon = false;       // AArch64 Advanced SIMD
  CacheSizes caches;
  int logical_cpus = 1;
  int physical_cores = 1;
};

// Detected on first use (std::call_once); thread-safe afterwards.
const CpuInfo& cpu_info();

}  // namespace tinyai
