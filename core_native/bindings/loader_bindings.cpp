// pybind11 binding of the progressive loader (standalone use) and the storage probes the loader
// benchmark uses. Type conversion only; the facade is core_native/loader.py.
#include "loader_bindings.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>

#include "loader/crc32_impl.h"
#include "loader/io_probe.h"
#include "loader/residency_plan.h"
#include "tinyai/weights_file.h"

namespace py = pybind11;
using namespace tinyai;

py::dict loader_stats_dict(const LoaderStats& s) {
  py::dict d;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["stall_seconds"] = s.stall_seconds;
  d["bytes_read"] = s.bytes_read;
  d["verify_bytes_read"] = s.verify_bytes_read;
  d["evictions"] = s.evictions;
  d["resident_bytes"] = s.resident_bytes;
  d["peak_resident_bytes"] = s.peak_resident_bytes;
  d["budget_bytes"] = s.budget_bytes;
  d["current_window"] = s.current_window;
  d["min_window"] = s.min_window;
  d["max_window"] = s.max_window;
  d["position"] = s.position;
  d["bandwidth_limit_mbps"] = s.bandwidth_limit_mbps;
  d["storage"] = s.storage;
  d["prefetch_loads"] = s.prefetch_loads;
  d["demand_loads"] = s.demand_loads;
  d["wasted_prefetches"] = s.wasted_prefetches;
  d["load_errors"] = s.load_errors;
  d["io_busy_seconds"] = s.io_busy_seconds;
  d["recycled_bytes"] = s.recycled_bytes;
  d["fresh_blob_bytes"] = s.fresh_blob_bytes;
  d["free_page_bytes"] = s.free_page_bytes;
  d["tracker_weight_bytes"] = s.tracker_weight_bytes;
  d["tracker_weight_peak_bytes"] = s.tracker_weight_peak_bytes;
  d["layer_load_seconds"] = s.layer_load_seconds;
  d["layer_hits"] = s.layer_hits;
  d["layer_misses"] = s.layer_misses;
  d["layer_status"] = s.layer_status;
  d["layer_priority"] = s.layer_priority;
  d["layer_bytes"] = s.layer_bytes;
  d["layer_resident_bytes"] = s.layer_resident_bytes;
  d["plan_active"] = s.plan_active;
  d["planned_resident_bytes"] = s.planned_resident_bytes;
  d["plan_predicted_seconds"] = s.plan_predicted_seconds;
  d["plan_stream_all_seconds"] = s.plan_stream_all_seconds;
  d["disk_mb_per_s"] = s.disk_mb_per_s;
  d["disk_busy_seconds"] = s.disk_busy_seconds;
  d["layer_planned_bytes"] = s.layer_planned_bytes;
  return d;
}

namespace {

// A copy of a resident blob for Python (tests and inspection); the loader keeps its own.
py::object blob_copy(const BufferPtr& buf) {
  py::array_t<uint8_t> out(static_cast<py::ssize_t>(buf ? buf->size() : 0));
  if (buf && buf->size()) std::memcpy(out.mutable_data(), buf->data(), buf->size());
  return std::move(out);
}

py::dict probe_dict(const ReadProbe& r) {
  py::dict d;
  d["bytes"] = r.bytes;
  d["seconds"] = r.seconds;
  d["direct"] = r.direct;
  d["mb_per_s"] = r.mb_per_s();
  return d;
}

}  // namespace

void bind_loader(py::module_& m) {
  py::enum_<LayerStatus>(m, "LayerStatus")
      .value("UNLOADED", LayerStatus::Unloaded)
      .value("LOADING", LayerStatus::Loading)
      .value("LOADED", LayerStatus::Loaded)
      .value("ERROR", LayerStatus::Error);
  py::enum_<LayerPriority>(m, "LayerPriority")
      .value("LOW", LayerPriority::Low)
      .value("MEDIUM", LayerPriority::Medium)
      .value("HIGH", LayerPriority::High)
      .value("CRITICAL", LayerPriority::Critical);

  py::class_<ProgressiveLoader>(m, "ProgressiveLoader")
      .def(py::init([](const std::string& weights_path, const ProgressiveLoaderConfig& cfg) {
             auto file = std::make_shared<WeightsFile>(weights_path);
             return std::make_unique<ProgressiveLoader>(file, std::make_shared<MemoryTracker>(),
                                                        cfg);
           }),
           py::arg("weights_path"), py::arg("config"))
      .def_property_readonly("num_layers", &ProgressiveLoader::num_layers)
      .def("set_execution_order", &ProgressiveLoader::set_execution_order)
      .def("set_config", &ProgressiveLoader::set_config)
      .def("set_bandwidth_limit_mbps", &ProgressiveLoader::set_bandwidth_limit_mbps)
      .def("set_layer_names", &ProgressiveLoader::set_layer_names)
      .def("acquire",
           [](ProgressiveLoader& l, int layer, py::object position, bool copy) -> py::object {
             BufferPtr buf;
             const size_t pos = position.is_none() ? l.next_position(layer)
                                                   : position.cast<size_t>();
             {
               py::gil_scoped_release release;
               buf = l.acquire(layer, pos);
             }
             if (!copy) return py::none();
             return blob_copy(buf);
           },
           py::arg("layer"), py::arg("position") = py::none(), py::arg("copy") = false)
      .def("release", &ProgressiveLoader::release, py::arg("layer"))
      .def("acquire_piece",
           [](ProgressiveLoader& l, int layer, size_t piece, py::object position,
              bool copy) -> py::object {
             BufferPtr buf;
             const size_t pos = position.is_none() ? l.next_position(layer)
                                                   : position.cast<size_t>();
             {
               py::gil_scoped_release release;
               buf = l.acquire_piece(layer, piece, pos);
             }
             if (!copy) return py::none();
             return blob_copy(buf);
           },
           py::arg("layer"), py::arg("piece"), py::arg("position") = py::none(),
           py::arg("copy") = false)
      .def("release_piece", &ProgressiveLoader::release_piece, py::arg("layer"),
           py::arg("piece"))
      .def("set_layer_pieces", &ProgressiveLoader::set_layer_pieces, py::arg("layer"),
           py::arg("split_offsets"), py::arg("sequence") = std::vector<size_t>{})
      .def("num_pieces", &ProgressiveLoader::num_pieces, py::arg("layer"))
      .def("piece_range", &ProgressiveLoader::piece_range, py::arg("layer"), py::arg("piece"))
      .def("load_layer", &ProgressiveLoader::load_layer, py::arg("layer"),
           py::call_guard<py::gil_scoped_release>())
      .def("unload_layer", &ProgressiveLoader::unload_layer, py::arg("layer"))
      .def("get_layer_status", &ProgressiveLoader::layer_status, py::arg("layer"))
      .def("set_layer_priority", &ProgressiveLoader::set_layer_priority, py::arg("layer"),
           py::arg("priority"))
      .def("get_layer_priority", &ProgressiveLoader::layer_priority, py::arg("layer"))
      .def("layer_error", &ProgressiveLoader::layer_error, py::arg("layer"))
      .def("next_position", &ProgressiveLoader::next_position, py::arg("layer"))
      .def("stats", [](const ProgressiveLoader& l) { return loader_stats_dict(l.stats()); })
      .def("reset_stats", &ProgressiveLoader::reset_stats);

  m.def("measure_sequential_read",
        [](const std::string& path, bool direct, size_t block_bytes, uint64_t max_bytes) {
          ReadProbe r;
          {
            py::gil_scoped_release release;
            r = probe_sequential_read(path, direct, block_bytes, max_bytes);
          }
          return probe_dict(r);
        },
        py::arg("path"), py::arg("direct") = true, py::arg("block_bytes") = 8 << 20,
        py::arg("max_bytes") = 0);
  m.def("drop_page_cache", &drop_page_cache, py::arg("path"));
  m.def(
      "plan_residency",
      [](const std::vector<uint64_t>& nbytes, const std::vector<int>& sequence,
         const std::vector<double>& compute_after, uint64_t budget, double bytes_per_second,
         std::vector<int> priorities, std::vector<bool> pinned, const std::vector<double>& hold) {
        if (priorities.empty()) priorities.assign(nbytes.size(), 1);
        if (pinned.empty()) pinned.assign(nbytes.size(), false);
        if (priorities.size() != nbytes.size() || pinned.size() != nbytes.size())
          throw std::invalid_argument("priorities and pinned need one entry per unit");
        std::vector<PlanUnit> units(nbytes.size());
        for (size_t u = 0; u < units.size(); ++u) units[u] = {nbytes[u], priorities[u], pinned[u]};
        const ResidencyPlan plan =
            plan_residency(units, sequence, compute_after, budget, bytes_per_second, hold);
        py::dict d;
        d["keep"] = plan.keep;
        d["keep_bytes"] = plan.keep_bytes;
        d["predicted_seconds"] = plan.predicted_seconds;
        d["stream_all_seconds"] = plan.stream_all_seconds;
        return d;
      },
      py::arg("nbytes"), py::arg("sequence"), py::arg("compute_after"), py::arg("budget"),
      py::arg("bytes_per_second"), py::arg("priorities") = std::vector<int>{},
      py::arg("pinned") = std::vector<bool>{}, py::arg("hold") = std::vector<double>{},
      "The loader's residency plan for units of `nbytes` used in `sequence` order, with "
      "`compute_after` seconds after each position (see src/loader/residency_plan.h).");
  // Any contiguous bytes-like object (a numpy slice gives any alignment), continuing `value`
  // as zlib.crc32(data, value) does.
  m.def("crc32_update",
        [](py::buffer data, uint32_t value, const std::string& kernel) {
          const py::buffer_info info = data.request();
          py::ssize_t step = info.itemsize;  // C-contiguous: strides are the running products
          for (py::ssize_t d = info.ndim; d-- > 0;) {
            if (info.shape[d] > 1 && info.strides[d] != step)
              throw py::value_error("crc32_update needs a contiguous buffer");
            step *= info.shape[d];
          }
          const size_t n = static_cast<size_t>(info.size * info.itemsize);
          if (!kernel.empty()) return crc32_update_with(kernel.c_str(), value, info.ptr, n);
          py::gil_scoped_release release;
          return crc32_update(value, info.ptr, n);
        },
        py::arg("data"), py::arg("value") = 0, py::arg("kernel") = "",
        "CRC-32 of a contiguous buffer continued from `value`; `kernel` (table, pclmul, "
        "vpclmul256, vpclmul) forces one implementation, for tests.");
  m.def("crc32_kernel", [] { return std::string(crc32_kernel_name()); });
  m.def("page_cache_bytes", &page_cache_bytes, py::arg("path"));
}
