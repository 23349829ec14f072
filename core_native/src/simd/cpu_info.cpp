#include "simd/cpu_info.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define TINYAI_X86 1
#endif

namespace tinyai {

namespace {

bool read_text(const std::string& path, std::string* out) {
  std::ifstream f(path);
  if (!f) return false;
  std::getline(f, *out);
  return true;
}

// "32K", "1024K", "32M" -> bytes.
int64_t parse_size(const std::string& s) {
  if (s.empty()) return 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  int64_t mult = 1;
  if (end && (*end == 'K' || *end == 'k')) mult = 1024;
  if (end && (*end == 'M' || *end == 'm')) mult = 1024 * 1024;
  return static_cast<int64_t>(v) * mult;
}

// Linux exposes the cache hierarchy of cpu0 under sysfs (also inside most VMs).
bool caches_from_sysfs(CacheSizes* c) {
  bool any = false;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::string level, type, size, line;
    if (!read_text(dir + "level", &level) || !read_text(dir + "type", &type) ||
        !read_text(dir + "size", &size))
      continue;
    const int64_t bytes = parse_size(size);
    if (bytes <= 0 || type == "Instruction") continue;
    if (level == "1") c->l1d_bytes = bytes;
    else if (level == "2") c->l2_bytes = bytes;
    else if (level == "3") c->l3_bytes = bytes;
    else continue;
    if (read_text(dir + "coherency_line_size", &line) && parse_size(line) > 0)
      c->line_bytes = static_cast<int>(parse_size(line));
    any = true;
  }
  if (any) c->source = "sysfs";
  return any;
}

// Distinct (package, core) pairs: hyperthreads of one core count once.
int physical_cores_from_sysfs() {
  std::set<std::pair<std::string, std::string>> cores;
  for (int cpu = 0; cpu < 4096; ++cpu) {
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::string pkg, core;
    if (!read_text(dir + "physical_package_id", &pkg) || !read_text(dir + "core_id", &core)) {
      if (cpu > 0) break;
      return 0;
    }
    cores.emplace(pkg, core);
  }
  return static_cast<int>(cores.size());
}

#ifdef TINYAI_X86
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

// Deterministic cache parameters: leaf 4 (Intel) or 0x8000001D (AMD), same layout.
bool caches_from_cpuid(CacheSizes* c, bool amd) {
  const unsigned leaf = amd ? 0x8000001Du : 4u;
  unsigned max_leaf = __get_cpuid_max(amd ? 0x80000000u : 0u, nullptr);
  if (max_leaf < leaf) return false;
  bool any = false;
  for (unsigned sub = 0; sub < 16; ++sub) {
    unsigned a, b, cc, d;
    if (!__get_cpuid_count(leaf, sub, &a, &b, &cc, &d)) break;
    const unsigned type = a & 0x1f;
    if (type == 0) break;
    if (type == 2) continue;  // instruction cache
    const unsigned level = (a >> 5) & 7;
    const int64_t ways = ((b >> 22) & 0x3ff) + 1, parts = ((b >> 12) & 0x3ff) + 1,
                  line = (b & 0xfff) + 1, sets = static_cast<int64_t>(cc) + 1;
    const int64_t bytes = ways * parts * line * sets;
    if (level == 1) c->l1d_bytes = bytes;
    else if (level == 2) c->l2_bytes = bytes;
    else if (level == 3) c->l3_bytes = bytes;
    c->line_bytes = static_cast<int>(line);
    any = true;
  }
  if (any) c->source = "cpuid";
  return any;
}

void detect_x86(CpuInfo* info) {
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return;
  const unsigned max_leaf = a;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  info->vendor = vendor;
  __get_cpuid(1, &a, &b, &c, &d);
  info->sse2 = (d >> 26) & 1;
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool ymm_state = (xcr0 & 0x6) == 0x6;             // SSE + AVX state
  const bool zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM halves
  if (max_leaf >= 7) {
    unsigned a7, b7, c7, d7;
    __get_cpuid_count(7, 0, &a7, &b7, &c7, &d7);
    info->avx2 = avx && ymm_state && ((b7 >> 5) & 1);
    info->fma = fma && ymm_state;
    info->avx512f = zmm_state && ((b7 >> 16) & 1);
  }
  if (!caches_from_sysfs(&info->caches))
    caches_from_cpuid(&info->caches, info->vendor == "AuthenticAMD");
}
#endif

CpuInfo detect() {
  CpuInfo info;
#ifdef TINYAI_X86
  detect_x86(&info);
#elif defined(__aarch64__)
  info.vendor = "arm64";
  info.neon = true;
  caches_from_sysfs(&info.caches);
#else
  caches_from_sysfs(&info.caches);
#endif
  // The CPUs this process may run on (a container's cpuset), not every CPU of the host.
  cpu_set_t set;
  CPU_ZERO(&set);
  info.logical_cpus = sched_getaffinity(0, sizeof(set), &set) == 0
                          ? CPU_COUNT(&set)
                          : static_cast<int>(std::thread::hardware_concurrency());
  info.logical_cpus = std::max(1, info.logical_cpus);
  const int phys = physical_cores_from_sysfs();
  info.physical_cores = phys > 0 ? std::min(phys, info.logical_cpus) : info.logical_cpus;
  return info;
}

}  // namespace

const CpuInfo& cpu_info() {
  static std::once_flag once;
  static CpuInfo info;
  std::call_once(once, [] { info = detect(); });
  return info;
}

}  // namespace tinyai
