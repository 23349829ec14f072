"""The workbench main window: controls, live plots, layer table, plan preview, what-if sweep.

The engine runs in EngineController's worker thread. One QTimer (30 Hz) polls a stats
snapshot, records it and redraws the plots; nothing on this thread waits for the engine.
"""
from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QInputDialog, QLabel,
                               QMainWindow, QMessageBox, QProgressBar, QPushButton, QScrollArea,
                               QSplitter, QTabWidget, QToolBar, QVBoxLayout, QWidget)

from tinyai_workbench.presets import Preset, PresetError, PresetStore, human_size, load_preset

from tinyai_workbench.widgets.config_panel import ConfigPanel
from tinyai_workbench.widgets.estimate_view import EstimateView
from tinyai_workbench.widgets.layer_table import LayerTable
from tinyai_workbench.widgets.live_plots import LatencyPlot, MemoryPlot, PaintCounter, RatePlot, StatusHeatmap
from tinyai_workbench.widgets.sweep_view import TRADEOFF_SWEEP, SweepView

from .engine_controller import EngineController
from .engine_features import plan_labels, plan_summary, simd_capabilities, streaming_bound
from .qt_compat import guard_singleton_refcounts
from .recorder import StatsRecorder
from .sweep import loader_levels, sweep_points

POLL_HZ = 30
# The slower work runs at 5 Hz on different polls of a 6-poll cycle, so no frame does it all.
CYCLE = 6
PHASE_TABLE, PHASE_HEATMAP, PHASE_RATES, PHASE_CACHE = 0, 2, 4, 3
CACHE_STATS_EVERY = 30     # cache_stats() once a second
MAX_RECENT = 8


def settings_file() -> str:
    override = os.environ.get("TINYAI_SETTINGS_FILE")
    if override:
        return override
    import platformdirs
    return str(Path(platformdirs.user_config_dir("tinyai-workbench")) / "workbench.ini")


class MainWindow(QMainWindow):
    def __init__(self, controller: Optional[EngineController] = None, preset_store: Optional[PresetStore] = None,
                 show_error: Optional[Callable[[str, str], None]] = None, restore_state: bool = True):
        guard_singleton_refcounts()
        super().__init__()
        self.controller = controller or EngineController(self)
        self.presets = preset_store or PresetStore()
        self.qsettings = QSettings(settings_file(), QSettings.IniFormat)
        # "is None": a recorder that is an empty list is falsy but must still be used
        self.show_error = show_error if show_error is not None else (
            lambda title, msg: QMessageBox.critical(self, title, msg))
        self.recorder = StatsRecorder()
        self.model_path: Optional[str] = None
        self.saved_settings: Preset = Preset("balanced")
        self.polls = 0
        self.plot_updates = 0
        # Worst CPU time one poll spent on this thread: the GUI's own share of a stall, which
        # unlike wall time does not grow when other processes take the CPU.
        self.poll_cpu_max_s = 0.0
        self._t0 = time.perf_counter()
        self._first_estimate = True
        self._layer_order = None  # layers in the order the plan first runs them
        self.setWindowTitle("tinyai-workbench[*]")
        self.resize(1500, 950)

        self._build_controls_dock()
        self._build_plots()
        self._build_bottom_dock()
        self._build_actions()
        self._build_status_bar()
        self._connect_engine()

        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / POLL_HZ))
        self.timer.timeout.connect(self.poll)
        self.timer.start()
        if restore_state:
            self._restore_window_state()
        self.apply_preset(self._initial_preset(), mark_saved=True)

    # -- layout --------------------------------------------------------------------------

    def _build_controls_dock(self) -> None:
        dock = QDockWidget("Controls", self)
        dock.setObjectName("controls")
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(2, 2, 2, 2)
        prow = QHBoxLayout()
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Presets: shipped ones first, then yours")
        self.preset_combo.activated.connect(lambda _i: self.load_named_preset(self.preset_combo.currentText()))
        self.preset_state = QLabel()
        save, delete = QPushButton("Save…"), QPushButton("Delete")
        save.clicked.connect(self.save_preset_dialog)
        delete.clicked.connect(self.delete_current_preset)
        for w in (QLabel("Preset"), self.preset_combo, self.preset_state, save, delete):
            prow.addWidget(w)
        prow.setStretch(1, 1)
        layout.addLayout(prow)
        self.config_panel = ConfigPanel()
        self.config_panel.settingsChanged.connect(self._on_settings_changed)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.config_panel)
        layout.addWidget(scroll, 1)
        dock.setWidget(box)
        dock.setMinimumWidth(360)
        self.addDockWidget(Qt.LeftDockWidgetArea, dock)
        self._refresh_preset_combo()

    def _build_plots(self) -> None:
        self.memory_plot = MemoryPlot()
        self.heatmap = StatusHeatmap()
        self.rate_plot = RatePlot()
        self.latency_plot = LatencyPlot()
        self.paints = PaintCounter(self.memory_plot)
        top = QSplitter(Qt.Horizontal)
        top.addWidget(self.memory_plot)
        top.addWidget(self.heatmap)
        bottom = QSplitter(Qt.Horizontal)
        bottom.addWidget(self.rate_plot)
        bottom.addWidget(self.latency_plot)
        self.plots = QSplitter(Qt.Vertical)
        self.plots.addWidget(top)
        self.plots.addWidget(bottom)
        top.setSizes([600, 400])
        self.setCentralWidget(self.plots)

    def _build_bottom_dock(self) -> None:
        dock = QDockWidget("Model", self)
        dock.setObjectName("model")
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.tabs = QTabWidget()
        self.layer_table = LayerTable()
        self.estimate_view = EstimateView()
        self.sweep_view = SweepView()
        self.tabs.addTab(self.layer_table, "Layers")
        self.tabs.addTab(self.estimate_view, "Estimate && plan")
        self.tabs.addTab(self.sweep_view, "What-if sweep")
        dock.setWidget(self.tabs)
        self.addDockWidget(Qt.BottomDockWidgetArea, dock)
        self.resizeDocks([dock], [330], Qt.Vertical)
        model = self.layer_table.layer_model
        model.priorityEdited.connect(self.controller.set_layer_priority)
        model.checkpointEdited.connect(self.controller.set_checkpoint_strategy)
        self.sweep_view.startRequested.connect(self.start_sweep)
        self.sweep_view.cancelRequested.connect(self.controller.cancel_sweep)
        self.sweep_view.pointChosen.connect(lambda row: self.apply_preset(
            replace(row["settings"], name=self.config_panel.settings().name), mark_saved=False))

    def _action(self, text, slot, shortcut=None, tip=None) -> QAction:
        a = QAction(text, self)
        a.triggered.connect(slot)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        return a

    def _build_actions(self) -> None:
        self.act_open = self._action("Open model…", self.open_model_dialog, "Ctrl+O")
        self.act_demo = self._action("Open demo model", lambda: self.open_model(None))
        self.act_run = self._action("Run once", self.controller.run_once, "F5", "Run one inference")
        self.act_continuous = self._action("Run continuously", self.controller.run_continuous, "F6",
                                           "Run inferences back to back until Stop")
        self.act_stop = self._action("Stop", self.controller.stop, "Esc", "Stop at the next layer boundary")
        self.act_step = self._action("Step layer", self.controller.step, "F10", "Execute the next layer only")
        self.act_png = self._action("Export plots as PNG…", self.export_png_dialog)
        self.act_csv = self._action("Export recorded stats as CSV…", self.export_csv_dialog)
        self.act_load_preset = self._action("Load preset file…", self.load_preset_dialog)
        self.act_save_preset = self._action("Save preset…", self.save_preset_dialog, "Ctrl+S")
        self.act_delete_preset = self._action("Delete preset", self.delete_current_preset)
        quit_action = self._action("Quit", self.close, "Ctrl+Q")

        bar = QToolBar("Run")
        bar.setObjectName("run")
        for a in (self.act_open, self.act_demo, None, self.act_run, self.act_continuous, self.act_stop,
                  self.act_step, None, self.act_png, self.act_csv):
            bar.addSeparator() if a is None else bar.addAction(a)
        self.addToolBar(bar)

        m = self.menuBar().addMenu("&File")
        m.addAction(self.act_open)
        m.addAction(self.act_demo)
        self.recent_menu = m.addMenu("Recent models")
        m.addSeparator()
        m.addAction(self.act_png)
        m.addAction(self.act_csv)
        m.addSeparator()
        m.addAction(quit_action)
        p = self.menuBar().addMenu("&Presets")
        p.addAction(self.act_load_preset)
        p.addAction(self.act_save_preset)
        p.addAction(self.act_delete_preset)
        self.recent_presets_menu = p.addMenu("Recent preset files")
        r = self.menuBar().addMenu("&Run")
        for a in (self.act_run, self.act_continuous, self.act_stop, self.act_step):
            r.addAction(a)
        self._refresh_recent_menus()
        self._set_engine_actions(False)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.state_label = QLabel("no model")
        self.latency_label = QLabel("latency —")
        self.peak_label = QLabel("peak —")
        self.hit_label = QLabel("weight-cache hits n/a")
        self.plan_label = QLabel("")
        self.plan_label.setToolTip("the loader's residency plan: weights kept resident across "
                                   "inferences, its simulated inference time against keeping "
                                   "nothing, and the least time any schedule could reach with the "
                                   "last run's compute, this weight budget and the measured disk")
        self.load_progress = QProgressBar()
        self.load_progress.setMaximumWidth(220)
        self.load_progress.setVisible(False)
        for w in (self.state_label, self.latency_label, self.peak_label, self.hit_label, self.plan_label):
            sb.addPermanentWidget(w)
        sb.addWidget(self.load_progress)

    def _connect_engine(self) -> None:
        c = self.controller
        c.loadProgress.connect(self._on_load_progress)
        c.modelLoaded.connect(self._on_model_loaded)
        c.stateChanged.connect(self._on_state)
        c.runFinished.connect(self._on_run_finished)
        c.estimateReady.connect(self._on_estimate)
        c.failed.connect(lambda title, msg: self.show_error(title, msg))
        c.stepped.connect(self._on_stepped)
        c.sweepProgress.connect(self.sweep_view.on_progress)
        c.sweepPoint.connect(self.sweep_view.add_row)
        c.sweepFinished.connect(self.sweep_view.finish)

    # -- model ------------------------------------------------------------------------------

    def open_model_dialog(self) -> None:
        start = self.qsettings.value("last_model_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open ONNX model", start, "ONNX models (*.onnx);;All files (*)")
        if path:
            self.open_model(path)

    def open_model(self, path: Optional[str]) -> None:
        """Load `path` (None: the built-in demo model) in the engine thread."""
        self.model_path = path
        self.load_progress.setVisible(True)
        self.load_progress.setRange(0, 0)
        self.controller.set_settings(self.config_panel.settings())
        self.controller.load_model(path)

    def _on_load_progress(self, done: int, total: int, message: str) -> None:
        self.load_progress.setVisible(True)
        self.load_progress.setRange(0, total if total > 0 else 0)
        if total > 0:
            self.load_progress.setValue(done)
        self.load_progress.setFormat(message[:40])
        self.statusBar().showMessage(message, 3000)

    def _on_model_loaded(self, model, session) -> None:
        self.load_progress.setVisible(False)
        f = self.controller.features
        self.recorder.reset(len(model.layers))
        self.layer_table.set_layers(model.layers, f.layer_priority, f.checkpoint_strategy)
        self.config_panel.set_features(f, simd_capabilities())
        self.act_step.setEnabled(f.step)
        self.act_step.setToolTip("Execute the next layer only" if f.step else "available when the engine supports it")
        name = "demo model" if self.model_path is None else Path(self.model_path).name
        self.setWindowTitle(f"tinyai-workbench — {model.name} ({name})[*]")
        self.statusBar().showMessage(f"{model.name}: {len(model.layers)} layers, weights "
                                     f"{human_size(model.weight_bytes)}", 5000)
        self._first_estimate = True
        if self.model_path is not None:
            self._remember("recent_models", self.model_path)
            self.qsettings.setValue("last_model_dir", str(Path(self.model_path).parent))
        self._set_engine_actions(True)

    def _set_engine_actions(self, enabled: bool) -> None:
        for a in (self.act_run, self.act_continuous, self.act_stop, self.act_step):
            a.setEnabled(enabled)

    # -- engine events ------------------------------------------------------------------

    def _on_state(self, state: str) -> None:
        self.state_label.setText(state)
        busy = state in ("running", "continuous", "sweeping", "loading")
        has_model = self.controller.session is not None
        self.act_run.setEnabled(has_model and not busy)
        self.act_continuous.setEnabled(has_model and not busy)
        self.act_step.setEnabled(has_model and not busy and bool(self.controller.features and self.controller.features.step))
        self.act_open.setEnabled(state != "loading")
        self.act_demo.setEnabled(state != "loading")
        self.sweep_view.start.setEnabled(has_model and not busy)
        if state == "sweeping":
            self.sweep_view.set_running(True)

    def _on_run_finished(self, result: dict) -> None:
        self.recorder.add_latency(result["run"], result["latency_s"])
        s = result["stats"]
        self.latency_label.setText(f"latency {result['latency_s'] * 1e3:.1f} ms")
        self.peak_label.setText(f"peak {human_size(s.get('total_peak_bytes'))}")

    def _on_stepped(self, layer: int, next_layer: int) -> None:
        model = self.controller.model
        name = model.layers[layer].name if model and 0 <= layer < len(model.layers) else str(layer)
        self.statusBar().showMessage(f"executed layer {layer} ({name})" +
                                     ("; model finished" if next_layer < 0 else f"; next is layer {next_layer}"), 5000)

    def _on_estimate(self, result: dict) -> None:
        # The order layers first run in, for the streaming bound in the status bar.
        order = []
        for step in result.get("plan") or []:
            layer = step.get("layer", -1)
            if layer >= 0 and layer not in order:
                order.append(layer)
        self._layer_order = order or None
        cfg = self.config_panel.settings().config
        self.estimate_view.show_estimate(result, cfg.memory.max_memory_budget, cfg.scheduler.max_activation_memory)
        est = result.get("estimate")
        if result.get("weight_range"):
            self.sweep_view.set_weight_range(result["weight_range"])
        if est and self._first_estimate:
            self._first_estimate = False
            self.sweep_view.suggest_range(est.get("minimum_total_bytes"), est.get("total_peak_bytes"))

    # -- polling ----------------------------------------------------------------------------

    def poll(self) -> None:
        c0 = time.thread_time()
        try:
            self._poll()
        finally:
            self.poll_cpu_max_s = max(self.poll_cpu_max_s, time.thread_time() - c0)

    def _poll(self) -> None:
        self.polls += 1
        phase = self.polls % CYCLE
        snap = self.controller.snapshot(with_cache=self.polls % CACHE_STATS_EVERY == PHASE_CACHE)
        if snap is None:
            return
        s, loader = snap["stats"], snap["loader"]
        cache = snap["cache"]
        if cache is not None:
            self._cpu_hit_rate = snap["cpu_hit_rate"]
            self.rate_plot.set_source(str(cache.get("source", "n/a")))
        budget = self.config_panel.settings().config.memory.max_memory_budget if phase == PHASE_TABLE \
            else getattr(self, "_budget", None)
        self._budget = budget
        self.recorder.add_sample(time.perf_counter() - self._t0, s, budget, snap["rss"], loader["hit_rate"],
                                 getattr(self, "_cpu_hit_rate", None), snap["statuses"])
        self.memory_plot.update_from(self.recorder)
        self.latency_plot.update_from(self.recorder)
        if phase == PHASE_HEATMAP:
            self.heatmap.update_from(self.recorder)
        elif phase == PHASE_RATES:
            self.rate_plot.update_from(self.recorder)
        self.plot_updates += 1
        if phase == PHASE_TABLE:
            self.layer_table.layer_model.update_live(
                snap["statuses"], int(s.get("current_layer", -1)), loader["layer_load_s"],
                loader["layer_hits"], loader["layer_misses"], s.get("layer_priority"),
                plan_labels([layer.weight_bytes for layer in self.controller.model.layers],
                            loader["plan_active"], loader["layer_planned_bytes"]),
                loader["layer_compute_s"], loader["layer_wait_s"])
            if loader["hit_rate"] is not None:
                self.hit_label.setText(f"weight-cache hits {loader['hit_rate'] * 100:.0f}%")
            self.plan_label.setText(plan_summary(loader, streaming_bound(s, self._layer_order)))

    # -- settings and presets -------------------------------------------------------------

    def _initial_preset(self) -> Preset:
        name = self.qsettings.value("last_preset", "balanced")
        try:
            return self.presets.load(name)
        except PresetError:
            return self.presets.load("balanced") if self.presets.find("balanced") else Preset("balanced")

    def _on_settings_changed(self, settings: Preset) -> None:
        self.controller.set_settings(settings)
        self._update_modified()

    def _update_modified(self) -> None:
        current = self.config_panel.settings()
        modified = replace(current, name="", description="") != replace(self.saved_settings, name="", description="")
        self.setWindowModified(modified)
        self.preset_state.setText("● unsaved" if modified else "")
        self.preset_state.setToolTip("settings differ from the preset" if modified else "")

    def apply_preset(self, preset: Preset, mark_saved: bool = True) -> None:
        if mark_saved:
            self.saved_settings = preset
        self.config_panel.set_settings(preset)  # emits settingsChanged -> engine + modified flag
        idx = self.preset_combo.findText(preset.name)
        if idx >= 0:
            self.preset_combo.setCurrentIndex(idx)
        self._update_modified()

    def load_named_preset(self, name: str) -> None:
        try:
            preset = self.presets.load(name)
        except PresetError as e:
            self.show_error("Could not load the preset", str(e))
            return
        self.qsettings.setValue("last_preset", name)
        self.apply_preset(preset)

    def load_preset_file(self, path: str) -> bool:
        try:
            preset = load_preset(path)
        except PresetError as e:
            self.show_error("Could not load the preset", str(e))
            return False
        self._remember("recent_presets", str(path))
        self.apply_preset(preset)
        return True

    def load_preset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load preset", str(self.presets.user_dir), "Presets (*.toml)")
        if path:
            self.load_preset_file(path)

    def save_preset_dialog(self) -> None:
        current = self.config_panel.settings()
        default = current.name if self.presets.find(current.name) and not self.presets.find(current.name).shipped else ""
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:", text=default)
        if ok and name.strip():
            self.save_preset_as(name.strip())

    def save_preset_as(self, name: str) -> bool:
        preset = replace(self.config_panel.settings(), name=name)
        try:
            entry = self.presets.save(preset)
        except (PresetError, OSError) as e:
            self.show_error("Could not save the preset", str(e))
            return False
        self.config_panel.set_name(entry.name, preset.description)
        self.saved_settings = replace(preset, name=entry.name)
        self.qsettings.setValue("last_preset", entry.name)
        self._refresh_preset_combo()
        self.preset_combo.setCurrentIndex(self.preset_combo.findText(entry.name))
        self._update_modified()
        self.statusBar().showMessage(f"saved preset {entry.path}", 5000)
        return True

    def delete_current_preset(self) -> None:
        name = self.preset_combo.currentText()
        try:
            self.presets.delete(name)
        except (PresetError, OSError) as e:
            self.show_error("Could not delete the preset", str(e))
            return
        self._refresh_preset_combo()
        self.statusBar().showMessage(f"deleted preset {name}", 5000)

    def _refresh_preset_combo(self) -> None:
        current = self.preset_combo.currentText()
        self.preset_combo.clear()
        for e in self.presets.entries():
            self.preset_combo.addItem(e.name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1,
                                          "shipped (read-only)" if e.shipped else str(e.path), Qt.ToolTipRole)
        if current:
            self.preset_combo.setCurrentIndex(max(self.preset_combo.findText(current), 0))

    # -- recent files, export, window state -----------------------------------------------------

    def _remember(self, key: str, path: str) -> None:
        items = [p for p in (self.qsettings.value(key, []) or []) if p != path]
        if isinstance(items, str):
            items = [items]
        self.qsettings.setValue(key, [path] + items[:MAX_RECENT - 1])
        self._refresh_recent_menus()

    def recent(self, key: str) -> list:
        v = self.qsettings.value(key, []) or []
        return [v] if isinstance(v, str) else list(v)

    def _refresh_recent_menus(self) -> None:
        for menu, key, opener in ((self.recent_menu, "recent_models", self.open_model),
                                  (self.recent_presets_menu, "recent_presets", self.load_preset_file)):
            menu.clear()
            for path in self.recent(key):
                menu.addAction(path, lambda p=path, o=opener: o(p))
            menu.setEnabled(bool(self.recent(key)))

    def export_png(self, path: str) -> bool:
        ok = self.plots.grab().save(path)
        if not ok:
            self.show_error("Could not export the plots", f"{path}: the image could not be written")
        return ok

    def export_csv(self, path: str) -> bool:
        try:
            self.recorder.export_csv(path)
            return True
        except OSError as e:
            self.show_error("Could not export the stats", f"{path}: {e.strerror or e}")
            return False

    def export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plots", "tinyai-plots.png", "PNG images (*.png)")
        if path:
            self.export_png(path)

    def export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export recorded stats", "tinyai-stats.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def start_sweep(self, low: int, high: int, steps: int, with_tradeoff: bool, loader_steps: int = 0) -> None:
        """Sweep `steps` memory budgets from low to high (steps 0: keep the current budget),
        the tradeoff too if asked, and `loader_steps` loader weight budgets (0: keep it)."""
        memory = self.config_panel.settings().config.memory
        try:
            points = sweep_points(low, high, steps,
                                  TRADEOFF_SWEEP if with_tradeoff else (memory.memory_speed_tradeoff,),
                                  loader=loader_levels(loader_steps) if loader_steps else (None,),
                                  budgets=None if steps else [memory.max_memory_budget])
        except ValueError as e:
            self.show_error("Cannot start the sweep", str(e))
            return
        self.sweep_view.set_running(True, len(points))
        self.controller.sweep(points)

    def _restore_window_state(self) -> None:
        geometry = self.qsettings.value("geometry")
        state = self.qsettings.value("window_state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event):  # noqa: N802
        self.qsettings.setValue("geometry", self.saveGeometry())
        self.qsettings.setValue("window_state", self.saveState())
        self.qsettings.sync()
        self.timer.stop()
        self.controller.shutdown()
        super().closeEvent(event)
