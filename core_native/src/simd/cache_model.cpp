#include "simd/cache_model.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>

#include "simd/cpu_info.h"

#if defined(__linux__)
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace tinyai {

namespace {

std::atomic<int64_t> g_l1_refs{0}, g_l1_misses{0}, g_llc_refs{0}, g_llc_misses{0};
std::atomic<int64_t> g_calls{0}, g_flops{0};

int vector_floats(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return 1;
    case Isa::Baseline: return 4;
    case Isa::Avx2: return 8;
    case Isa::Avx512: return 16;
  }
  return 1;
}

double ceil_div(double a, double b) { return std::ceil(a / b); }

// Hardware counters: L1D read accesses/misses and LL accesses/misses, opened once for the
// process with inherit=1 (threads created later are counted too).
struct PerfCounters {
  int fds[4] = {-1, -1, -1, -1};
  bool ok = false;
  std::string error;
};

#if defined(__linux__)
int open_counter(uint64_t config) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = PERF_TYPE_HW_CACHE;
  attr.config = config;
  attr.disabled = 0;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  attr.inherit = 1;
  return static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}
#endif

PerfCounters& perf() {
  static PerfCounters p;
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(__linux__)
    const uint64_t read_access = PERF_COUNT_HW_CACHE_OP_READ << 8 |
                                 PERF_COUNT_HW_CACHE_RESULT_ACCESS << 16;
    const uint64_t read_miss = PERF_COUNT_HW_CACHE_OP_READ << 8 |
                               PERF_COUNT_HW_CACHE_RESULT_MISS << 16;
    const uint64_t configs[4] = {PERF_COUNT_HW_CACHE_L1D | read_access,
                                 PERF_COUNT_HW_CACHE_L1D | read_miss,
                                 PERF_COUNT_HW_CACHE_LL | read_access,
                                 PERF_COUNT_HW_CACHE_LL | read_miss};
    for (int i = 0; i < 4; ++i) {
      p.fds[i] = open_counter(configs[i]);
      if (p.fds[i] < 0) {
        p.error = std::string("perf_event_open: ") + std::strerror(errno) +
                  " (no hardware cache events here, e.g. a VM without a PMU, or "
                  "kernel.perf_event_paranoid too high)";
        for (int j = 0; j <= i; ++j)
          if (p.fds[j] >= 0) close(p.fds[j]);
        return;
      }
    }
    p.ok = true;
#else
    p.error = "perf_event_open is Linux-only";
#endif
  });
  return p;
}

int64_t read_counter(int fd) {
#if defined(__linux__)
  uint64_t v = 0;
  if (fd >= 0 && read(fd, &v, sizeof(v)) == static_cast<ssize_t>(sizeof(v)))
    return static_cast<int64_t>(v);
#endif
  (void)fd;
  return 0;
}

}  // namespace

GemmCacheEstimate estimate_gemm_cache(Isa isa, int64_t M, int64_t N, int64_t K, int64_t mc,
                                      int64_t kc, int64_t nc, int mr, int nr, bool beta_zero) {
  GemmCacheEstimate e;
  const CacheSizes& c = cpu_info().caches;
  const double L = c.line_bytes / 4.0;  // floats per line
  const double vw = vector_floats(isa);
  const double m = static_cast<double>(M), n = static_cast<double>(N), k = static_cast<double>(K);
  const double footprint_lines = (m * k + k * n + m * n) / L;
  // Compulsory traffic when the operands fit in the LLC; otherwise A is re-read per N block
  // and C per K block.
  const bool fits_llc = footprint_lines * c.line_bytes <= static_cast<double>(c.l3_bytes) / 2;
  const double nb_j = ceil_div(n, static_cast<double>(nc)), nb_k = ceil_div(k, static_cast<double>(kc));
  e.llc_misses = fits_llc ? footprint_lines
                          : (m * k * nb_j + k * n + m * n * nb_k) / L;
  if (isa == Isa::Scalar) {
    // Row by row: each row of op(B) streams through L1 once per output row.
    e.l1_references = m * k * (1 + n / vw * 2) + m * n * 2;
    const bool b_in_l1 = k * n * 4 <= static_cast<double>(c.l1d_bytes) / 2;
    e.l1_misses = m * k / L + (b_in_l1 ? k * n / L : m * k * n / L) + m * n / L;
    e.llc_references = e.l1_misses;
    return e;
  }
  const double nv = nr / vw;
  const double m_tiles = ceil_div(m, mr), n_tiles = ceil_div(n, nr);
  const double kc_eff = std::min<double>(static_cast<double>(kc), k);
  // Micro-kernel: per k step NV loads of packed B and MR broadcasts of packed A; per call the
  // C tile is stored (and loaded unless beta == 0 on the first K block).
  const double calls = m_tiles * n_tiles * nb_k;
  const double c_loads = beta_zero ? m_tiles * n_tiles * (nb_k - 1) : calls;
  e.l1_references = m_tiles * n_tiles * k * (nv + mr) + (calls + c_loads) * mr * nv;
  // Packing: A element by element (strided stores), B by vectors when panels are full.
  e.l1_references += 2 * m * k * nb_j + 2 * k * n / vw;
  // L1 misses: the A micro-panel streams from L2 on every call; the B micro-panel stays in L1
  // across the MR loop when it fits half of L1, else streams too; C tile lines every call.
  const double b_panel_bytes = kc_eff * nr * 4;
  const double b_misses_per_call = kc_eff * nr / L;
  const double a_misses = calls * mr * kc_eff / L;
  const double calls_per_b_panel = ceil_div(std::min<double>(m, static_cast<double>(mc)), mr);
  const double b_misses = b_panel_bytes <= c.l1d_bytes / 2.0 ? calls * b_misses_per_call / calls_per_b_panel
                                                            : calls * b_misses_per_call;
  const double c_misses = calls * mr * std::ceil(nr / L);
  // Packing reads sources and writes packed blocks larger than L1: a miss per line each.
  const double pack_misses = 2 * (m * k * nb_j + k * n) / L;
  e.l1_misses = a_misses + b_misses + c_misses + pack_misses;
  e.llc_references = e.l1_misses;
  return e;
}

void cache_model_record_gemm(Isa isa, int64_t M, int64_t N, int64_t K, int64_t mc, int64_t kc,
                             int64_t nc, int mr, int nr, bool beta_zero) {
  const GemmCacheEstimate e = estimate_gemm_cache(isa, M, N, K, mc, kc, nc, mr, nr, beta_zero);
  g_l1_refs.fetch_add(static_cast<int64_t>(e.l1_references), std::memory_order_relaxed);
  g_l1_misses.fetch_add(static_cast<int64_t>(e.l1_misses), std::memory_order_relaxed);
  g_llc_refs.fetch_add(static_cast<int64_t>(e.llc_references), std::memory_order_relaxed);
  g_llc_misses.fetch_add(static_cast<int64_t>(e.llc_misses), std::memory_order_relaxed);
  g_calls.fetch_add(1, std::memory_order_relaxed);
  g_flops.fetch_add(2 * M * N * K, std::memory_order_relaxed);
}

CacheStats cache_stats() {
  CacheStats s;
  s.gemm_calls = g_calls.load();
  s.gemm_flops = g_flops.load();
  PerfCounters& p = perf();
  if (p.ok) {
    s.source = "perf";
    s.detail = "L1D read accesses/misses, LL accesses/misses (perf_event_open)";
    s.l1_references = read_counter(p.fds[0]);
    s.l1_misses = read_counter(p.fds[1]);
    s.llc_references = read_counter(p.fds[2]);
    s.llc_misses = read_counter(p.fds[3]);
    return s;
  }
  s.source = "model";
  s.detail = p.error;
  s.l1_references = g_l1_refs.load();
  s.l1_misses = g_l1_misses.load();
  s.llc_references = g_llc_refs.load();
  s.llc_misses = g_llc_misses.load();
  return s;
}

void reset_cache_stats() {
  g_l1_refs.store(0);
  g_l1_misses.store(0);
  g_llc_refs.store(0);
  g_llc_misses.store(0);
  g_calls.store(0);
  g_flops.store(0);
#if defined(__linux__)
  PerfCounters& p = perf();
  if (p.ok)
    for (int fd : p.fds) ioctl(fd, PERF_EVENT_IOC_RESET, 0);
#endif
}

}  // namespace tinyai
