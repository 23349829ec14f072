"""Live plots fed from the StatsRecorder's scrolling buffers: one QTimer in the window calls
`update_from(recorder)`, which only calls setData (pyqtgraph's scrollingPlots pattern)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt

MIB = float(2**20)
CATEGORY_COLOURS = {"activation": (66, 135, 245), "weight": (245, 166, 35),
                    "scratch": (126, 211, 33), "output": (189, 16, 224)}
STATUS_COLOURS = [  # index = recorder.STATUS_CODES value
    (40, 40, 40),     # n/a
    (120, 120, 120),  # UNLOADED
    (245, 196, 35),   # LOADING
    (46, 170, 80),    # LOADED
    (220, 40, 40),    # ERROR
    (66, 135, 245),   # EXECUTING
]
NA_TEXT = "n/a — available when the engine supports it"

pg.setConfigOptions(antialias=False, background="w", foreground="k")


class PaintCounter(QObject):
    """Counts real paint events of a widget's viewport: the plot frame rate, measured."""

    def __init__(self, widget):
        super().__init__(widget)
        self.count = 0
        widget.viewport().installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QEvent.Paint:
            self.count += 1
        return False


class _LivePlot(pg.PlotWidget):
    """Fixed axes wherever possible: regenerating axis ticks is the dominant paint cost, so the
    time axis is a constant window and the y range moves only in coarse steps (`fit_y`)."""

    def __init__(self, title: str, y_label: str, y_units: Optional[str] = None):
        super().__init__()
        self.setTitle(title, size="9pt")
        self.setLabel("left", y_label, units=y_units)
        self.showGrid(x=False, y=True, alpha=0.2)
        self.setMenuEnabled(False)
        self.enableAutoRange(False)
        self._y_top = None
        self.setMouseEnabled(x=False, y=False)
        self.getPlotItem().setDownsampling(mode="peak")
        self.getPlotItem().setClipToView(True)
        self.legend = self.addLegend(offset=(5, 5), labelTextSize="8pt")
        self._na = pg.TextItem(NA_TEXT, color=(120, 120, 120), anchor=(0.5, 0.5))
        self._na.setVisible(False)
        self.addItem(self._na, ignoreBounds=True)
        self.setMinimumHeight(140)

    def set_time_window(self, seconds: float) -> None:
        self.setXRange(-seconds, 0, padding=0)

    def fit_y(self, peak: float) -> None:
        """Grow (or, with hysteresis, shrink) the y range to a 'nice' value above `peak`."""
        if not np.isfinite(peak) or peak <= 0:
            return
        if self._y_top is not None and peak <= self._y_top and peak > self._y_top * 0.4:
            return
        magnitude = 10 ** np.floor(np.log10(peak))
        top = next(m * magnitude for m in (1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 12) if m * magnitude >= peak * 1.05)
        self._y_top = top
        self.setYRange(0, top, padding=0)

    def _curve(self, name, colour, width=1.5, style=Qt.SolidLine):
        return self.plot([], [], name=name, pen=pg.mkPen(colour, width=width, style=style),
                         skipFiniteCheck=False)

    def _show_na(self, show: bool) -> None:
        if show != self._na.isVisible():
            self._na.setVisible(show)
        if show:
            r = self.getViewBox().viewRange()
            self._na.setPos((r[0][0] + r[0][1]) / 2, (r[1][0] + r[1][1]) / 2)


def _relative_time(t: np.ndarray) -> np.ndarray:
    return t - t[-1] if len(t) else t


class MemoryPlot(_LivePlot):
    """Engine memory stacked by category against the budget line, with process RSS.

    Each band is the running sum of the categories below it, filled down to zero and drawn
    top band first, so the visible strip of each colour is that category's share (one fill
    path per band, cheaper than filling between curve pairs)."""

    def __init__(self, time_window: float = 30.0):
        super().__init__("Memory (stacked by category) vs budget", "MiB")
        self.setLabel("bottom", "seconds")
        self.set_time_window(time_window)
        self._stack = []
        for z, (name, colour) in enumerate(CATEGORY_COLOURS.items()):
            light = tuple(int(c + (255 - c) * 0.45) for c in colour)
            curve = self.plot([], [], pen=pg.mkPen(colour, width=1), fillLevel=0, brush=pg.mkBrush(*light),
                              name=name)
            curve.setZValue(-z)  # lower categories in front of the cumulative bands above them
            self._stack.append((name, curve))
        self.budget = self._curve("budget", (220, 30, 30), width=2, style=Qt.DashLine)
        self.rss = self._curve("process RSS", (0, 0, 0), width=1.2, style=Qt.DotLine)

    def update_from(self, recorder) -> None:
        s = recorder.series()
        t = _relative_time(s["t"])
        if not len(t):
            return
        total = np.zeros(len(t))
        for name, curve in self._stack:
            total = total + np.nan_to_num(s[name]) / MIB
            curve.setData(t, total, skipFiniteCheck=True)
        budget, rss = s["budget"] / MIB, s["rss"] / MIB
        self.budget.setData(t, budget, connect="finite")
        self.rss.setData(t, rss, connect="finite")
        self.fit_y(float(np.nanmax([total[-1], rss[-1] if np.isfinite(rss[-1]) else 0,
                                    budget[-1] if np.isfinite(budget[-1]) else 0])))


class RatePlot(_LivePlot):
    """Weight-cache hit rate (progressive loader) and CPU cache hit rate (with its source)."""

    def __init__(self, time_window: float = 30.0):
        super().__init__("Hit rates", "hit rate")
        self.setLabel("bottom", "seconds")
        self.set_time_window(time_window)
        self.setYRange(0, 1.02, padding=0)
        self.weight = self._curve("weight cache", (245, 166, 35), width=2)
        self.cpu = self._curve("CPU cache", (66, 135, 245), width=2)
        self.source = "n/a"

    def set_source(self, source: Optional[str]) -> None:
        source = source or "n/a"
        if source != self.source:
            self.source = source
            self.setTitle(f"Hit rates (CPU cache source: {source})", size="9pt")

    def update_from(self, recorder) -> None:
        s = recorder.series()
        t = _relative_time(s["t"])
        if not len(t):
            return
        w, c = s["weight_hit_rate"], s["cpu_hit_rate"]
        self.weight.setData(t, w, connect="finite")
        self.cpu.setData(t, c, connect="finite")
        self._show_na(bool(np.all(np.isnan(w)) and np.all(np.isnan(c))))


class LatencyPlot(_LivePlot):
    def __init__(self, window: int = 100):
        super().__init__("Latency per inference", "ms")
        self.setLabel("bottom", "inference #")
        self.window = window
        self.curve = self.plot([], [], pen=pg.mkPen((66, 135, 245), width=1.5), symbol="o", symbolSize=4,
                               symbolBrush=(66, 135, 245), symbolPen=None)
        self._shown = None

    def update_from(self, recorder) -> None:
        v = recorder.latencies.view()[-self.window:]
        if not len(v) or (self._shown is not None and v[-1, 0] == self._shown):
            return  # redraw only when an inference finished
        self._shown = v[-1, 0]
        ms = v[:, 1] * 1e3
        self.curve.setData(v[:, 0], ms)
        last = v[-1, 0]
        self.setXRange(max(last - self.window, 0) + 0.5, max(last, 10) + 0.5, padding=0)
        self.fit_y(float(ms.max()))


class StatusHeatmap(pg.PlotWidget):
    """Layers (rows) × time (columns), coloured by loader status; the executing layer in blue."""

    def __init__(self, sample_hz: float = 30.0):
        super().__init__()
        self.sample_hz = sample_hz
        self.setTitle("Layer status: <span style='color:#787878'>unloaded</span> · <span style='color:#c49a10'>"
                      "loading</span> · <span style='color:#2eaa50'>loaded</span> · <span style='color:#dc2828'>"
                      "error</span> · <span style='color:#4287f5'>executing</span>", size="9pt")
        self.setLabel("left", "layer")
        self.setLabel("bottom", "seconds")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.enableAutoRange(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        lut = np.array(STATUS_COLOURS + [(0, 0, 0)] * (256 - len(STATUS_COLOURS)), dtype=np.uint8)
        self.image.setLookupTable(lut)
        self.addItem(self.image)
        self.getViewBox().invertY(True)
        self.setMinimumHeight(140)
        self._shape = None

    def update_from(self, recorder) -> None:
        if recorder.status is None or not len(recorder.status):
            return
        v = recorder.status.view()  # time × layers
        self.image.setImage(v.T, autoLevels=False, levels=(0, 255))
        span = len(v) / self.sample_hz
        self.image.setRect(QRectF(-span, 0, span, v.shape[1]))
        if self._shape != v.shape[1]:
            self._shape = v.shape[1]
            self.setRange(xRange=(-recorder.window / self.sample_hz, 0), yRange=(0, v.shape[1]), padding=0)
