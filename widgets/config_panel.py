"""The tuning controls: every engine Config field plus the workbench's extra knobs.

`settings()` reads the controls into a Preset; `set_settings()` writes one back. Any user
change emits `settingsChanged(Preset)` once. Controls for features the engine does not offer
yet stay visible, disabled, with a tooltip saying so (`set_features`).
"""
from __future__ import annotations

from typing import Dict, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QSlider, QSpinBox, QVBoxLayout, QWidget)

from tinyai_workbench.core_native.config import (CacheConfig, Config, LayerSchedulerConfig,
                                                 MemoryOptimizerConfig, ProgressiveLoaderConfig)
from tinyai_workbench.presets import SIMD_OPS, Preset

UNAVAILABLE_TIP = "available when the engine supports it"
MIB = 2**20
SIMD_LEVELS = ("0 — scalar reference", "1 — SSE/NEON", "2 — AVX2", "3 — widest ISA, fused")
CACHE_LINE_SIZES = (32, 64, 128, 256)


class SizeSpin(QDoubleSpinBox):
    """A byte budget shown in MiB; 0 means unlimited (None in the Config)."""

    def __init__(self, maximum_mib: float = 65536.0):
        super().__init__()
        self.setRange(0.0, maximum_mib)
        self.setDecimals(2)
        self.setSuffix(" MiB")
        self.setSingleStep(8.0)
        self.setSpecialValueText("unlimited")
        self.setKeyboardTracking(False)
        self.setAccelerated(True)

    def bytes(self) -> Optional[int]:
        return int(round(self.value() * MIB)) or None

    def set_bytes(self, n: Optional[int]) -> None:
        self.setValue((n or 0) / MIB)


class ConfigPanel(QWidget):
    settingsChanged = Signal(object)  # Preset

    def __init__(self, parent=None):
        super().__init__(parent)
        self._scheduler_tradeoff = 0.5
        self._name, self._description = "untitled", ""
        self._updating = False
        self.controls: Dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        # Memory
        mem = self._group(layout, "Memory optimizer")
        self.tradeoff = QSlider(Qt.Horizontal)
        self.tradeoff.setRange(0, 100)
        self.tradeoff.setPageStep(10)
        self.tradeoff.setToolTip("0 favours memory (small tiles, recompute), 1 favours speed")
        self.tradeoff_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(QLabel("memory"))
        row.addWidget(self.tradeoff, 1)
        row.addWidget(QLabel("speed"))
        row.addWidget(self.tradeoff_label)
        mem.addRow("Tradeoff", row)
        self._add(mem, "memory_budget", "Memory budget", SizeSpin(),
                  "max_memory_budget: activations + resident weights + scratch")
        self._add(mem, "tensor_reuse", "", QCheckBox("Tensor reuse (arena plan)"))
        self._add(mem, "in_place", "", QCheckBox("In-place ops"))

        # Scheduler
        sch = self._group(layout, "Layer scheduler")
        self._add(sch, "activation_budget", "Activation budget", SizeSpin(), "max_activation_memory")
        self._add(sch, "checkpointing", "", QCheckBox("Checkpointing"))
        self._add(sch, "recompute", "", QCheckBox("Recompute activations"))

        # Loader
        ld = self._group(layout, "Progressive loader")
        self._add(ld, "prefetch", "", QCheckBox("Prefetch layers"))
        window = QSpinBox()
        window.setRange(0, 64)
        self._add(ld, "prefetch_window", "Prefetch window", window, "layers read ahead of execution")
        self._add(ld, "adaptive_window", "", QCheckBox("Adaptive window"))
        self._add(ld, "weight_cache", "Weight cache", SizeSpin(), "max_memory_usage of resident weights")
        disk = QDoubleSpinBox()
        disk.setRange(0.0, 100000.0)
        disk.setDecimals(0)
        disk.setSingleStep(50.0)
        disk.setSuffix(" MB/s")
        disk.setSpecialValueText("real disk")
        disk.setKeyboardTracking(False)
        self._add(ld, "disk_speed", "Emulated disk", disk, "throttle weight reads to emulate a slow disk (demo)")

        # SIMD
        simd = self._group(layout, "SIMD")
        level = QComboBox()
        level.addItems(SIMD_LEVELS)
        self._add(simd, "simd_level", "Level", level)
        ops = QHBoxLayout()
        for op in SIMD_OPS:
            box = QCheckBox(op.replace("_", " "))
            self.controls[f"simd_{op}"] = box
            box.toggled.connect(self._changed)
            ops.addWidget(box)
        simd.addRow("Per op", ops)

        # Cache
        cache = self._group(layout, "Cache")
        block = QSpinBox()
        block.setRange(1, 4096)
        block.setSingleStep(16)
        self._add(cache, "block_size", "Block size", block, "GEMM/conv tile size")
        line = QComboBox()
        line.addItems([str(n) for n in CACHE_LINE_SIZES])
        self._add(cache, "cache_line_size", "Cache line", line, "bytes")
        self._add(cache, "cache_prefetch", "", QCheckBox("Software prefetch"))
        dist = QSpinBox()
        dist.setRange(0, 1024)
        self._add(cache, "prefetch_distance", "Prefetch distance", dist, "cache lines ahead")

        # Runtime
        rt = self._group(layout, "Runtime")
        threads = QSpinBox()
        threads.setRange(0, 256)
        threads.setSpecialValueText("auto")
        self._add(rt, "threads", "Threads", threads, "auto = physical cores")
        layout.addStretch(1)

        self.tradeoff.valueChanged.connect(self._on_tradeoff)
        self.set_settings(Preset(), emit=False)

    # -- construction helpers ---------------------------------------------------------------

    def _group(self, layout, title) -> QFormLayout:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setContentsMargins(6, 4, 6, 4)
        form.setVerticalSpacing(3)
        layout.addWidget(box)
        return form

    def _add(self, form: QFormLayout, key: str, label: str, widget: QWidget, tip: str = ""):
        self.controls[key] = widget
        if tip:
            widget.setToolTip(tip)
        if isinstance(widget, QCheckBox):
            widget.toggled.connect(self._changed)
        elif isinstance(widget, QComboBox):
            widget.currentIndexChanged.connect(self._changed)
        else:
            widget.valueChanged.connect(self._changed)
        if label:
            form.addRow(label, widget)
        else:
            form.addRow(widget)

    def _on_tradeoff(self, value: int) -> None:
        self._scheduler_tradeoff = value / 100.0  # the slider drives both tradeoffs together
        self.tradeoff_label.setText(f"{value / 100:.2f}")
        self._changed()

    def _changed(self, *args) -> None:
        if not self._updating:
            self.settingsChanged.emit(self.settings())

    # -- read / write -------------------------------------------------------------------------

    def settings(self) -> Preset:
        c = self.controls
        tradeoff = self.tradeoff.value() / 100.0
        config = Config(
            memory=MemoryOptimizerConfig(c["tensor_reuse"].isChecked(), c["in_place"].isChecked(), tradeoff,
                                         c["memory_budget"].bytes()),
            loader=ProgressiveLoaderConfig(c["prefetch"].isChecked(), c["prefetch_window"].value(),
                                           c["adaptive_window"].isChecked(), c["weight_cache"].bytes()),
            scheduler=LayerSchedulerConfig(c["checkpointing"].isChecked(), self._scheduler_tradeoff,
                                           c["recompute"].isChecked(), c["activation_budget"].bytes()),
            cache=CacheConfig(c["block_size"].value(), CACHE_LINE_SIZES[c["cache_line_size"].currentIndex()],
                              c["cache_prefetch"].isChecked(), c["prefetch_distance"].value()),
            simd_level=c["simd_level"].currentIndex(),
            threads=c["threads"].value() or None)
        return Preset(self._name, self._description, config, float(c["disk_speed"].value()),
                      {op: c[f"simd_{op}"].isChecked() for op in SIMD_OPS})

    def set_settings(self, preset: Preset, emit: bool = True) -> None:
        c, cfg = self.controls, preset.config
        self._updating = True
        try:
            self._name, self._description = preset.name, preset.description
            self.tradeoff.setValue(int(round(cfg.memory.memory_speed_tradeoff * 100)))
            self.tradeoff_label.setText(f"{cfg.memory.memory_speed_tradeoff:.2f}")
            self._scheduler_tradeoff = cfg.scheduler.memory_speed_tradeoff
            c["memory_budget"].set_bytes(cfg.memory.max_memory_budget)
            c["tensor_reuse"].setChecked(cfg.memory.enable_tensor_reuse)
            c["in_place"].setChecked(cfg.memory.enable_in_place_ops)
            c["activation_budget"].set_bytes(cfg.scheduler.max_activation_memory)
            c["checkpointing"].setChecked(cfg.scheduler.enable_checkpointing)
            c["recompute"].setChecked(cfg.scheduler.recompute_activations)
            c["prefetch"].setChecked(cfg.loader.enable_prefetch)
            c["prefetch_window"].setValue(cfg.loader.prefetch_window)
            c["adaptive_window"].setChecked(cfg.loader.enable_adaptive_window)
            c["weight_cache"].set_bytes(cfg.loader.max_memory_usage)
            c["disk_speed"].setValue(preset.emulated_disk_mbps)
            c["simd_level"].setCurrentIndex(cfg.simd_level)
            for op in SIMD_OPS:
                c[f"simd_{op}"].setChecked(bool(preset.simd_ops.get(op, True)))
            c["block_size"].setValue(cfg.cache.block_size)
            line = cfg.cache.cache_line_size
            if line not in CACHE_LINE_SIZES:
                line = 64
            c["cache_line_size"].setCurrentIndex(CACHE_LINE_SIZES.index(line))
            c["cache_prefetch"].setChecked(cfg.cache.enable_prefetch)
            c["prefetch_distance"].setValue(cfg.cache.prefetch_distance)
            c["threads"].setValue(cfg.threads or 0)
        finally:
            self._updating = False
        if emit:
            self.settingsChanged.emit(self.settings())

    def set_features(self, features, simd_capabilities: Optional[dict] = None) -> None:
        """Enable the controls the engine can honour; the rest say why they are disabled."""
        available = {
            "disk_speed": bool(features and features.disk_speed),
            **{f"simd_{op}": bool(features and features.simd_ops) for op in SIMD_OPS},
        }
        for key, ok in available.items():
            w = self.controls[key]
            w.setEnabled(ok)
            base = w.toolTip().split("\n")[0] if w.toolTip() and w.toolTip() != UNAVAILABLE_TIP else ""
            w.setToolTip(base if ok else (f"{base}\n{UNAVAILABLE_TIP}" if base else UNAVAILABLE_TIP))
        level = self.controls["simd_level"]
        level.setToolTip("CPU: " + ", ".join(f"{k}={v}" for k, v in simd_capabilities.items())
                         if simd_capabilities else "SIMD level (CPU capabilities: " + UNAVAILABLE_TIP + ")")

    def set_name(self, name: str, description: str = "") -> None:
        self._name, self._description = name, description
