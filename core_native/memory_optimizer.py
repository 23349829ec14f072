"""optimize_memory_usage: choose memory settings that fit a budget, or say what would."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Mapping, Optional

import numpy as np

from .config import Config
from .errors import BudgetError
from .model import Model
from .session import Session


@dataclass
class MemoryReport:
    """What optimize_memory_usage chose and why."""

    budget_bytes: int
    config: Config
    estimate: Dict[str, int]
    settings: Dict[str, object]

    @property
    def headroom_bytes(self) -> int:
        return self.budget_bytes - self.estimate["total_peak_bytes"]

    def __str__(self) -> str:
        e = self.estimate
        mib = lambda n: f"{n / 2**20:.2f} MiB"  # noqa: E731
        lines = [
            f"budget {mib(self.budget_bytes)}: fits with {mib(e['total_peak_bytes'])} "
            f"(headroom {mib(self.headroom_bytes)})",
            f"  activations {mib(e['activation_peak_bytes'])} (naive {mib(e['naive_activation_bytes'])}, "
            f"in-order bound {mib(e['in_order_bound_bytes'])}), weights {mib(e['weight_peak_bytes'])}, "
            f"scratch {mib(e['scratch_peak_bytes'])}, outputs {mib(e['output_bytes'])}",
            "  settings: " + ", ".join(f"{k}={v}" for k, v in self.settings.items()),
        ]
        return "\n".join(lines)


def _candidates(base: Config):
    """From the most speed-friendly to the most memory-frugal settings."""
    m = base.memory
    yield replace(base, memory=replace(m, enable_tensor_reuse=True, enable_in_place_ops=True))
    yield replace(base, memory=replace(m, enable_tensor_reuse=True, enable_in_place_ops=True,
                                       memory_speed_tradeoff=min(m.memory_speed_tradeoff, 0.25)))
    # Last resort: drop long-lived activations and recompute them (slower, bit-identical).
    yield replace(base, memory=replace(m, enable_tensor_reuse=True, enable_in_place_ops=True,
                                       memory_speed_tradeoff=min(m.memory_speed_tradeoff, 0.25)),
                  scheduler=replace(base.scheduler, enable_checkpointing=True, recompute_activations=True,
                                    memory_speed_tradeoff=0.0, max_activation_memory=None))


def optimize_memory_usage(model: Model, budget: int, inputs: Optional[Mapping[str, np.ndarray]] = None,
                          base: Optional[Config] = None) -> MemoryReport:
    """Pick settings under which `model` runs within `budget` bytes at `inputs`' shapes
    (default: declared shapes) and return a report. Raises BudgetError stating the minimum
    feasible budget when nothing fits."""
    if not isinstance(budget, int) or budget <= 0:
        raise ValueError(f"budget must be a positive number of bytes, got {budget!r}")
    base = base or Config()
    sess = Session(model, base)
    minimum = None
    for cfg in _candidates(base):
        sess.set_config(cfg)
        est = sess.estimate_memory_usage(inputs)
        # minimum_total_bytes assumes no recomputation; a recomputing candidate may go lower.
        lowest = min(est["minimum_total_bytes"], est["total_peak_bytes"])
        minimum = lowest if minimum is None else min(minimum, lowest)
        if est["total_peak_bytes"] <= budget:
            chosen = replace(cfg, memory=replace(cfg.memory, max_memory_budget=budget))
            settings = {"enable_tensor_reuse": cfg.memory.enable_tensor_reuse,
                        "enable_in_place_ops": cfg.memory.enable_in_place_ops,
                        "memory_speed_tradeoff": cfg.memory.memory_speed_tradeoff,
                        "reordered": est["reordered"], "in_place_ops": est["in_place_count"],
                        "recompute": cfg.scheduler.enable_checkpointing and cfg.scheduler.recompute_activations,
                        "recompute_steps": est["recompute_count"]}
            return MemoryReport(budget, chosen, est, settings)
    raise BudgetError(f"no settings fit a budget of {budget} bytes; the minimum feasible budget is "
                      f"{minimum} bytes ({minimum / 2**20:.2f} MiB)", minimum_bytes=minimum)
