"""What-if sweep panel: budget range (and optionally tradeoff), progress and cancel, and the
latency-vs-peak-memory scatter with its Pareto front. Clicking a point asks to apply it."""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from tinyai_workbench.presets import human_size

from .config_panel import SizeSpin
from .live_plots import MIB

TRADEOFF_SWEEP = (0.0, 0.5, 1.0)


class SweepView(QWidget):
    startRequested = Signal(int, int, int, bool)   # low bytes, high bytes, steps, sweep tradeoff too
    cancelRequested = Signal()
    pointChosen = Signal(dict)                     # a result row (its "settings" is a Preset)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.low, self.high = SizeSpin(), SizeSpin()
        self.low.setSpecialValueText("")
        self.high.setSpecialValueText("")
        self.low.setMinimum(1.0)
        self.high.setMinimum(1.0)
        self.low.setValue(64)
        self.high.setValue(256)
        self.steps = QSpinBox()
        self.steps.setRange(1, 50)
        self.steps.setValue(6)
        self.with_tradeoff = QCheckBox("also tradeoff 0 / 0.5 / 1")
        self.start = QPushButton("Run sweep")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        for w in (QLabel("Budget from"), self.low, QLabel("to"), self.high, QLabel("steps"), self.steps,
                  self.with_tradeoff, self.start, self.cancel):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m points")
        self.progress.setValue(0)
        self.status = QLabel("Sweep the memory budget: each point runs the model once in the engine thread.")
        prow = QHBoxLayout()
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.status, 2)
        layout.addLayout(prow)

        self.plot = pg.PlotWidget()
        self.plot.setTitle("Latency vs peak memory (click a point to apply its settings)", size="9pt")
        self.plot.setLabel("bottom", "measured peak", units="MiB")
        self.plot.setLabel("left", "latency", units="ms")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMenuEnabled(False)
        self.plot.addLegend(offset=(5, 5), labelTextSize="8pt")
        self.scatter = pg.ScatterPlotItem(size=10, brush=pg.mkBrush(66, 135, 245, 200), pen=None,
                                          hoverable=True, name="feasible")
        self.front = self.plot.plot([], [], pen=pg.mkPen((220, 30, 30), width=2), name="Pareto front")
        self.plot.addItem(self.scatter)
        self.scatter.sigClicked.connect(self._clicked)
        layout.addWidget(self.plot, 1)
        self.rows: List[dict] = []
        self.start.clicked.connect(self._start)
        self.cancel.clicked.connect(self.cancelRequested.emit)

    def suggest_range(self, minimum: Optional[int], unlimited_peak: Optional[int]) -> None:
        """Centre the default range on the model: from its minimum to a little above its peak."""
        if minimum:
            self.low.set_bytes(int(minimum * 0.5))
        if unlimited_peak:
            self.high.set_bytes(int(unlimited_peak * 1.25))

    def _start(self) -> None:
        low, high = self.low.bytes() or 0, self.high.bytes() or 0
        if high < low:
            low, high = high, low
        self.rows = []
        self._redraw()
        self.startRequested.emit(low, high, self.steps.value(), self.with_tradeoff.isChecked())

    def set_running(self, running: bool, total: int = 0) -> None:
        self.start.setEnabled(not running)
        self.cancel.setEnabled(running)
        if running:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(0)
            self.status.setText("sweeping…")

    def on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def add_row(self, row: dict) -> None:
        self.rows.append(row)
        self._redraw()

    def finish(self, rows: List[dict], cancelled: bool) -> None:
        self.rows = list(rows)
        self._redraw()
        self.set_running(False)
        feasible = sum(1 for r in rows if r.get("error") is None)
        self.status.setText(("cancelled after " if cancelled else "done: ")
                            + f"{len(rows)} points, {feasible} feasible"
                            + ("" if feasible == len(rows) else f", {len(rows) - feasible} over budget"))

    def _redraw(self) -> None:
        from tinyai_workbench.app.sweep import pareto_front
        ok = [r for r in self.rows if r.get("error") is None and r.get("latency_s") is not None]
        spots = [{"pos": (r["peak_bytes"] / MIB, r["latency_s"] * 1e3), "data": r,
                  "brush": pg.intColor(int(r["tradeoff"] * 2), 3) if len({x["tradeoff"] for x in ok}) > 1 else None}
                 for r in ok]
        for s in spots:
            if s["brush"] is None:
                del s["brush"]
        self.scatter.setData(spots)
        front = pareto_front(self.rows)
        self.front.setData(np.array([r["peak_bytes"] for r in front], float) / MIB,
                           np.array([r["latency_s"] for r in front], float) * 1e3)

    def _clicked(self, _item, points, *args) -> None:
        if len(points):
            row = points[0].data()
            self.status.setText(f"applied: budget {human_size(row['budget'])}, tradeoff {row['tradeoff']:.2f} "
                                f"({row['latency_s'] * 1e3:.0f} ms, peak {human_size(row['peak_bytes'])})")
            self.pointChosen.emit(row)
