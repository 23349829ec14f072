"""The engine in a worker thread.

EngineWorker lives in its own QThread and is the only code that calls Session methods that
compute (run, execute_layer, estimates, set_config and per-layer settings). The GUI talks to
it through EngineController: requests are queued signals, results come back as signals, and
the GUI polls `snapshot()` (Session.stats() is a lock-free snapshot, safe from any thread).
Settings changed while a run is in flight are kept as "pending" and applied at the next
inference boundary. Stop and cancel are flags plus Session.cancel(), which ends a run at the
next layer boundary.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from typing import Dict, List, Optional, Tuple

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

import tinyai_workbench as tw
from tinyai_workbench.presets import Preset

from .qt_compat import guard_singleton_refcounts
from .sweep import SweepPoint, loader_budget_for, weight_streaming_range
from .engine_features import EngineFeatures, cpu_cache_hit_rate, loader_summary, status_name


# How far below the GUI the engine thread runs (Linux nice). TINYAI_ENGINE_NICE overrides it,
# for measuring: benchmarks/bench_gui.py compares settings in the same run.
ENGINE_NICE = int(os.environ.get("TINYAI_ENGINE_NICE", "10"))


def _error_text(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    minimum = getattr(e, "minimum_bytes", None)
    if minimum and "minimum" not in text.lower():
        text += f" (minimum feasible budget: {minimum / 2**20:.1f} MiB)"
    return text


class EngineWorker(QObject):
    loadProgress = Signal(int, int, str)
    modelLoaded = Signal(object, object)        # Model, Session
    stateChanged = Signal(str)                  # "loading", "running", "continuous", "stepping", "sweeping", "idle"
    runFinished = Signal(dict)                  # {"latency_s", "stats", "run"}
    stepped = Signal(int, int)                  # layer just executed, next layer (-1: finished)
    estimateReady = Signal(dict)                # {"estimate", "plan", "error", "weight_range"}
    failed = Signal(str, str)                   # title, message
    sweepProgress = Signal(int, int)
    sweepPoint = Signal(dict)
    sweepFinished = Signal(list, bool)          # points, cancelled

    def __init__(self):
        super().__init__()
        self.model: Optional[tw.Model] = None
        self.session: Optional[tw.Session] = None
        self.features: Optional[EngineFeatures] = None
        self.feeds: Dict = {}
        self.run_threads: set = set()           # thread idents that ever called Session.run
        self.busy = threading.Event()           # a Session call that computes is in flight
        self._stop = threading.Event()
        self._sweep_cancel = threading.Event()
        self._lock = threading.Lock()
        self._pending: Optional[Preset] = None
        self._layer_edits: List[tuple] = []
        self._applied: Optional[Preset] = None
        self._runs = 0

    @Slot()
    def lower_priority(self) -> None:
        """Run the engine below the GUI's CPU priority (Linux nice is per thread and inherited
        by threads created from here, so the core's I/O and compute threads follow), so that
        on a busy machine the event loop is never starved by inference."""
        if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ENGINE_NICE)
            except OSError:
                pass

    # -- settings handed over from the GUI thread ----------------------------------------

    def queue_settings(self, settings: Preset) -> None:
        with self._lock:
            self._pending = settings

    def queue_layer_edit(self, kind: str, layer: int, value: str) -> None:
        with self._lock:
            self._layer_edits.append((kind, layer, value))

    def has_pending(self) -> bool:
        with self._lock:
            return self._pending is not None or bool(self._layer_edits)

    def request_stop(self) -> None:
        self._stop.set()
        self._sweep_cancel.set()
        if self.session is not None and self.busy.is_set():
            self.session.cancel()

    def _apply_pending(self) -> None:
        with self._lock:
            settings, self._pending = self._pending, None
            edits, self._layer_edits = self._layer_edits, []
        if self.session is None:
            if settings is not None:
                self._pending = settings
            return
        if settings is not None:
            self._apply_settings(settings)
        for kind, layer, value in edits:
            if kind == "priority":
                self.features.set_layer_priority(layer, value)
            elif kind == "checkpoint":
                self.features.set_checkpoint_strategy(layer, value)

    def _apply_settings(self, settings: Preset) -> None:
        f = self.features
        self.session.set_config(f.config_with_disk_speed(settings.config, settings.emulated_disk_mbps))
        f.set_disk_speed(settings.emulated_disk_mbps)
        f.set_simd_ops(settings.simd_ops)
        self._applied = settings

    # -- slots (run in the worker thread) -------------------------------------------------

    @Slot(object)
    def load(self, path) -> None:
        """Load `path` (an .onnx file or converted directory); None loads the demo model."""
        self.stateChanged.emit("loading")
        try:
            progress = lambda done, total, msg: self.loadProgress.emit(int(done), int(total), str(msg))  # noqa: E731
            if path is None:
                from .demo_model import demo_inputs, demo_model_path
                model = tw.load_model(demo_model_path(progress), progress=progress)
                feeds = demo_inputs()
            else:
                from .test_data import synthetic_inputs
                model = tw.load_model(path, progress=progress)
                feeds = synthetic_inputs(model)
            with self._lock:
                settings = self._pending or self._applied or Preset()
                self._pending = None
            session = tw.Session(model, settings.config)  # the old model stays usable if this fails
            features = EngineFeatures(session)
            self.model, self.session, self.feeds, self.features = model, session, feeds, features
            self._apply_settings(settings)
            self._runs = 0
            self.modelLoaded.emit(model, session)
        except Exception as e:  # every failure becomes a dialog, never a dead worker
            self.failed.emit("Could not open the model", f"{path or 'demo model'}: {_error_text(e)}")
        finally:
            self.stateChanged.emit("idle")
        self.refresh_estimate()

    @Slot()
    def refresh_estimate(self) -> None:
        if self.session is None:
            return
        result = {"estimate": None, "plan": None, "error": None, "weight_range": None}
        try:
            self._apply_pending()
            self.busy.set()
            result["estimate"] = self.features.memory_estimate(self.feeds)
            if self._applied is not None and not self._applied.config.loader.max_memory_usage:
                # Only an all-resident estimate tells the weights from the streaming minimum.
                result["weight_range"] = weight_streaming_range(result["estimate"])
            result["plan"] = self.features.execution_plan(self.feeds)
        except Exception as e:
            result["error"] = _error_text(e)
        finally:
            self.busy.clear()
        self.estimateReady.emit(result)

    def _run_one(self) -> bool:
        self.run_threads.add(threading.get_ident())
        t0 = time.perf_counter()
        try:
            self._apply_pending()
            self.busy.set()
            t0 = time.perf_counter()
            self.session.run(self.feeds)
        except tw.CancelledError:
            return False
        except Exception as e:
            self.failed.emit("Inference failed", _error_text(e))
            return False
        finally:
            self.busy.clear()
        self._runs += 1
        self.runFinished.emit({"latency_s": time.perf_counter() - t0, "stats": dict(self.session.stats()),
                               "run": self._runs})
        return True

    @Slot()
    def run_once(self) -> None:
        if self.session is None:
            return
        self._stop.clear()
        self.stateChanged.emit("running")
        self._run_one()
        self.stateChanged.emit("idle")

    @Slot()
    def run_continuous(self) -> None:
        if self.session is None:
            return
        self._stop.clear()
        self.stateChanged.emit("continuous")
        self._continue()

    def _continue(self) -> None:
        if self._stop.is_set() or not self._run_one() or self._stop.is_set():
            self.stateChanged.emit("idle")
            return
        # Return to the event loop between inferences so queued requests are served.
        QTimer.singleShot(0, self._continue)

    @Slot()
    def step(self) -> None:
        if self.session is None or not self.features.step:
            return
        self.run_threads.add(threading.get_ident())
        layer = max(self.session.next_step_layer, 0)
        try:
            if layer == 0:
                self._apply_pending()  # settings change only between inferences
            self.busy.set()
            self.session.execute_layer(layer, self.feeds if layer == 0 else None)
        except Exception as e:
            self.failed.emit("Step failed", _error_text(e))
            self.stateChanged.emit("idle")
            return
        finally:
            self.busy.clear()
        nxt = self.session.next_step_layer
        self.stepped.emit(layer, nxt)
        self.stateChanged.emit("stepping" if nxt >= 0 else "idle")

    def _weight_range(self, base: Preset) -> Optional[Tuple[int, int]]:
        """(all weight bytes, streaming minimum) for the loader dimension of a sweep. The
        engine reports both only from an estimate with every weight resident, so that
        estimate is made under `base` without loader or memory budget."""
        cfg = base.config
        resident = replace(cfg, loader=replace(cfg.loader, max_memory_usage=None),
                           memory=replace(cfg.memory, max_memory_budget=None))
        self._apply_settings(replace(base, config=resident))
        self.busy.set()
        try:
            return weight_streaming_range(self.features.memory_estimate(self.feeds))
        finally:
            self.busy.clear()

    def _point_settings(self, base: Preset, p: SweepPoint, weights: Optional[Tuple[int, int]]) -> Preset:
        cfg = base.config
        loader = cfg.loader
        if p.loader_level is not None:
            loader = replace(loader, max_memory_usage=loader_budget_for(p.loader_level, *weights))
        cfg = replace(cfg, loader=loader,
                      memory=replace(cfg.memory, max_memory_budget=p.budget, memory_speed_tradeoff=p.tradeoff),
                      scheduler=replace(cfg.scheduler, memory_speed_tradeoff=p.tradeoff))
        return replace(base, config=cfg)

    @Slot(list)
    def sweep(self, points: List[SweepPoint]) -> None:
        """Run once per (budget, tradeoff, loader budget) point; report latency and measured peak."""
        if self.session is None:
            return
        self._sweep_cancel.clear()
        self._stop.clear()
        self.stateChanged.emit("sweeping")
        try:
            self._apply_pending()
        except Exception as e:
            self.failed.emit("Invalid settings", _error_text(e))
        base = self._applied or Preset()
        weights = None
        if any(p.loader_level is not None for p in points):
            try:
                weights = self._weight_range(base)
                if weights is None:
                    raise RuntimeError("the engine does not report the streaming minimum")
            except Exception as e:  # sweep the other dimensions only
                self.failed.emit("Cannot sweep the loader weight budget", _error_text(e))
                points = [replace(p, loader_level=None) for p in points]
        # Resolve every point to its settings first: levels a small model's weights cannot tell
        # apart (budgets round to the same value) are run once.
        planned, seen = [], set()
        for p in points:
            settings = self._point_settings(base, p, weights)
            m = settings.config.memory
            key = (m.max_memory_budget, p.tradeoff, settings.config.loader.max_memory_usage)
            if key not in seen:
                seen.add(key)
                planned.append((p, settings))
        results, cancelled = [], False
        for i, (p, settings) in enumerate(planned):
            if self._sweep_cancel.is_set():
                cancelled = True
                break
            self.sweepProgress.emit(i, len(planned))
            loader_budget = settings.config.loader.max_memory_usage
            row = {"budget": p.budget, "tradeoff": p.tradeoff, "latency_s": None, "peak_bytes": None,
                   "loader_budget": loader_budget,
                   "loader_fraction": loader_budget / weights[0] if p.loader_level is not None else None,
                   "error": None, "settings": settings}
            try:
                self._apply_settings(settings)
                self.run_threads.add(threading.get_ident())
                self.busy.set()
                t0 = time.perf_counter()
                try:
                    self.session.run(self.feeds)
                finally:
                    self.busy.clear()
                row["latency_s"] = time.perf_counter() - t0
                row["peak_bytes"] = int(self.session.stats()["total_peak_bytes"])
            except tw.CancelledError:
                cancelled = True
                break
            except Exception as e:  # an infeasible budget is a result, not a failure
                row["error"] = _error_text(e)
            results.append(row)
            self.sweepPoint.emit(row)
        try:
            self._apply_settings(base)  # the sweep never changes the user's settings
        except Exception as e:
            self.failed.emit("Could not restore the settings after the sweep", _error_text(e))
        self.sweepProgress.emit(len(results), len(planned))
        self.sweepFinished.emit(results, cancelled)
        self.stateChanged.emit("idle")


class EngineController(QObject):
    """GUI-thread handle on the worker: requests go out as queued signals, `snapshot()` polls.

    The worker's signals are re-emitted from this object, which lives in the GUI thread, so
    anything connected here (plain functions and lambdas included) runs on the GUI thread.
    """

    loadProgress = Signal(int, int, str)
    modelLoaded = Signal(object, object)
    stateChanged = Signal(str)
    runFinished = Signal(dict)
    stepped = Signal(int, int)
    estimateReady = Signal(dict)
    failed = Signal(str, str)
    sweepProgress = Signal(int, int)
    sweepPoint = Signal(dict)
    sweepFinished = Signal(list, bool)

    _requestLoad = Signal(object)
    _requestRunOnce = Signal()
    _requestContinuous = Signal()
    _requestStep = Signal()
    _requestEstimate = Signal()
    _requestSweep = Signal(list)

    def __init__(self, parent=None):
        guard_singleton_refcounts()
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("tinyai-engine")
        self.worker = EngineWorker()
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.lower_priority)
        self._requestLoad.connect(self.worker.load)
        self._requestRunOnce.connect(self.worker.run_once)
        self._requestContinuous.connect(self.worker.run_continuous)
        self._requestStep.connect(self.worker.step)
        self._requestEstimate.connect(self.worker.refresh_estimate)
        self._requestSweep.connect(self.worker.sweep)
        for name in ("loadProgress", "modelLoaded", "stateChanged", "runFinished", "stepped",
                     "estimateReady", "failed", "sweepProgress", "sweepPoint", "sweepFinished"):
            getattr(self.worker, name).connect(getattr(self, name), Qt.QueuedConnection)
        self.stateChanged.connect(self._on_state)
        self.state = "idle"
        self._estimate_queued = False
        self.estimateReady.connect(self._on_estimate_done)
        self._process = None
        self.thread.start()

    @property
    def session(self):
        return self.worker.session

    @property
    def model(self):
        return self.worker.model

    @property
    def features(self) -> Optional[EngineFeatures]:
        return self.worker.features

    def _on_state(self, state: str) -> None:
        self.state = state

    def _on_estimate_done(self, _result) -> None:
        self._estimate_queued = False
        if self.worker.has_pending():  # settings moved while that estimate was computed
            self._estimate_queued = True
            self._requestEstimate.emit()

    # -- requests ---------------------------------------------------------------------------

    def load_model(self, path: Optional[str] = None) -> None:
        self.worker.request_stop()
        self._requestLoad.emit(str(path) if path is not None else None)

    def set_settings(self, settings: Preset) -> None:
        """Queue settings for the next inference boundary and refresh the estimate."""
        self.worker.queue_settings(settings)
        if not self._estimate_queued:  # coalesce bursts of slider moves into one estimate
            self._estimate_queued = True
            self._requestEstimate.emit()

    def set_layer_priority(self, layer: int, priority: str) -> None:
        self.worker.queue_layer_edit("priority", layer, priority)
        if self.state not in ("running", "continuous", "sweeping"):
            self._requestEstimate.emit()

    def set_checkpoint_strategy(self, layer: int, strategy: str) -> None:
        self.worker.queue_layer_edit("checkpoint", layer, strategy)
        self._requestEstimate.emit()

    def run_once(self) -> None:
        self._requestRunOnce.emit()

    def run_continuous(self) -> None:
        self._requestContinuous.emit()

    def step(self) -> None:
        self._requestStep.emit()

    def stop(self) -> None:
        self.worker.request_stop()

    def sweep(self, points: List[SweepPoint]) -> None:
        self._requestSweep.emit(list(points))

    def cancel_sweep(self) -> None:
        self.worker.request_stop()

    # -- polling (GUI thread; never waits for the worker) --------------------------------------

    def snapshot(self, with_cache: bool = False) -> Optional[dict]:
        sess, model, feats = self.worker.session, self.worker.model, self.worker.features
        if sess is None:
            return None
        stats = dict(sess.stats())
        loader = loader_summary(stats)
        statuses = loader["layer_status"]
        if statuses is not None:
            statuses = [status_name(s) for s in statuses]
        elif feats is not None and feats.layer_status:
            statuses = feats.layer_statuses(len(model.layers))
        cache = feats.cpu_cache_stats() if (with_cache and feats is not None) else None
        return {"stats": stats, "rss": self._rss(), "loader": loader, "statuses": statuses,
                "cache": cache, "cpu_hit_rate": cpu_cache_hit_rate(cache)}

    def _rss(self) -> Optional[int]:
        try:
            import psutil
            if self._process is None:
                self._process = psutil.Process()
            return self._process.memory_info().rss
        except Exception:
            return None

    def shutdown(self, timeout_ms: int = 10000) -> None:
        self.worker.request_stop()
        self.thread.quit()
        self.thread.wait(timeout_ms)
