"""Memory estimate and plan preview: what the next run will need, shown before running."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from tinyai_workbench.presets import human_size

from .live_plots import MIB, NA_TEXT


def estimate_text(estimate: Optional[dict], budget: Optional[int], error: Optional[str]) -> str:
    if error:
        return f"<b style='color:#c00'>Estimate failed:</b> {error}"
    if estimate is None:
        return f"Estimate: {NA_TEXT}"
    e = estimate
    parts = [f"<b>Estimated peak {human_size(e.get('total_peak_bytes'))}</b> = activations "
             f"{human_size(e.get('activation_peak_bytes'))} + weights {human_size(e.get('weight_peak_bytes'))}"
             f" + scratch {human_size(e.get('scratch_peak_bytes'))} + outputs {human_size(e.get('output_bytes', 0))}"]
    if "minimum_total_bytes" in e:
        parts.append(f"minimum feasible budget {human_size(e['minimum_total_bytes'])}")
    if "naive_activation_bytes" in e:
        parts.append(f"activations without reuse {human_size(e['naive_activation_bytes'])}; "
                     f"{e.get('in_place_count', 0)} in-place ops"
                     + ("; order rearranged to lower the peak" if e.get("reordered") else ""))
    if budget:
        total = e.get("total_peak_bytes", 0)
        verdict = (f"<span style='color:#080'>fits the {human_size(budget)} budget "
                   f"({human_size(budget - total)} headroom)</span>") if total <= budget else \
            f"<span style='color:#c00'>exceeds the {human_size(budget)} budget by {human_size(total - budget)}</span>"
        parts.append(verdict)
    return "<br>".join(parts)


class EstimateView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.label = QLabel(f"Estimate: {NA_TEXT}")
        self.label.setTextFormat(Qt.RichText)
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        self.plot = pg.PlotWidget()
        self.plot.setTitle("Plan preview: live activation bytes per step", size="9pt")
        self.plot.setLabel("left", "MiB")
        self.plot.setLabel("bottom", "step")
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        self.curve = self.plot.plot([], [], stepMode="center", fillLevel=0, brush=(66, 135, 245, 90),
                                    pen=pg.mkPen((66, 135, 245), width=1.2), name="live bytes")
        self.recomputed = self.plot.plot([], [], pen=None, symbol="t", symbolSize=7, symbolBrush=(220, 40, 40),
                                         name="recomputed")
        self.limit = pg.InfiniteLine(angle=0, pen=pg.mkPen((220, 30, 30), width=2, style=Qt.DashLine),
                                     label="activation budget", labelOpts={"position": 0.9, "color": (220, 30, 30)})
        self.limit.setVisible(False)
        self.plot.addItem(self.limit)
        layout.addWidget(self.plot, 1)
        self.last = None

    def show_estimate(self, result: dict, budget: Optional[int], activation_budget: Optional[int]) -> None:
        self.last = result
        self.label.setText(estimate_text(result.get("estimate"), budget, result.get("error")))
        plan = result.get("plan")
        if plan:
            live = np.array([s.get("live_bytes", 0) for s in plan], dtype=float) / MIB
            self.curve.setData(np.arange(len(live) + 1), live)
            rec = [i for i, s in enumerate(plan) if s.get("recomputed")]
            self.recomputed.setData(np.array(rec, float) + 0.5, live[rec] if rec else [])
        else:
            self.curve.setData([], [])
        self.limit.setVisible(bool(activation_budget))
        if activation_budget:
            self.limit.setValue(activation_budget / MIB)
