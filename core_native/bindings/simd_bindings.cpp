// pybind11 binding of the SIMD / cache-optimization component: CPU capabilities, per-family
// SIMD switches on SessionConfig, cache statistics, and direct kernel entry points for tests
// and benchmarks. Type conversion only; logic lives in src/simd and src/kernels.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <string>
#include <vector>

#include "simd/cache_model.h"
#include "simd/cpu_info.h"
#include "simd/dispatch.h"
#include "simd/standalone.h"
#include "tinyai/config.h"
#include "tinyai/errors.h"
#include "tinyai/thread_pool.h"

namespace py = pybind11;
using namespace tinyai;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

py::dict capabilities_dict() {
  const CpuInfo& cpu = cpu_info();
  py::list isas;
  isas.append("scalar");
  isas.append(isa_name(Isa::Baseline));
  if (cpu.avx2 && cpu.fma) isas.append(isa_name(Isa::Avx2));
  if (cpu.avx512f && cpu.avx2 && cpu.fma) isas.append(isa_name(Isa::Avx512));
  py::dict levels;
  for (int level = 0; level <= 3; ++level) levels[py::int_(level)] = isa_name(isa_for_level(level));
  const Isa widest = isa_for_level(3);
  const int width = widest == Isa::Avx512 ? 512 : widest == Isa::Avx2 ? 256 : 128;
  py::dict d;
  d["vendor"] = cpu.vendor;
  d["isas"] = isas;
  d["sse2"] = cpu.sse2;
  d["avx2"] = cpu.avx2;
  d["fma"] = cpu.fma;
  d["avx512f"] = cpu.avx512f;
  d["neon"] = cpu.neon;
  d["vector_width_bits"] = width;
  d["level_isa"] = levels;
  d["l1d_bytes"] = cpu.caches.l1d_bytes;
  d["l2_bytes"] = cpu.caches.l2_bytes;
  d["l3_bytes"] = cpu.caches.l3_bytes;
  d["cache_line_bytes"] = cpu.caches.line_bytes;
  d["cache_source"] = cpu.caches.source;
  d["logical_cpus"] = cpu.logical_cpus;
  d["physical_cores"] = cpu.physical_cores;
  return d;
}

py::dict cache_stats_dict(const CacheStats& s) {
  py::dict d;
  d["source"] = s.source;
  d["detail"] = s.detail;
  d["l1_references"] = s.l1_references;
  d["l1_misses"] = s.l1_misses;
  d["llc_references"] = s.llc_references;
  d["llc_misses"] = s.llc_misses;
  d["l1_hit_rate"] = s.l1_references > 0 ? 1.0 - double(s.l1_misses) / double(s.l1_references) : 0.0;
  d["llc_hit_rate"] = s.llc_references > 0 ? 1.0 - double(s.llc_misses) / double(s.llc_references) : 0.0;
  d["hit_rate"] = d["l1_hit_rate"];
  d["gemm_calls"] = s.gemm_calls;
  d["gemm_flops"] = s.gemm_flops;
  return d;
}

void require_matrix(const FloatArray& a, const char* name) {
  if (a.ndim() != 2) throw InputError(std::string(name) + " must be a 2-D float32 array");
}

}  // namespace

void bind_simd(py::module_& m) {
  py::class_<SimdOpsConfig>(m, "SimdOpsConfig")
      .def(py::init<>())
      .def_readwrite("matrix_mul", &SimdOpsConfig::matrix_mul)
      .def_readwrite("conv", &SimdOpsConfig::conv)
      .def_readwrite("activation", &SimdOpsConfig::activation)
      .def_readwrite("attention", &SimdOpsConfig::attention);
  // SessionConfig is registered by module.cpp; the SIMD switches are this component's field.
  auto session_config = py::reinterpret_borrow<py::class_<SessionConfig>>(m.attr("SessionConfig"));
  session_config.def_readwrite("simd_ops", &SessionConfig::simd_ops);

  m.def("simd_capabilities", &capabilities_dict);
  m.def("physical_core_count", &physical_core_count);
  m.def("cache_stats", [] { return cache_stats_dict(cache_stats()); });
  m.def("reset_cache_stats", &reset_cache_stats);

  m.def("_matmul",
        [](const SessionConfig& cfg, const FloatArray& a, const FloatArray& b) {
          require_matrix(a, "a");
          require_matrix(b, "b");
          const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
          if (b.shape(0) != K) throw InputError("inner dimensions differ");
          FloatArray c({M, N});
          float* out = c.mutable_data();
          {
            py::gil_scoped_release release;
            standalone_matmul(cfg, a.data(), b.data(), out, M, N, K);
          }
          return c;
        },
        py::arg("config"), py::arg("a"), py::arg("b"));
  m.def("_activation",
        [](const SessionConfig& cfg, const std::string& kind, const FloatArray& x, float alpha,
           float beta) {
          static const std::map<std::string, ActKind> kinds = {
              {"relu", ActKind::Relu}, {"leaky_relu", ActKind::LeakyRelu},
              {"sigmoid", ActKind::Sigmoid}, {"tanh", ActKind::Tanh}, {"gelu", ActKind::Gelu},
              {"gelu_tanh", ActKind::GeluTanh}, {"silu", ActKind::Silu}, {"exp", ActKind::Exp},
              {"erf", ActKind::Erf}, {"hard_sigmoid", ActKind::HardSigmoid},
              {"hard_swish", ActKind::HardSwish}};
          auto it = kinds.find(kind);
          if (it == kinds.end()) throw InputError("unknown activation '" + kind + "'");
          FloatArray y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
          float* out = y.mutable_data();
          {
            py::gil_scoped_release release;
            standalone_activation(cfg, it->second, ActParams{alpha, beta}, x.data(), out, x.size());
          }
          return y;
        },
        py::arg("config"), py::arg("kind"), py::arg("x"), py::arg("alpha") = 0.f,
        py::arg("beta") = 0.f);
  m.def("_softmax_rows",
        [](const SessionConfig& cfg, const FloatArray& x, bool log) {
          require_matrix(x, "x");
          FloatArray y({x.shape(0), x.shape(1)});
          standalone_softmax_rows(cfg, x.data(), y.mutable_data(), x.shape(0), x.shape(1), log);
          return y;
        },
        py::arg("config"), py::arg("x"), py::arg("log") = false);
  m.def("_parallel_for",
        [](int threads, int64_t n, int64_t grain, int64_t throw_at) {
          ParallelForReport r;
          {
            py::gil_scoped_release release;
            r = standalone_parallel_for(threads, n, grain, throw_at);
          }
          py::dict d;
          d["pool_size"] = r.pool_size;
          d["visits"] = r.visits;
          d["chunk_lengths"] = r.chunk_lengths;
          return d;
        },
        py::arg("threads"), py::arg("n"), py::arg("grain"), py::arg("throw_at") = -1);
  m.def("_gemm_info",
        [](const SessionConfig& cfg, int64_t M, int64_t N, int64_t K) {
          const GemmBlockingInfo info = standalone_gemm_info(cfg, M, N, K);
          py::dict d;
          d["isa"] = info.isa;
          d["mr"] = info.mr;
          d["nr"] = info.nr;
          d["mc"] = info.mc;
          d["kc"] = info.kc;
          d["nc"] = info.nc;
          d["model_l1_references"] = info.estimate.l1_references;
          d["model_l1_misses"] = info.estimate.l1_misses;
          d["model_llc_references"] = info.estimate.llc_references;
          d["model_llc_misses"] = info.estimate.llc_misses;
          return d;
        },
        py::arg("config"), py::arg("M"), py::arg("N"), py::arg("K"));
}
