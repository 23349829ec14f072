"""Measures how long the GUI event loop is blocked: a fast QTimer notes how late each tick is."""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer


class StallMonitor(QObject):
    """`max_stall_ms` is the worst delay beyond the timer interval seen since `start()`."""

    def __init__(self, interval_ms: int = 5, parent=None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.max_stall_ms = 0.0
        self.ticks = 0
        self._last = None

    def start(self) -> None:
        self.max_stall_ms, self.ticks, self._last = 0.0, 0, time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        late = (now - self._last) * 1e3 - self.interval_ms
        self._last = now
        self.ticks += 1
        if late > self.max_stall_ms:
            self.max_stall_ms = late
