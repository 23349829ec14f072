"""What-if sweeps: which (budget, tradeoff) points to try, and which results are Pareto-optimal."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from .engine_controller import SweepPoint


def sweep_points(low_bytes: int, high_bytes: int, steps: int,
                 tradeoffs: Sequence[float] = (0.5,)) -> List[SweepPoint]:
    """`steps` budgets spaced geometrically from low to high (inclusive), for each tradeoff."""
    if low_bytes <= 0 or high_bytes < low_bytes or steps < 1:
        raise ValueError("the sweep needs 0 < low <= high and at least one step")
    budgets = np.unique(np.geomspace(low_bytes, high_bytes, steps).round().astype(np.int64))
    return [SweepPoint(int(b), float(t)) for t in tradeoffs for b in budgets]


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
