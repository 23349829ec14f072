"""Session: runs a model on the native core with a Config."""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Callable, Dict, List, Mapping, Optional

import numpy as np

from . import _core
from .config import Config, to_native
from .errors import InputError
from .model import Model

_SUPPORTED_INPUT_DTYPES = (np.float32, np.int64, np.int32, np.bool_)


class Session:
    """Executes `model` with `config`. ``run`` releases the GIL while the core computes.

    The first run at a new input shape profiles the model (one tracked buffer per tensor);
    from then on a static plan (execution order + activation arena) computed from that
    profile is used. Changing memory settings re-plans without profiling again.
    """

    def __init__(self, model: Model, config: Optional[Config] = None):
        if not isinstance(model, Model):
            raise TypeError(f"Session needs a tinyai_workbench Model, got {type(model).__name__}")
        self.model = model
        self._config = config if config is not None else Config()
        self._native = _core.Session(model.native_graph, str(model.weights_path),
                                     to_native(self._config))
        self._last_signature: Optional[Dict[str, tuple]] = None  # name -> (shape, dtype)

    @property
    def config(self) -> Config:
        return self._config

    def set_config(self, config: Config) -> None:
        """Queue a new configuration; it takes effect at the next run (never mid-run)."""
        native = to_native(config)  # validate before accepting
        self._config = config
        self._native.set_config(native)

    def _feeds(self, inputs: Optional[Mapping[str, np.ndarray]]) -> Dict[str, np.ndarray]:
        if inputs is None:
            if self._last_signature is not None:
                return {k: np.zeros(shape, dtype) for k, (shape, dtype) in self._last_signature.items()}
            return self.default_inputs()
        if not isinstance(inputs, Mapping):
            raise InputError("inputs must be a mapping of input name to numpy array")
        feeds = {}
        for name, value in inputs.items():
            arr = np.asarray(value)
            if arr.dtype.type not in _SUPPORTED_INPUT_DTYPES:
                want = next((i.dtype for i in self.model.inputs if i.name == name), None)
                hint = f"; the model expects {np.dtype(want).name}" if want is not None else ""
                raise InputError(f"input '{name}' has dtype {arr.dtype.name}{hint}")
            feeds[str(name)] = np.require(arr, requirements="C")  # keeps 0-d scalars 0-d
        return feeds

    def default_inputs(self, batch: int = 1) -> Dict[str, np.ndarray]:
        """Zero inputs of the declared shapes (symbolic dimensions set to `batch`)."""
        feeds = {}
        for info in self.model.inputs:
            if info.shape is None:
                raise InputError(f"input '{info.name}' has no declared shape; pass inputs explicitly")
            shape = tuple(d if isinstance(d, int) else batch for d in info.shape)
            feeds[info.name] = np.zeros(shape, dtype=info.dtype or np.float32)
        return feeds

    def run(self, inputs: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        if not isinstance(inputs, Mapping):
            raise InputError("run() takes a mapping of input name to numpy array")
        feeds = self._feeds(inputs)
        out = self._native.run(feeds)
        self._last_signature = {k: (v.shape, v.dtype) for k, v in feeds.items()}
        return out

    def stats(self) -> Dict[str, float]:
        """A consistent snapshot of memory and timing counters; cheap enough to poll at 30 Hz."""
        return self._native.stats()

    def cancel(self) -> None:
        """Stop the current run at the next layer boundary (it raises CancelledError)."""
        self._native.cancel()

    # -- Memory optimizer / layer scheduler (TinyAI seed API) -------------------------------

    def estimate_memory_usage(self, inputs: Optional[Mapping[str, np.ndarray]] = None) -> Dict[str, int]:
        """Peak bytes per category for `inputs`' shapes (default: the last run's, else the
        declared shapes) under the current — including just-queued — configuration.

        Keys match stats(): activation_peak_bytes, weight_peak_bytes, scratch_peak_bytes,
        total_peak_bytes; plus the planner's figures (naive_activation_bytes,
        in_order_bound_bytes, live_peak_bytes, minimum_total_bytes, in_place_count,
        recompute_count, reordered), keep_arena, and keep_packed_weights / packed_weight_bytes:
        whether convs keep their GEMM-packed weights across runs (memory_speed_tradeoff >= 0.75
        with weights resident) and the bytes of those copies (part of weight_peak_bytes).
        The first call at a new shape profiles the model once; the first under settings that
        keep packed weights runs the model once to measure them.
        Raises BudgetError (stating the lowest reachable arena) when checkpointing is on and
        ``scheduler.max_activation_memory`` cannot be met.
        """
        return self._native.estimate_memory_usage(self._feeds(inputs))

    def create_execution_plan(self, inputs: Optional[Mapping[str, np.ndarray]] = None) -> List[dict]:
        """Per-step plan: node, layer, node_name, op_type, live_bytes, output_offset,
        output_bytes (the arena range is [output_offset, output_offset + output_bytes)),
        in_place, recomputed (the step re-runs a node whose output was dropped to save
        activation memory; its output may sit at a different offset than the first run's)."""
        return self._native.create_execution_plan(self._feeds(inputs))

    def set_layer_checkpointing_strategy(self, layer, strategy) -> None:
        """KEEP, CHECKPOINT or RECOMPUTE for `layer` (index or name); names or values accepted.
        Takes effect (re-plans) at the next run or estimate, while
        ``config.scheduler.enable_checkpointing`` is on; see CheckpointStrategy."""
        from .config import CheckpointStrategy
        self._native.set_layer_checkpointing_strategy(self._layer_index(layer),
                                                      int(CheckpointStrategy.parse(strategy)))

    def get_layer_checkpointing_strategy(self, layer):
        from .config import CheckpointStrategy
        return CheckpointStrategy(self._native.get_layer_checkpointing_strategy(self._layer_index(layer)))

    def last_plan(self) -> dict:
        steps = self.create_execution_plan()
        return {"steps": steps, "peak_live_bytes": max((s["live_bytes"] for s in steps), default=0)}

    def execute_layer(self, layer: int, inputs: Optional[Mapping[str, np.ndarray]] = None) -> Dict[str, np.ndarray]:
        """Step through the model: layer 0 starts a stepped run with `inputs`; each call runs
        the next layer; the call for the last layer returns the model outputs."""
        if layer == 0:
            self._native.begin_stepping(self._feeds(inputs))
        return self._native.execute_layer(layer)

    @property
    def next_step_layer(self) -> int:
        """The layer execute_layer() expects next (-1: no stepped run in progress)."""
        return self._native.next_step_layer

    @contextlib.contextmanager
    def tensor_reuse_pool(self):
        """Keep the activation arena allocated across the runs inside the block."""
        saved = self._config
        cfg = replace(saved, memory=replace(saved.memory, enable_tensor_reuse=True,
                                            memory_speed_tradeoff=max(saved.memory.memory_speed_tradeoff, 0.5)))
        self.set_config(cfg)
        try:
            yield self
        finally:
            self.set_config(saved)

    def execute_with_tensor_reuse(self, fn: Callable, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` (which typically calls run() repeatedly) with the reuse
        pool active; returns fn's result."""
        with self.tensor_reuse_pool():
            return fn(*args, **kwargs)

    # -- Progressive loader (TinyAI seed API) ---------------------------------------------
    # Weights stream through a cache bounded by loader.max_memory_usage when it is set;
    # otherwise every layer is loaded when the session is created.

    def _layer_index(self, layer) -> int:
        if isinstance(layer, str):
            for info in self.model.layers:
                if info.name == layer:
                    return info.index
            raise ValueError(f"no layer named {layer!r}")
        index = int(layer)
        if not 0 <= index < len(self.model.layers):
            raise ValueError(f"layer index {index} out of range (model has {len(self.model.layers)} layers)")
        return index

    def get_layer_status(self, layer):
        from .loader import LayerStatus
        return LayerStatus(self._native.get_layer_status(self._layer_index(layer)))

    def set_layer_priority(self, layer, priority) -> None:
        """LOW, MEDIUM, HIGH or CRITICAL (pinned: never evicted); names or values accepted."""
        from .loader import LayerPriority
        self._native.set_layer_priority(self._layer_index(layer), int(LayerPriority.parse(priority)))

    def get_layer_priority(self, layer):
        from .loader import LayerPriority
        return LayerPriority(self._native.get_layer_priority(self._layer_index(layer)))

    def load_layer(self, layer) -> bool:
        """Read a layer now (synchronously); False (status ERROR) if it cannot be loaded."""
        return self._native.load_layer(self._layer_index(layer))

    def unload_layer(self, layer) -> bool:
        """Drop a resident layer; False if it is in use or CRITICAL."""
        return self._native.unload_layer(self._layer_index(layer))

    def layer_error(self, layer) -> str:
        return self._native.layer_error(self._layer_index(layer))

    def set_bandwidth_limit_mbps(self, mbps: float) -> None:
        """Emulate a slower disk (MB/s; 0 = the real disk). Stats label it as emulated."""
        if mbps < 0:
            raise ValueError(f"bandwidth limit must be >= 0 MB/s, got {mbps}")
        self._native.set_bandwidth_limit_mbps(float(mbps))

    # -- SIMD and cache optimization (TinyAI seed API; see simd.py) -------------------------

    def enable_simd(self, op_type, enable: bool) -> bool:
        """Switch SIMD for one op family (MATRIX_MUL, CONV, ACTIVATION, ATTENTION); next run."""
        from . import simd
        return simd.enable_simd(self, op_type, enable)

    def set_simd_optimization_level(self, level: int) -> None:
        from . import simd
        simd.set_simd_optimization_level(self, level)

    def cache_stats(self) -> Dict[str, object]:
        """CPU cache references/misses with a `source` field ("perf" or "model")."""
        from . import simd
        return simd.cache_stats(self)

    def optimize_memory_layout(self) -> Dict[str, object]:
        from . import simd
        return simd.optimize_memory_layout(self)
