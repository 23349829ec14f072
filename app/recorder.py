"""Stats recorded while the workbench runs: scrolling numpy buffers for the plots, and the
full history for CSV export."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

SERIES = ("t", "activation", "weight", "scratch", "output", "total", "budget", "rss",
          "weight_hit_rate", "cpu_hit_rate", "current_layer")
STATUS_CODES = {"n/a": 0, "UNLOADED": 1, "LOADING": 2, "LOADED": 3, "ERROR": 4, "EXECUTING": 5}


def _csv_column(series: str) -> str:
    if series == "t":
        return "t_s"
    if "rate" in series or series == "current_layer":
        return series
    return f"{series}_bytes"


class ScrollBuffer:
    """Fixed window of the latest `capacity` rows; append is O(1) amortised and `view()` is a
    contiguous slice (no copy), so plots call setData on it directly."""

    def __init__(self, capacity: int, width: int, dtype=np.float64, fill=np.nan):
        self.capacity = capacity
        self._buf = np.full((2 * capacity, width), fill, dtype=dtype)
        self._fill = fill
        self._end = 0

    def append(self, row) -> None:
        if self._end == self._buf.shape[0]:
            self._buf[:self.capacity] = self._buf[self.capacity:]
            self._end = self.capacity
        self._buf[self._end] = row
        self._end += 1

    def view(self) -> np.ndarray:
        return self._buf[max(0, self._end - self.capacity):self._end]

    def __len__(self) -> int:
        return min(self._end, self.capacity)

    def clear(self) -> None:
        self._buf[:] = self._fill
        self._end = 0


class StatsRecorder:
    """Samples (from the GUI's poll timer) and per-inference latencies."""

    def __init__(self, window: int = 900, history_limit: int = 200_000):
        self.window = window
        self.samples = ScrollBuffer(window, len(SERIES))
        self.latencies = ScrollBuffer(window, 2)  # (run index, seconds)
        self.status = None  # ScrollBuffer of layer-status codes, sized when a model loads
        self.n_layers = 0
        self.history: List[tuple] = []
        self.latency_history: List[tuple] = []
        self.history_limit = history_limit

    def reset(self, n_layers: int) -> None:
        self.samples.clear()
        self.latencies.clear()
        self.history.clear()
        self.latency_history.clear()
        self.n_layers = n_layers
        self.status = ScrollBuffer(self.window, max(n_layers, 1), dtype=np.uint8, fill=0)

    def add_sample(self, t: float, stats: dict, budget: Optional[int], rss: Optional[int],
                   weight_hit_rate: Optional[float], cpu_hit_rate: Optional[float],
                   statuses: Optional[Sequence[str]]) -> None:
        nan = math.nan
        row = (t, stats.get("activation_bytes", nan), stats.get("weight_bytes", nan),
               stats.get("scratch_bytes", nan), stats.get("output_bytes", 0.0), stats.get("total_bytes", nan),
               budget if budget else nan, rss if rss is not None else nan,
               nan if weight_hit_rate is None else weight_hit_rate,
               nan if cpu_hit_rate is None else cpu_hit_rate,
               stats.get("current_layer", -1))
        self.samples.append(row)
        if len(self.history) < self.history_limit:
            self.history.append(row)
        if self.status is not None:
            codes = np.zeros(self.status._buf.shape[1], np.uint8)
            if statuses is not None:
                codes[:len(statuses)] = [STATUS_CODES.get(s, 0) for s in statuses[:len(codes)]]
            layer = int(stats.get("current_layer", -1))
            if 0 <= layer < len(codes):
                codes[layer] = STATUS_CODES["EXECUTING"]
            self.status.append(codes)

    def add_latency(self, run_index: int, seconds: float) -> None:
        self.latencies.append((run_index, seconds))
        if len(self.latency_history) < self.history_limit:
            self.latency_history.append((run_index, seconds))

    def series(self) -> Dict[str, np.ndarray]:
        v = self.samples.view()
        return {name: v[:, i] for i, name in enumerate(SERIES)}

    def export_csv(self, path) -> Path:
        """One row per sample (bytes, rates 0..1), then one row per inference's latency."""
        path = Path(path)
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["kind", *[_csv_column(s) for s in SERIES], "run", "latency_s"])
            for row in self.history:
                w.writerow(["sample", *("" if isinstance(x, float) and math.isnan(x) else x for x in row), "", ""])
            for run, seconds in self.latency_history:
                w.writerow(["inference", *[""] * len(SERIES), int(run), seconds])
        return path
