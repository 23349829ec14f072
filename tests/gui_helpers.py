"""Shared set-up for the workbench GUI tests: an isolated settings file and preset directory,
a tiny model on disk, and a main window with that model loaded and errors recorded."""
import pytest

import tiny_models

LOAD_TIMEOUT_MS = 30000


@pytest.fixture
def gui_env(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAI_SETTINGS_FILE", str(tmp_path / "settings" / "workbench.ini"))
    monkeypatch.setenv("TINYAI_PRESETS_DIR", str(tmp_path / "user-presets"))
    return tmp_path


@pytest.fixture
def tiny_model_path(tmp_path):
    return tiny_models.save(tiny_models.tiny_cnn(), tmp_path / "tiny_cnn.onnx")


class RecordedErrors(list):
    def __call__(self, title, message):
        self.append((title, message))


def open_window(qtbot, model_path, errors=None, wait_estimate=True):
    from tinyai_workbench.app.main_window import MainWindow

    window = MainWindow(show_error=errors, restore_state=False)
    qtbot.addWidget(window)
    window.show()
    signals = [window.controller.modelLoaded] + ([window.controller.estimateReady] if wait_estimate else [])
    with qtbot.waitSignals(signals, timeout=LOAD_TIMEOUT_MS):
        window.open_model(str(model_path) if model_path is not None else None)
    return window


@pytest.fixture
def window(qtbot, gui_env, tiny_model_path):
    errors = RecordedErrors()
    w = open_window(qtbot, tiny_model_path, errors)
    w.errors = errors
    yield w
    w.controller.stop()


def wait_idle(qtbot, window, timeout=LOAD_TIMEOUT_MS):
    qtbot.waitUntil(lambda: window.controller.state == "idle" and not window.controller.worker.busy.is_set(),
                    timeout=timeout)
