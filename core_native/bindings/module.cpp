// pybind11 binding of the native core. Only type conversion lives here; logic is in the core
// (C++) or the facade (Python).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "tinyai/errors.h"
#include "tinyai/graph_builder.h"
#include "tinyai/op.h"
#include "tinyai/session.h"
#include "loader_bindings.h"

namespace py = pybind11;
using namespace tinyai;

void bind_loader(pybind11::module_& m);
void bind_simd(pybind11::module_& m);

namespace {

// Exceptions are the facade's Python classes (tinyai_workbench.core_native.errors), so
// importer and core raise the same types.
[[noreturn]] void raise_py(const char* cls, const std::string& msg, py::dict extra = {}) {
  py::object type = py::module_::import("tinyai_workbench.core_native.errors").attr(cls);
  py::object exc = type(msg);
  for (auto item : extra) py::setattr(exc, item.first, item.second);
  PyErr_SetObject(type.ptr(), exc.ptr());
  throw py::error_already_set();
}

void translate_exceptions(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const UnsupportedOperatorError& e) {
    py::dict extra;
    extra["op_type"] = e.op_type();
    extra["node_name"] = e.node_name();
    raise_py("UnsupportedOperatorError", e.what(), extra);
  } catch (const ModelError& e) {
    raise_py("ModelError", e.what());
  } catch (const InputError& e) {
    raise_py("InputError", e.what());
  } catch (const BudgetError& e) {
    py::dict extra;
    extra["minimum_bytes"] = e.minimum_bytes();
    raise_py("BudgetError", e.what(), extra);
  } catch (const CancelledError& e) {
    raise_py("CancelledError", e.what());
  } catch (const ExecutionError& e) {
    raise_py("ExecutionError", e.what());
  }
}

DType dtype_of(const py::array& a) {
  const char kind = a.dtype().kind();
  const auto size = a.dtype().itemsize();
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'b' && size == 1) return DType::Bool;
  throw InputError("arrays of dtype " + std::string(py::str(a.dtype())) +
                   " are not supported (use float32, int64, int32 or bool)");
}

py::dtype numpy_dtype(DType d) {
  switch (d) {
    case DType::Float32: return py::dtype::of<float>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Int32: return py::dtype::of<int32_t>();
    case DType::Bool: return py::dtype::of<bool>();
  }
  return py::dtype::of<float>();
}

// Borrow C-contiguous arrays as input tensors (the caller keeps them alive for the run).
std::map<std::string, Tensor> borrow_inputs(const py::dict& inputs) {
  std::map<std::string, Tensor> out;
  for (auto item : inputs) {
    auto arr = py::reinterpret_borrow<py::array>(item.second);
    if (!(arr.flags() & py::array::c_style))
      throw InputError("input arrays must be C-contiguous");
    Tensor t;
    t.dtype = dtype_of(arr);
    t.shape.assign(arr.shape(), arr.shape() + arr.ndim());
    t.data = const_cast<void*>(arr.data());
    out.emplace(py::cast<std::string>(item.first), std::move(t));
  }
  return out;
}

py::array to_numpy(const Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  py::array arr(numpy_dtype(t.dtype), shape);
  if (t.nbytes()) std::memcpy(arr.mutable_data(), t.data, t.nbytes());
  return arr;
}

py::dict stats_dict(const SessionStats& s) {
  auto cur = [&](MemCategory c) { return s.memory.current[static_cast<int>(c)]; };
  auto peak = [&](MemCategory c) { return s.memory.peak[static_cast<int>(c)]; };
  py::dict d;
  d["activation_bytes"] = cur(MemCategory::Activation);
  d["activation_peak_bytes"] = peak(MemCategory::Activation);
  d["weight_bytes"] = cur(MemCategory::Weight);
  d["weight_peak_bytes"] = peak(MemCategory::Weight);
  d["scratch_bytes"] = cur(MemCategory::Scratch);
  d["scratch_peak_bytes"] = peak(MemCategory::Scratch);
  d["output_bytes"] = cur(MemCategory::Output);
  d["output_peak_bytes"] = peak(MemCategory::Output);
  d["total_bytes"] = s.memory.total_current;
  d["total_peak_bytes"] = s.memory.total_peak;
  d["last_latency_s"] = s.last_latency_s;
  d["runs"] = s.runs;
  d["plans_cached"] = s.plans_cached;
  d["arena_bytes"] = s.arena_bytes;
  d["live_bytes"] = s.live_bytes;
  d["live_peak_bytes"] = s.live_peak_bytes;
  // 1 - live/arena at the peak: how much of the arena the plan could not pack.
  d["fragmentation"] = s.arena_bytes > 0 ? 1.0 - static_cast<double>(s.live_peak_bytes) /
                                                   static_cast<double>(s.arena_bytes)
                                         : 0.0;
  d["recompute_count"] = s.recompute_count;
  d["current_step"] = s.current_step;
  d["current_layer"] = s.current_layer;
  d["layer_compute_seconds"] = s.layer_compute_seconds;
  d["layer_wait_seconds"] = s.layer_wait_seconds;
  return d;
}

py::dict estimate_dict(const MemoryEstimate& m) {
  py::dict d;
  d["activation_peak_bytes"] = m.activation_peak_bytes;
  d["weight_peak_bytes"] = m.weight_peak_bytes;
  d["scratch_peak_bytes"] = m.scratch_peak_bytes;
  d["output_bytes"] = m.output_bytes;
  d["total_peak_bytes"] = m.total_peak_bytes;
  d["naive_activation_bytes"] = m.naive_activation_bytes;
  d["in_order_bound_bytes"] = m.in_order_bound_bytes;
  d["live_peak_bytes"] = m.live_peak_bytes;
  d["minimum_total_bytes"] = m.minimum_total_bytes;
  d["minimum_streaming_total_bytes"] = m.minimum_streaming_total_bytes;
  d["in_place_count"] = m.in_place_count;
  d["recompute_count"] = m.recompute_count;
  d["reordered"] = m.reordered;
  d["keep_arena"] = m.keep_arena;
  d["keep_packed_weights"] = m.keep_packed_weights;
  d["packed_weight_bytes"] = m.packed_weight_bytes;
  d["scratch_measured"] = m.scratch_measured;
  d["layer_peak_bytes"] = m.layer_peak_bytes;
  return d;
}

py::dict plan_step_dict(const PlanStep& st) {
  py::dict d;
  d["node"] = st.node;
  d["layer"] = st.layer;
  d["node_name"] = st.node_name;
  d["op_type"] = st.op_type;
  d["live_bytes"] = st.live_bytes;
  d["output_offset"] = st.output_offset;
  d["output_bytes"] = st.output_bytes;
  d["in_place"] = st.in_place;
  d["recomputed"] = st.recomputed;
  return d;
}

Attribute make_attr(const std::string& kind, const py::object& value, int32_t tensor_dtype,
                    const Shape& tensor_shape) {
  Attribute a;
  if (kind == "int") { a.kind = Attribute::Kind::Int; a.i = value.cast<int64_t>(); }
  else if (kind == "float") { a.kind = Attribute::Kind::Float; a.f = value.cast<float>(); }
  else if (kind == "string") { a.kind = Attribute::Kind::String; a.s = value.cast<std::string>(); }
  else if (kind == "ints") { a.kind = Attribute::Kind::Ints; a.ints = value.cast<std::vector<int64_t>>(); }
  else if (kind == "floats") { a.kind = Attribute::Kind::Floats; a.floats = value.cast<std::vector<float>>(); }
  else if (kind == "strings") { a.kind = Attribute::Kind::Strings; a.strings = value.cast<std::vector<std::string>>(); }
  else if (kind == "tensor") {
    a.kind = Attribute::Kind::Tensor;
    a.tensor_dtype = tensor_dtype;
    a.tensor_shape = tensor_shape;
    const std::string bytes = value.cast<py::bytes>();
    a.tensor_data.assign(bytes.begin(), bytes.end());
  } else {
    throw ModelError("unknown attribute kind '" + kind + "'");
  }
  return a;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "tinyai-workbench native execution core";
  m.attr("__version__") = TINYAI_VERSION;
  py::register_exception_translator(&translate_exceptions);

  py::class_<MemoryOptimizerConfig>(m, "MemoryOptimizerConfig")
      .def(py::init<>())
      .def_readwrite("enable_tensor_reuse", &MemoryOptimizerConfig::enable_tensor_reuse)
      .def_readwrite("enable_in_place_ops", &MemoryOptimizerConfig::enable_in_place_ops)
      .def_readwrite("memory_speed_tradeoff", &MemoryOptimizerConfig::memory_speed_tradeoff)
      .def_readwrite("max_memory_budget", &MemoryOptimizerConfig::max_memory_budget);
  py::class_<ProgressiveLoaderConfig>(m, "ProgressiveLoaderConfig")
      .def(py::init<>())
      .def_readwrite("enable_prefetch", &ProgressiveLoaderConfig::enable_prefetch)
      .def_readwrite("prefetch_window", &ProgressiveLoaderConfig::prefetch_window)
      .def_readwrite("enable_adaptive_window", &ProgressiveLoaderConfig::enable_adaptive_window)
      .def_readwrite("max_memory_usage", &ProgressiveLoaderConfig::max_memory_usage);
  py::class_<LayerSchedulerConfig>(m, "LayerSchedulerConfig")
      .def(py::init<>())
      .def_readwrite("enable_checkpointing", &LayerSchedulerConfig::enable_checkpointing)
      .def_readwrite("memory_speed_tradeoff", &LayerSchedulerConfig::memory_speed_tradeoff)
      .def_readwrite("recompute_activations", &LayerSchedulerConfig::recompute_activations)
      .def_readwrite("max_activation_memory", &LayerSchedulerConfig::max_activation_memory);
  py::class_<CacheConfig>(m, "CacheConfig")
      .def(py::init<>())
      .def_readwrite("block_size", &CacheConfig::block_size)
      .def_readwrite("cache_line_size", &CacheConfig::cache_line_size)
      .def_readwrite("enable_prefetch", &CacheConfig::enable_prefetch)
      .def_readwrite("prefetch_distance", &CacheConfig::prefetch_distance);
  py::class_<SessionConfig>(m, "SessionConfig")
      .def(py::init<>())
      .def_readwrite("memory", &SessionConfig::memory)
      .def_readwrite("loader", &SessionConfig::loader)
      .def_readwrite("scheduler", &SessionConfig::scheduler)
      .def_readwrite("cache", &SessionConfig::cache)
      .def_readwrite("simd_level", &SessionConfig::simd_level)
      .def_readwrite("threads", &SessionConfig::threads);

  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph")
      .def_property_readonly("num_nodes", [](const Graph& g) { return g.nodes.size(); })
      .def_property_readonly("num_values", [](const Graph& g) { return g.values.size(); });

  py::class_<GraphBuilder>(m, "GraphBuilder")
      .def(py::init<std::string, int>(), py::arg("name"), py::arg("opset"))
      .def("add_value", &GraphBuilder::add_value)
      .def("set_constant", &GraphBuilder::set_constant)
      .def("add_node", &GraphBuilder::add_node)
      .def("set_attr",
           [](GraphBuilder& b, int node, const std::string& key, const std::string& kind,
              const py::object& value, int32_t tensor_dtype, const Shape& tensor_shape) {
             b.set_attr(node, key, make_attr(kind, value, tensor_dtype, tensor_shape));
           },
           py::arg("node"), py::arg("key"), py::arg("kind"), py::arg("value"),
           py::arg("tensor_dtype") = 0, py::arg("tensor_shape") = Shape{})
      .def("add_layer", &GraphBuilder::add_layer)
      .def("set_inputs", &GraphBuilder::set_inputs)
      .def("set_outputs", &GraphBuilder::set_outputs)
      .def("finish", [](GraphBuilder& b) { return std::const_pointer_cast<Graph>(b.finish()); });

  py::class_<Session>(m, "Session")
      .def(py::init([](std::shared_ptr<Graph> g, const std::string& weights_path,
                       const SessionConfig& cfg) {
             py::gil_scoped_release release;  // reading weights can take a while
             return std::make_unique<Session>(g, weights_path, cfg);
           }),
           py::arg("graph"), py::arg("weights_path"), py::arg("config"))
      .def("run",
           [](Session& s, const py::dict& inputs) {
             auto borrowed = borrow_inputs(inputs);  // `inputs` keeps the arrays alive
             std::map<std::string, TensorPtr> outs;
             {
               py::gil_scoped_release release;
               outs = s.run(borrowed);
             }
             py::dict result;
             for (const auto& kv : outs) result[py::str(kv.first)] = to_numpy(*kv.second);
             return result;
           })
      .def("stats",
           [](const Session& s) {
             // Gather without the GIL: the engine thread may hold the session/loader locks
             // for a moment, and the GUI thread polling here must not block Python meanwhile.
             SessionStats session_stats;
             LoaderStats loader_stats;
             {
               py::gil_scoped_release release;
               session_stats = s.stats();
               loader_stats = s.loader().stats();
             }
             py::dict d = stats_dict(session_stats);
             // Loader counters under the names the workbench polls (plus per-layer lists).
             py::dict ld = loader_stats_dict(loader_stats);
             for (auto item : ld) d[py::str("loader_" + py::cast<std::string>(item.first))] = item.second;
             d["loader_hits"] = ld["hits"];
             d["loader_misses"] = ld["misses"];
             d["stall_s"] = ld["stall_seconds"];
             for (const char* k : {"layer_status", "layer_priority", "layer_load_seconds",
                                   "layer_hits", "layer_misses", "bandwidth_limit_mbps", "storage"})
               if (ld.contains(k)) d[k] = ld[k];
             return d;
           })
      .def("get_layer_status", [](const Session& s, int i) { return static_cast<int>(s.loader().layer_status(i)); })
      .def("set_layer_priority",
           [](Session& s, int i, int p) { s.loader().set_layer_priority(i, static_cast<LayerPriority>(p)); })
      .def("get_layer_priority", [](const Session& s, int i) { return static_cast<int>(s.loader().layer_priority(i)); })
      .def("load_layer", [](Session& s, int i) {
        py::gil_scoped_release release;
        return s.loader().load_layer(i);
      })
      .def("unload_layer", [](Session& s, int i) { return s.loader().unload_layer(i); })
      .def("layer_error", [](const Session& s, int i) { return s.loader().layer_error(i); })
      .def("set_bandwidth_limit_mbps", [](Session& s, double mbps) { s.loader().set_bandwidth_limit_mbps(mbps); })
      .def("set_layer_checkpointing_strategy",
           [](Session& s, int layer, int strategy) {
             s.set_layer_checkpointing_strategy(layer, static_cast<CheckpointStrategy>(strategy));
           })
      .def("get_layer_checkpointing_strategy",
           [](const Session& s, int layer) { return static_cast<int>(s.layer_checkpointing_strategy(layer)); })
      .def("set_config", &Session::set_config)
      .def_property_readonly("config", &Session::config)
      .def("cancel", &Session::cancel)
      .def("has_plan", [](Session& s, const py::dict& inputs) { return s.has_plan(borrow_inputs(inputs)); })
      .def("estimate_memory_usage",
           [](Session& s, const py::dict& inputs) {
             auto borrowed = borrow_inputs(inputs);
             MemoryEstimate m;
             {
               py::gil_scoped_release release;  // may profile (run the model once)
               m = s.estimate(borrowed);
             }
             return estimate_dict(m);
           })
      .def("create_execution_plan",
           [](Session& s, const py::dict& inputs) {
             auto borrowed = borrow_inputs(inputs);
             std::vector<PlanStep> steps;
             {
               py::gil_scoped_release release;
               steps = s.plan_steps(borrowed);
             }
             py::list out;
             for (const auto& st : steps) out.append(plan_step_dict(st));
             return out;
           })
      .def("begin_stepping", [](Session& s, const py::dict& inputs) { s.begin_stepping(borrow_inputs(inputs)); })
      .def("execute_layer",
           [](Session& s, int layer) {
             std::map<std::string, TensorPtr> outs;
             {
               py::gil_scoped_release release;
               outs = s.execute_layer(layer);
             }
             py::dict result;
             for (const auto& kv : outs) result[py::str(kv.first)] = to_numpy(*kv.second);
             return result;
           })
      .def_property_readonly("next_step_layer", &Session::next_step_layer);

  m.def("registered_op_types", &registered_op_types);
  m.def("live_buffer_count", &live_buffer_count);
  m.def("has_kernel", &has_kernel);
  m.def("crc32", [](py::bytes b) {
    const std::string s = b;
    return crc32_update(0, s.data(), s.size());
  });

  bind_loader(m);
  bind_simd(m);
}
