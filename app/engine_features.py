"""The one place the workbench asks the engine for optional features.

The engine grows issue by issue (loader status, priorities, checkpoint strategies, per-op
SIMD, cache statistics, emulated disk speed). Everything the GUI needs beyond Config,
run, stats and cancel goes through here: each feature is detected with hasattr, and when it
is missing the answer is None/False so the GUI shows "n/a" or a disabled control with
UNAVAILABLE_TIP. Nothing here invents a number.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Dict, List, Optional

import tinyai_workbench as tw
from tinyai_workbench.core_native.config import Config, ProgressiveLoaderConfig
from tinyai_workbench.core_native.loader_bounds import streaming_latency_bound
from tinyai_workbench.presets import human_size

UNAVAILABLE_TIP = "available when the engine supports it"
LAYER_STATUSES = ("UNLOADED", "LOADING", "LOADED", "ERROR")
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
CHECKPOINT_STRATEGIES = ("KEEP", "CHECKPOINT", "RECOMPUTE")
SIMD_OP_FAMILIES = {"matrix_mul": "MATRIX_MUL", "conv": "CONV", "activation": "ACTIVATION",
                    "attention": "ATTENTION"}


def _enum_member(enum_name: str, name: str):
    """The engine's enum member for `name` if it exports that enum, else the name itself."""
    enum = getattr(tw, enum_name, None)
    if enum is None:
        return name
    for candidate in (name, name.capitalize(), name.lower()):
        member = getattr(enum, candidate, None)
        if member is not None:
            return member
    return name


def _name_of(value, names) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value.upper()
    if hasattr(value, "name"):
        return str(value.name).upper()
    try:
        return names[int(value)]
    except (ValueError, TypeError, IndexError):
        return str(value)


def status_name(value) -> str:
    """UNLOADED / LOADING / LOADED / ERROR from an engine enum, int or string."""
    return _name_of(value, LAYER_STATUSES)


def _disk_speed_field() -> Optional[str]:
    return next((f.name for f in fields(ProgressiveLoaderConfig) if "bandwidth" in f.name
                 or "disk_speed" in f.name), None)


def _disk_speed_method(session) -> Optional[str]:
    for name in ("set_bandwidth_limit_mbps", "set_storage_bandwidth_limit", "set_emulated_disk_speed"):
        if hasattr(session, name):
            return name
    return None


class EngineFeatures:
    """What a session offers beyond the foundation API, detected once per session."""

    def __init__(self, session):
        self.session = session
        s = session
        self.estimate = hasattr(s, "estimate_memory_usage")
        self.plan = hasattr(s, "create_execution_plan")
        self.step = hasattr(s, "execute_layer")
        self.layer_status = hasattr(s, "get_layer_status")
        self.layer_priority = hasattr(s, "set_layer_priority")
        self.checkpoint_strategy = hasattr(s, "set_layer_checkpointing_strategy")
        self.simd_ops = hasattr(s, "enable_simd")
        self.cache_stats = hasattr(s, "cache_stats")
        self.disk_speed = _disk_speed_field() is not None or _disk_speed_method(s) is not None

    # -- read ------------------------------------------------------------------------------

    def memory_estimate(self, feeds) -> Optional[dict]:
        return dict(self.session.estimate_memory_usage(feeds)) if self.estimate else None

    def execution_plan(self, feeds) -> Optional[List[dict]]:
        return list(self.session.create_execution_plan(feeds)) if self.plan else None

    def layer_statuses(self, n_layers: int) -> Optional[List[str]]:
        if not self.layer_status:
            return None
        get = self.session.get_layer_status
        return [status_name(get(i)) for i in range(n_layers)]

    def cpu_cache_stats(self) -> Optional[dict]:
        return dict(self.session.cache_stats()) if self.cache_stats else None

    # -- write (False: the engine cannot do it yet) --------------------------------------

    def set_layer_priority(self, layer: int, priority: str) -> bool:
        if not self.layer_priority:
            return False
        self.session.set_layer_priority(layer, _enum_member("LayerPriority", priority))
        return True

    def set_checkpoint_strategy(self, layer: int, strategy: str) -> bool:
        if not self.checkpoint_strategy:
            return False
        self.session.set_layer_checkpointing_strategy(layer, _enum_member("CheckpointStrategy", strategy))
        return True

    def set_simd_ops(self, ops: Dict[str, bool]) -> bool:
        if not self.simd_ops:
            return False
        for key, on in ops.items():
            self.session.enable_simd(_enum_member("SimdOp", SIMD_OP_FAMILIES.get(key, key.upper())), bool(on))
        return True

    def config_with_disk_speed(self, config: Config, mbps: float) -> Config:
        """`config` carrying the emulated disk speed when the engine takes it in the Config."""
        field_name = _disk_speed_field()
        if field_name is None:
            return config
        return replace(config, loader=replace(config.loader, **{field_name: float(mbps)}))

    def set_disk_speed(self, mbps: float) -> bool:
        method = _disk_speed_method(self.session)
        if method is None:
            return _disk_speed_field() is not None  # applied through the Config
        getattr(self.session, method)(float(mbps))
        return True


def simd_capabilities() -> Optional[dict]:
    """cpuid-derived ISA support, or None when the engine does not report it."""
    fn = getattr(tw, "simd_capabilities", None)
    if fn is None:
        return None
    caps = fn()
    return dict(caps) if isinstance(caps, dict) else {"capabilities": caps}


def disk_speed_supported_by_config() -> bool:
    return _disk_speed_field() is not None


def loader_summary(stats: dict) -> dict:
    """Weight-cache figures from a stats() snapshot; None for keys the engine does not report."""
    hits, misses = stats.get("loader_hits"), stats.get("loader_misses")
    rate = None
    if hits is not None and misses is not None and hits + misses > 0:
        rate = hits / (hits + misses)
    return {
        "hits": hits, "misses": misses, "hit_rate": rate,
        "stall_s": stats.get("stall_s"),
        "layer_load_s": stats.get("layer_load_seconds") or stats.get("layer_load_s"),
        "layer_hits": stats.get("layer_hits"), "layer_misses": stats.get("layer_misses"),
        "layer_status": stats.get("layer_status"),
        # The residency plan (adaptive window under a weight budget) and per-layer timing.
        "plan_active": stats.get("loader_plan_active"),
        "planned_bytes": stats.get("loader_planned_resident_bytes"),
        "layer_planned_bytes": stats.get("loader_layer_planned_bytes"),
        "plan_predicted_s": stats.get("loader_plan_predicted_seconds"),
        "plan_stream_all_s": stats.get("loader_plan_stream_all_seconds"),
        "layer_compute_s": stats.get("layer_compute_seconds") or None,
        "layer_wait_s": stats.get("layer_wait_seconds") or None,
    }


def plan_summary(loader: dict, bound_s: Optional[float] = None) -> str:
    """The status bar's line on the residency plan ("" while none is in effect); `bound_s`:
    the least latency any schedule could reach (streaming_bound)."""
    if not loader.get("plan_active") or loader.get("planned_bytes") is None:
        return ""
    text = f"plan keeps {human_size(int(loader['planned_bytes']))}"
    predicted, stream_all = loader.get("plan_predicted_s"), loader.get("plan_stream_all_s")
    if predicted and stream_all and stream_all > 0:
        text += f" · {predicted * 1e3:.0f} ms simulated (keeping nothing: {stream_all * 1e3:.0f} ms)"
    if bound_s:
        text += f" · no schedule under {bound_s * 1e3:.0f} ms"
    return text


def streaming_bound(stats: dict, layer_order: Optional[List[int]]) -> Optional[float]:
    """The schedule lower bound (loader_bounds.streaming_latency_bound) for the last run: its
    per-layer compute, the loader's weight bytes, budget and measured disk rate, in the plan's
    layer order. None when something is missing (no budget, no run yet, no disk rate)."""
    compute, sizes = stats.get("layer_compute_seconds"), stats.get("loader_layer_bytes")
    budget, rate = stats.get("loader_budget_bytes"), stats.get("loader_disk_mb_per_s")
    if not (compute and sizes and budget and rate and layer_order):
        return None
    order = [layer for layer in layer_order if 0 <= layer < min(len(compute), len(sizes))]
    return streaming_latency_bound([compute[layer] for layer in order],
                                   [sizes[layer] for layer in order], budget, rate * 1e6)


def plan_labels(layer_weight_bytes, plan_active, layer_planned_bytes) -> Optional[list]:
    """Per layer, what the loader's residency plan does with its weights: "kept" (resident
    across inferences), "part kept" (a layer streamed in pieces, some kept), "streamed", or
    "—" (no weights); None while no plan is in effect (no budget, adaptive window off, or
    before the first inference has been timed)."""
    if not plan_active or layer_planned_bytes is None:
        return None
    labels = []
    for weight, planned in zip(layer_weight_bytes, layer_planned_bytes):
        if not weight:
            labels.append("—")
        elif planned >= weight:
            labels.append("kept")
        else:
            labels.append("part kept" if planned else "streamed")
    return labels


def cpu_cache_hit_rate(cache: Optional[dict]) -> Optional[float]:
    """Hit rate from cache_stats(), however the engine spells it."""
    if not cache:
        return None
    if "hit_rate" in cache:
        return float(cache["hit_rate"])
    hits = next((cache[k] for k in ("hits", "l1_hits", "cache_hits") if k in cache), None)
    misses = next((cache[k] for k in ("misses", "l1_misses", "cache_misses") if k in cache), None)
    if hits is None or misses is None or hits + misses <= 0:
        return None
    return hits / (hits + misses)
