"""A guard against a reference-counting bug in PySide6 6.12.0 on Python < 3.12.

In that release `SignalInstance.emit()` returns True without taking a reference, and
`QTimer.singleShot(0, callable)` drops one reference to None per call. On Python 3.12+ True,
False and None are immortal and nothing happens; on 3.10/3.11 every emit drains True's count
until the interpreter aborts ("Fatal Python error: bool_dealloc") a few thousand signals
later, i.e. seconds into a live plot. The proper fix is a PySide6 without the bug
(``PySide6-Essentials != 6.12.0``); until every install has one, `guard_singleton_refcounts`
detects the leak at start-up and, only then, gives those three singletons a reference count
so large that no run can drain it, which is what Python 3.12 does by making them immortal.
They are static objects that are never freed, so an inflated count has no other effect.
"""
from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40
_guarded = False


def _emit_leaks_references() -> bool:
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    probe.ping.connect(lambda: None)
    before = sys.getrefcount(True)
    for _ in range(32):
        probe.ping.emit()
    return sys.getrefcount(True) < before - 16


def guard_singleton_refcounts() -> bool:
    """Detect the bug once per process; returns True if the guard had to be applied."""
    global _guarded
    if _guarded or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    _guarded = True
    if not _emit_leaks_references():
        return False
    for obj in (True, False, None):
        ctypes.c_ssize_t.from_address(id(obj)).value += _HEADROOM  # ob_refcnt is PyObject's first field
    return True
