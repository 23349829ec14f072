"""What-if sweeps: which (memory budget, tradeoff, loader weight budget) points to try, and
which results are Pareto-optimal."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

MIB = 2**20
# The config panel shows byte budgets in MiB with two decimals; budgets the sweep picks are
# rounded *up* to that grid so applying a clicked point never lands below the point's budget
# (a weight budget rounded below the streaming minimum would be infeasible).
SPIN_RESOLUTION = MIB / 100


@dataclass
class SweepPoint:
    budget: Optional[int]                 # max_memory_budget (None: unlimited)
    tradeoff: float
    loader_level: Optional[float] = None  # None: the user's loader budget; else loader_levels()


def round_up_to_spin(n: int) -> int:
    return int(round(math.ceil(n / SPIN_RESOLUTION - 1e-9) * SPIN_RESOLUTION))


def budget_steps(low_bytes: int, high_bytes: int, steps: int) -> List[int]:
    """`steps` budgets spaced geometrically from low to high (inclusive), deduplicated."""
    if low_bytes <= 0 or high_bytes < low_bytes or steps < 1:
        raise ValueError("the sweep needs 0 < low <= high and at least one step")
    return [int(b) for b in np.unique(np.geomspace(low_bytes, high_bytes, steps).round().astype(np.int64))]


def loader_levels(steps: int) -> List[float]:
    """Positions of the loader weight budget between the engine's streaming minimum (0) and
    all of the model's weights (1); see loader_budget_for. The worker resolves them, since only
    the engine knows the minimum."""
    if steps < 1:
        raise ValueError("the loader sweep needs at least one step")
    return [1.0] if steps == 1 else [float(x) for x in np.linspace(1.0, 0.0, steps)]


def loader_budget_for(level: float, weight_bytes: int, floor_bytes: int) -> int:
    """Weight-cache bytes at `level`: geometric between the streaming minimum `floor_bytes`
    (level 0) and `weight_bytes` (level 1), so small budgets, where latency changes most, get
    as many points as large ones. Never below the minimum."""
    if floor_bytes <= 0 or floor_bytes >= weight_bytes:
        return round_up_to_spin(max(weight_bytes, floor_bytes))
    level = min(max(level, 0.0), 1.0)
    return round_up_to_spin(int(math.ceil(floor_bytes * (weight_bytes / floor_bytes) ** level)))


def weight_streaming_range(estimate: Optional[dict]) -> Optional[Tuple[int, int]]:
    """(bytes of all weights, smallest weight cache that streams) from an estimate made with
    every weight resident (no loader budget); None when the engine does not report both."""
    if not estimate or estimate.get("minimum_streaming_total_bytes") is None:
        return None
    weights = int(estimate["weight_peak_bytes"])
    floor = int(estimate["minimum_streaming_total_bytes"]) - (int(estimate["minimum_total_bytes"]) - weights)
    return weights, max(floor, 0)


def sweep_points(low_bytes: int, high_bytes: int, steps: int,
                 tradeoffs: Sequence[float] = (0.5,),
                 loader: Sequence[Optional[float]] = (None,),
                 budgets: Optional[Sequence[Optional[int]]] = None) -> List[SweepPoint]:
    """Every (budget, tradeoff, loader fraction) combination. Budgets are `steps` geometric
    steps from low to high unless `budgets` is given (e.g. [None]: keep the user's budget).
    A loader level of None keeps the user's loader setting (see loader_levels)."""
    if budgets is None:
        budgets = budget_steps(low_bytes, high_bytes, steps)
    return [SweepPoint(None if b is None else int(b), float(t), None if f is None else float(f))
            for f in loader for t in tradeoffs for b in budgets]


def pareto_front(rows: Sequence[dict]) -> List[dict]:
    """Feasible rows no other row beats on both latency and peak memory, sorted by memory."""
    ok = sorted((r for r in rows if r.get("error") is None and r.get("latency_s") is not None),
                key=lambda r: (r["peak_bytes"], r["latency_s"]))
    front: List[dict] = []
    best_latency: Optional[float] = None
    for r in ok:
        if best_latency is None or r["latency_s"] < best_latency:
            front.append(r)
            best_latency = r["latency_s"]
    return front
