"""What-if sweep panel: memory budget range, optionally the tradeoff and the loader's weight
budget, progress and cancel, and the latency-vs-peak-memory scatter with its Pareto front.
Clicking a point asks to apply it."""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from tinyai_workbench.presets import human_size

from .config_panel import SizeSpin
from .live_plots import MIB

TRADEOFF_SWEEP = (0.0, 0.5, 1.0)
TRADEOFF_SYMBOLS = {0.0: "t", 0.5: "o", 1.0: "s"}


class SweepView(QWidget):
    # low bytes, high bytes, budget steps (0: keep the user's budget), sweep tradeoff too,
    # loader weight-budget steps (0: keep the user's loader budget)
    startRequested = Signal(object, object, int, bool, int)
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
        self.with_budget = QCheckBox("Memory budget from")
        self.with_budget.setChecked(True)
        self.with_budget.setToolTip("unchecked: every point keeps the memory budget set in Controls")
        self.with_tradeoff = QCheckBox("also tradeoff 0 / 0.5 / 1")
        self.start = QPushButton("Run sweep")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        for w in (self.with_budget, self.low, QLabel("to"), self.high, QLabel("steps"), self.steps,
                  self.with_tradeoff, self.start, self.cancel):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        # The loader's weight cache: without it the demo model's weights (most of its memory)
        # stay resident at every point and the plot is flat.
        lrow = QHBoxLayout()
        self.with_loader = QCheckBox("Loader weight budget")
        self.with_loader.setToolTip("sweep loader.max_memory_usage from all of the model's weights down to "
                                    "the streaming minimum the engine reports")
        self.loader_steps = QSpinBox()
        self.loader_steps.setRange(2, 20)
        self.loader_steps.setValue(5)
        self.loader_steps.setEnabled(False)
        self.with_loader.toggled.connect(self.loader_steps.setEnabled)
        self.loader_range = QLabel("steps, from all weights down to the streaming minimum")
        for w in (self.with_loader, self.loader_steps, self.loader_range):
            lrow.addWidget(w)
        lrow.addStretch(1)
        layout.addLayout(lrow)
        self.with_budget.toggled.connect(self.low.setEnabled)
        self.with_budget.toggled.connect(self.high.setEnabled)
        self.with_budget.toggled.connect(self.steps.setEnabled)
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
        self.plot.setLabel("left", "latency", units="s")  # seconds: pyqtgraph picks "ms" itself
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)  # never "kMiB"
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setMenuEnabled(False)
        # Top right: the corner a latency/memory trade-off leaves empty (small memory costs
        # latency, so points crowd top left and bottom right).
        self.legend = self.plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.plot.getViewBox().setDefaultPadding(0.08)  # room for the point labels at the edges
        self.scatter = pg.ScatterPlotItem(size=10, brush=pg.mkBrush(66, 135, 245, 200), pen=None,
                                          hoverable=True, name="feasible",
                                          tip=lambda x, y, data: self.describe(data))
        self.front = self.plot.plot([], [], pen=pg.mkPen((220, 30, 30), width=2), name="Pareto front")
        self.plot.addItem(self.scatter)
        self.scatter.sigClicked.connect(self._clicked)
        self.labels: List[pg.TextItem] = []  # the weight-cache share next to each point
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

    def set_weight_range(self, weight_range: Optional[Tuple[int, int]]) -> None:
        """Show what the loader dimension will cover: (all weight bytes, streaming minimum)."""
        if weight_range:
            self.loader_range.setText(f"steps, from all weights ({human_size(weight_range[0])}) down to the "
                                      f"streaming minimum ({human_size(weight_range[1])})")

    def _start(self) -> None:
        low, high = self.low.bytes() or 0, self.high.bytes() or 0
        if high < low:
            low, high = high, low
        self.rows = []
        self._redraw()
        self.startRequested.emit(low, high, self.steps.value() if self.with_budget.isChecked() else 0,
                                 self.with_tradeoff.isChecked(),
                                 self.loader_steps.value() if self.with_loader.isChecked() else 0)

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
        # Colour tells the loader weight budget apart when it was swept (else the tradeoff);
        # the symbol tells the tradeoff.
        loaders = sorted({r.get("loader_budget") or 0 for r in ok})
        tradeoffs = sorted({r["tradeoff"] for r in ok})
        spots = []
        for r in ok:
            spot = {"pos": (r["peak_bytes"] / MIB, r["latency_s"]), "data": r,
                    "symbol": TRADEOFF_SYMBOLS.get(r["tradeoff"], "o") if len(tradeoffs) > 1 else "o"}
            if len(loaders) > 1:
                spot["brush"] = pg.intColor(loaders.index(r.get("loader_budget") or 0), len(loaders) + 1)
            elif len(tradeoffs) > 1:
                spot["brush"] = pg.intColor(tradeoffs.index(r["tradeoff"]), 3)
            spots.append(spot)
        self.scatter.setData(spots)
        self._label_points(ok if len(loaders) > 1 else [])
        front = pareto_front(self.rows)
        self.front.setData(np.array([r["peak_bytes"] for r in front], float) / MIB,
                           np.array([r["latency_s"] for r in front], float))

    def _label_points(self, rows: List[dict]) -> None:
        """'53% w' beside each point of a loader sweep: which weight cache made it."""
        for item in self.labels[len(rows):]:
            self.plot.removeItem(item)
        del self.labels[len(rows):]
        while len(self.labels) < len(rows):
            item = pg.TextItem(anchor=(0, 1), color=(60, 60, 60))
            self.plot.addItem(item)
            self.labels.append(item)
        for item, r in zip(self.labels, rows):
            frac = r.get("loader_fraction")
            item.setText(f"{frac:.0%} w" if frac is not None else "")
            item.setPos(r["peak_bytes"] / MIB, r["latency_s"])

    @staticmethod
    def describe(row: dict) -> str:
        text = f"budget {human_size(row['budget']) if row['budget'] else 'unlimited'}, tradeoff {row['tradeoff']:.2f}"
        if row.get("loader_budget"):
            frac = row.get("loader_fraction")
            text += f", weight cache {human_size(row['loader_budget'])}" + (f" ({frac:.0%} of weights)" if frac else "")
        if row.get("latency_s") is not None:
            text += f" ({row['latency_s'] * 1e3:.0f} ms, peak {human_size(row['peak_bytes'])})"
        return text

    def _clicked(self, _item, points, *args) -> None:
        if len(points):
            row = points[0].data()
            self.status.setText("applied: " + self.describe(row))
            self.pointChosen.emit(row)
