"""Presets in the window: save, reload, delete, unsaved indicator, recent files, QSettings."""
import pytest
from PySide6.QtCore import QSettings

from gui_helpers import gui_env, tiny_model_path, window  # noqa: F401 (fixtures)
from tinyai_workbench.presets import load_preset

pytestmark = pytest.mark.native


def test_save_load_round_trip_through_the_window(qtbot, window):
    panel = window.config_panel
    panel.controls["prefetch_window"].setValue(9)
    panel.controls["memory_budget"].setValue(512.0)
    panel.controls["disk_speed"].setValue(120.0)
    assert window.isWindowModified() and "unsaved" in window.preset_state.text()
    assert window.save_preset_as("my tuned")
    assert not window.isWindowModified()
    saved = load_preset(window.presets.find("my-tuned").path)
    assert saved.config.loader.prefetch_window == 9 and saved.emulated_disk_mbps == 120.0
    assert saved.config.memory.max_memory_budget == 512 * 2**20

    window.load_named_preset("low-memory")
    assert panel.controls["prefetch_window"].value() == 1
    window.load_named_preset("my-tuned")
    assert panel.controls["prefetch_window"].value() == 9 and panel.controls["memory_budget"].value() == 512.0
    qtbot.waitUntil(lambda: window.controller.session.config.loader.prefetch_window == 9, timeout=10000)

    window.preset_combo.setCurrentIndex(window.preset_combo.findText("my-tuned"))
    window.delete_current_preset()
    assert window.presets.find("my-tuned") is None and window.preset_combo.findText("my-tuned") == -1


def test_recent_files_and_last_preset_are_remembered(qtbot, window, tiny_model_path, gui_env):
    window.load_named_preset("max-speed")
    window.close()
    s = QSettings(str(gui_env / "settings" / "workbench.ini"), QSettings.IniFormat)
    assert s.value("last_preset") == "max-speed"
    recent = s.value("recent_models")
    assert str(tiny_model_path) in ([recent] if isinstance(recent, str) else recent)
    assert s.value("geometry") is not None


def test_export_png_and_csv(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.controller.runFinished, timeout=20000):
        window.controller.run_once()
    qtbot.waitUntil(lambda: len(window.recorder.history) >= 3, timeout=5000)
    png, csv_path = tmp_path / "plots.png", tmp_path / "stats.csv"
    assert window.export_png(str(png)) and png.stat().st_size > 1000
    assert window.export_csv(str(csv_path))
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("kind,t_s,activation_bytes")
    assert any(line.startswith("sample,") for line in lines)
    assert any(line.startswith("inference,") for line in lines)
