"""The command line: no arguments opens the workbench; the headless check prints its metrics."""
import os
import subprocess
import sys

import pytest

from gui_helpers import tiny_model_path  # noqa: F401 (fixture)


def test_no_arguments_opens_the_workbench_on_the_demo(monkeypatch):
    from tinyai_workbench.app import cli, gui
    calls = []
    monkeypatch.setattr(gui, "run_gui", lambda **kw: calls.append(kw) or 0)
    assert cli.main([]) == 0
    assert calls == [{"model": None, "preset": None, "run_seconds": None, "screenshot": None}]


@pytest.mark.native
def test_headless_run_prints_stall_and_fps_last(tmp_path, tiny_model_path):
    shot = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TINYAI_SETTINGS_FILE=str(tmp_path / "s.ini"),
               TINYAI_PRESETS_DIR=str(tmp_path / "presets"))
    r = subprocess.run([sys.executable, "-m", "tinyai_workbench.app.cli", "gui", str(tiny_model_path),
                        "--run-seconds", "1.5", "--screenshot", str(shot)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-2:]
    assert last[0].startswith("ui_max_stall_ms=") and last[1].startswith("plot_fps=")
    assert float(last[0].split("=")[1]) >= 0 and float(last[1].split("=")[1]) > 0
    assert shot.stat().st_size > 10000
    startup = dict(tok.split("=") for tok in r.stdout.strip().splitlines()[-3].split())
    assert set(startup) == {"startup_window_shown_s", "startup_window_shown_cpu_s", "startup_model_loaded_s",
                            "ui_max_poll_cpu_ms"}
    shown, shown_cpu, loaded = (float(startup[k]) for k in ("startup_window_shown_s", "startup_window_shown_cpu_s",
                                                            "startup_model_loaded_s"))
    assert shown > 0 and loaded > 0 and shown_cpu > 0
    assert 0 < float(startup["ui_max_poll_cpu_ms"]) < 1000 * 1.5  # some polls ran, within the 1.5 s
