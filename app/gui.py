"""Starting the workbench: the interactive window, or the headless demo/check mode
(`--run-seconds N --screenshot FILE.png`), which runs the model continuously, saves a
screenshot and prints `ui_max_stall_ms=` and `plot_fps=` as its last two lines (before them:
startup times from process start and the GUI thread's own worst poll, see print_summary)."""
from __future__ import annotations

import os
import sys
import time
from typing import Optional


NO_DISPLAY_MESSAGE = (
    "error: no display to open the workbench window on (neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
    "  tinyai-workbench demo                      runs the demo model headless and prints a summary\n"
    "  tinyai-workbench gui --demo --run-seconds 10 --screenshot shot.png\n"
    "                                             runs the workbench offscreen and saves a screenshot")


def _since_process_start() -> float:
    """Seconds since this process was created (interpreter start and imports included)."""
    try:
        import psutil
        return time.time() - psutil.Process().create_time()
    except Exception:
        return float("nan")


def _ensure_platform(headless: bool) -> bool:
    """Pick the offscreen platform for headless runs; False if a window cannot be shown
    (Qt would abort the process rather than report it)."""
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("win32", "darwin")
    if headless and not has_display:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return bool(has_display or os.environ.get("QT_QPA_PLATFORM"))


def run_gui(model: Optional[str] = None, preset: Optional[str] = None, run_seconds: Optional[float] = None,
            screenshot: Optional[str] = None) -> int:
    """Open the workbench on `model` (None: the built-in demo). With `run_seconds`, run the
    model continuously for that long after it loads, save `screenshot`, print the
    measurements and exit."""
    headless = run_seconds is not None
    if not _ensure_platform(headless):
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .stall_monitor import StallMonitor

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("tinyai-workbench")
    app.setOrganizationName("tinyai-workbench")
    errors = []

    def report(title, message):
        errors.append(f"{title}: {message}")
        print(f"error: {title}: {message}", file=sys.stderr)

    # Headless runs use a fixed, known window size so screenshots and measurements compare.
    window = MainWindow(show_error=report if headless else None, restore_state=not headless)
    if preset and not window.load_preset_file(preset) and headless:
        return 2
    window.show()
    window.open_model(model)
    if not headless:
        return app.exec()

    monitor = StallMonitor(parent=window)
    state = {"t0": None, "paints0": 0, "updates0": 0}
    # The first event-loop turn after show(): the window is on screen (offscreen: composed).
    # CPU seconds alongside: on a loaded machine wall time mostly measures waiting for a core.
    QTimer.singleShot(0, lambda: state.setdefault("shown", (_since_process_start(), time.process_time())))

    def started(*_):
        state["loaded_s"] = _since_process_start()
        window.poll_cpu_max_s = 0.0
        state["t0"] = time.perf_counter()
        state["paints0"], state["updates0"] = window.paints.count, window.plot_updates
        monitor.start()
        window.controller.run_continuous()
        QTimer.singleShot(int(run_seconds * 1000), finish)

    def finish():
        elapsed = time.perf_counter() - state["t0"]
        monitor.stop()
        paints = window.paints.count - state["paints0"]
        updates = window.plot_updates - state["updates0"]
        window.controller.stop()
        if screenshot:
            window.grab().save(screenshot)
        state.update(elapsed=elapsed, paints=paints, updates=updates)
        window.close()
        app.quit()

    window.controller.modelLoaded.connect(started)
    window.controller.failed.connect(lambda *_: app.quit() if state["t0"] is None else None)
    app.exec()
    if state["t0"] is None or "elapsed" not in state:
        return 2
    s = window.recorder.latency_history
    lat = [x[1] for x in s]
    print(f"model={window.controller.model.name if window.controller.model else 'n/a'} runs={len(lat)} "
          f"median_latency_ms={sorted(lat)[len(lat) // 2] * 1e3 if lat else float('nan'):.1f} "
          f"plot_updates_per_s={state['updates'] / state['elapsed']:.1f} seconds={state['elapsed']:.1f}")
    if screenshot:
        print(f"screenshot={screenshot}")
    shown_s, shown_cpu_s = state.get("shown", (float("nan"), float("nan")))
    print(f"startup_window_shown_s={shown_s:.2f} startup_window_shown_cpu_s={shown_cpu_s:.2f} "
          f"startup_model_loaded_s={state['loaded_s']:.2f} "
          f"ui_max_poll_cpu_ms={window.poll_cpu_max_s * 1e3:.2f}")
    print(f"ui_max_stall_ms={monitor.max_stall_ms:.2f}")
    print(f"plot_fps={state['paints'] / state['elapsed']:.2f}")
    return 1 if errors else 0
