"""Errors become dialogs with the message; the window stays usable and nothing is lost."""
import pytest
from PySide6.QtWidgets import QMessageBox

from gui_helpers import gui_env, open_window, tiny_model_path, wait_idle  # noqa: F401 (fixtures)

pytestmark = pytest.mark.native


@pytest.fixture
def dialogs(monkeypatch):
    """QMessageBox.critical recorded instead of shown (it would block the test)."""
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    return shown


def test_bad_model_file_shows_dialog_and_keeps_previous_model(qtbot, gui_env, tiny_model_path, tmp_path, dialogs):
    window = open_window(qtbot, tiny_model_path)  # the default error presenter: QMessageBox
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"this is not a protobuf" * 10)
    with qtbot.waitSignal(window.controller.failed, timeout=20000):
        window.open_model(str(bad))
    qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=5000)
    title, text = dialogs[0]
    assert "model" in title.lower() and str(bad) in text
    wait_idle(qtbot, window)
    assert window.controller.model.name == "tiny_cnn"  # the previous model is still there
    with qtbot.waitSignal(window.controller.runFinished, timeout=20000):
        window.controller.run_once()  # and still runs


def test_missing_model_file(qtbot, gui_env, tmp_path, dialogs):
    from tinyai_workbench.app.main_window import MainWindow
    window = MainWindow(restore_state=False)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.controller.failed, timeout=20000):
        window.open_model(str(tmp_path / "nope.onnx"))
    qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=5000)
    assert "not found" in dialogs[0][1]
    assert not window.act_run.isEnabled()


def test_budget_too_small_reports_the_minimum(qtbot, gui_env, tiny_model_path, dialogs):
    window = open_window(qtbot, tiny_model_path)
    wait_idle(qtbot, window)
    window.config_panel.controls["memory_budget"].setValue(0.01)  # 10 KiB: below the tiny model's plan
    with qtbot.waitSignal(window.controller.failed, timeout=20000) as failed:
        window.controller.run_once()
    assert "minimum" in failed.args[1].lower()
    qtbot.waitUntil(lambda: len(dialogs) >= 1, timeout=5000)
    wait_idle(qtbot, window)
    window.config_panel.controls["memory_budget"].setValue(0.0)  # unlimited again: runs fine
    with qtbot.waitSignal(window.controller.runFinished, timeout=20000):
        window.controller.run_once()


def test_bad_preset_file_dialog_names_file_field_reason(qtbot, gui_env, tiny_model_path, tmp_path, dialogs):
    window = open_window(qtbot, tiny_model_path)
    before = window.config_panel.settings()
    bad = tmp_path / "bad.toml"
    bad.write_text("schema_version = 1\n[loader]\nprefetch_window = 'many'\n")
    assert not window.load_preset_file(str(bad))
    title, text = dialogs[0]
    assert str(bad) in text and "loader.prefetch_window" in text and "whole number" in text
    assert window.config_panel.settings() == before  # nothing changed


def test_saving_over_a_shipped_preset_is_refused(qtbot, gui_env, tiny_model_path, dialogs):
    window = open_window(qtbot, tiny_model_path)
    assert not window.save_preset_as("balanced")
    assert "shipped" in dialogs[0][1]
