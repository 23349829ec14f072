"""Many signal emissions never exhaust True/None (PySide6 6.12.0 leaks one reference per emit
on Python < 3.12; app.qt_compat guards against it)."""
import sys

from PySide6.QtCore import QObject, Signal

from tinyai_workbench.app.qt_compat import guard_singleton_refcounts


class _Emitter(QObject):
    ping = Signal(object)


def test_fifty_thousand_emits_survive(qapp):
    guard_singleton_refcounts()
    e = _Emitter()
    got = []
    e.ping.connect(got.append)
    floor = min(sys.getrefcount(True), sys.getrefcount(None))
    for _ in range(50_000):  # more than True's natural reference count on 3.11
        e.ping.emit(None)
    assert len(got) == 50_000
    assert sys.getrefcount(True) > 0 and sys.getrefcount(None) > 0 and floor > 0
