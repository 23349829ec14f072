"""Every control reaches the engine: move it, then the session's Config (applied in the engine
thread at the next boundary) holds the new value; extras the engine lacks are disabled."""
import pytest
from PySide6.QtWidgets import QAbstractSlider

from gui_helpers import gui_env, tiny_model_path, wait_idle, window  # noqa: F401 (fixtures)
from tinyai_workbench.widgets.config_panel import CACHE_LINE_SIZES, UNAVAILABLE_TIP

pytestmark = pytest.mark.native
MIB = 2**20

# control key -> (how to move it, what the engine Config must then say)
MOVES = {
    "memory_budget": (lambda w: w.setValue(300.0), lambda c: c.memory.max_memory_budget == 300 * MIB),
    "tensor_reuse": (lambda w: w.setChecked(False), lambda c: c.memory.enable_tensor_reuse is False),
    "in_place": (lambda w: w.setChecked(False), lambda c: c.memory.enable_in_place_ops is False),
    "activation_budget": (lambda w: w.setValue(12.5), lambda c: c.scheduler.max_activation_memory == int(12.5 * MIB)),
    "checkpointing": (lambda w: w.setChecked(True), lambda c: c.scheduler.enable_checkpointing is True),
    "recompute": (lambda w: w.setChecked(True), lambda c: c.scheduler.recompute_activations is True),
    "prefetch": (lambda w: w.setChecked(False), lambda c: c.loader.enable_prefetch is False),
    "prefetch_window": (lambda w: w.setValue(7), lambda c: c.loader.prefetch_window == 7),
    "adaptive_window": (lambda w: w.setChecked(True), lambda c: c.loader.enable_adaptive_window is True),
    "weight_cache": (lambda w: w.setValue(96.0), lambda c: c.loader.max_memory_usage == 96 * MIB),
    "simd_level": (lambda w: w.setCurrentIndex(1), lambda c: c.simd_level == 1),
    "block_size": (lambda w: w.setValue(96), lambda c: c.cache.block_size == 96),
    "cache_line_size": (lambda w: w.setCurrentIndex(CACHE_LINE_SIZES.index(128)), lambda c: c.cache.cache_line_size == 128),
    "cache_prefetch": (lambda w: w.setChecked(False), lambda c: c.cache.enable_prefetch is False),
    "prefetch_distance": (lambda w: w.setValue(3), lambda c: c.cache.prefetch_distance == 3),
    "threads": (lambda w: w.setValue(1), lambda c: c.threads == 1),
}


def test_every_control_changes_engine_config(qtbot, window):
    for key, (move, check) in MOVES.items():
        assert not check(window.controller.session.config), f"{key}: the default already has the tested value"
        move(window.config_panel.controls[key])
        try:
            qtbot.waitUntil(lambda: check(window.controller.session.config), timeout=10000)
        except Exception:  # pytestqt TimeoutError
            pytest.fail(f"moving '{key}' did not reach the engine config: {window.controller.session.config}")
    assert window.isWindowModified()  # the unsaved-changes indicator
    assert window.errors == []


def test_tradeoff_slider_drives_both_tradeoffs(qtbot, window):
    slider = window.config_panel.tradeoff
    for _ in range(3):  # as a user's page-up or click beside the handle does: +0.1 per page step
        slider.triggerAction(QAbstractSlider.SliderPageStepAdd)
    cfg = lambda: window.controller.session.config  # noqa: E731
    qtbot.waitUntil(lambda: cfg().memory.memory_speed_tradeoff == pytest.approx(0.8), timeout=10000)
    assert cfg().scheduler.memory_speed_tradeoff == pytest.approx(0.8)
    assert window.config_panel.tradeoff_label.text() == "0.80"


def test_controls_cover_every_config_field(window):
    """A new Config field needs a control: the panel must set each one away from its default."""
    import dataclasses

    from tinyai_workbench.core_native.config import Config
    panel = window.config_panel
    for key, (move, _) in MOVES.items():
        move(panel.controls[key])
    moved = panel.settings().config
    default = Config()
    unchanged = []
    for section in ("memory", "loader", "scheduler", "cache"):
        for f in dataclasses.fields(getattr(default, section)):
            if getattr(getattr(moved, section), f.name) == getattr(getattr(default, section), f.name):
                unchanged.append(f"{section}.{f.name}")
    # memory_speed_tradeoff fields are the slider's (test above)
    assert unchanged == ["memory.memory_speed_tradeoff", "scheduler.memory_speed_tradeoff"]
    assert moved.simd_level != default.simd_level and moved.threads != default.threads


def test_extras_reach_settings_and_say_when_engine_lacks_them(qtbot, window):
    panel, features = window.config_panel, window.controller.features
    panel.controls["disk_speed"].setValue(150.0)
    panel.controls["simd_conv"].setChecked(False)
    s = panel.settings()
    assert s.emulated_disk_mbps == 150.0 and s.simd_ops["conv"] is False
    for key, supported in (("disk_speed", features.disk_speed), ("simd_conv", features.simd_ops)):
        w = panel.controls[key]
        assert w.isEnabled() == supported
        if not supported:
            assert UNAVAILABLE_TIP in w.toolTip()
    qtbot.waitUntil(lambda: window.controller.worker._applied.emulated_disk_mbps == 150.0, timeout=10000)


def test_estimate_updates_when_a_control_moves_before_running(qtbot, window):
    if not window.controller.features.estimate:
        pytest.skip("engine has no estimate_memory_usage yet")
    wait_idle(qtbot, window)
    runs_before = window.controller.session.stats()["runs"]
    before = window.estimate_view.label.text()
    with qtbot.waitSignal(window.controller.estimateReady, timeout=10000) as blocker:
        window.config_panel.controls["memory_budget"].setValue(1.0)
    assert blocker.args[0]["estimate"] is not None
    text = window.estimate_view.label.text()
    assert text != before and "fits the 1.0 MiB budget" in text
    assert window.controller.session.stats()["runs"] == runs_before  # nothing ran


def test_preset_applies_every_field_to_engine(qtbot, window):
    window.load_named_preset("max-speed")
    preset = window.presets.load("max-speed")
    qtbot.waitUntil(lambda: window.controller.session.config == preset.config, timeout=10000)
    assert not window.isWindowModified()
