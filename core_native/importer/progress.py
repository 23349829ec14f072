"""Progress reporting: the callback protocol is progress(done_bytes, total_bytes, message).

Before the weights are written their size is unknown, so stages report (0, 0, message);
while writing, done_bytes grows monotonically to total_bytes.
"""
from __future__ import annotations

from typing import Callable, Optional

ProgressFn = Callable[[int, int, str], None]


class Reporter:
    """Wraps an optional user callback; never reports done_bytes going backwards."""

    def __init__(self, fn: Optional[ProgressFn]):
        self.fn = fn
        self.done = 0
        self.total = 0

    def stage(self, message: str) -> None:
        if self.fn:
            self.fn(self.done, self.total, message)

    def bytes(self, done: int, total: int, message: str) -> None:
        if self.fn:
            self.done = max(self.done, done)
            self.total = total
            self.fn(self.done, total, message)


class _TqdmProgress:
    def __init__(self, desc: str):
        self.desc = desc
        self.bar = None
        self.closed = False

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.closed:
            return
        if self.bar is None:
            from tqdm import tqdm  # lazy: the GUI never needs it

            self.bar = tqdm(desc=self.desc, total=total or None, unit="B", unit_scale=True,
                            unit_divisor=1024, leave=True)
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.set_postfix_str(message, refresh=False)
        self.bar.refresh()
        if message == "done":
            self.close()

    def close(self) -> None:
        if self.bar is not None and not self.closed:
            self.bar.close()
        self.closed = True


def tqdm_progress(desc: str = "importing") -> ProgressFn:
    """A progress callback drawing a tqdm bar (for the CLI); call .close() if abandoned."""
    return _TqdmProgress(desc)
