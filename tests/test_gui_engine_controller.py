"""The engine controller: inference, stepping and sweeps run in the worker thread, never on
the GUI thread; signals arrive in order; stop ends continuous runs."""
import threading

import pytest

from gui_helpers import gui_env, tiny_model_path, wait_idle, window  # noqa: F401 (fixtures)

pytestmark = pytest.mark.native


def test_run_once_signals_in_order_on_worker_thread(qtbot, window):
    c = window.controller
    wait_idle(qtbot, window)
    states = []
    c.stateChanged.connect(states.append)
    with qtbot.waitSignals([c.stateChanged, c.runFinished, c.stateChanged], order="strict", timeout=20000):
        c.run_once()
    assert states == ["running", "idle"]
    assert c.worker.run_threads and threading.get_ident() not in c.worker.run_threads
    assert c.thread.isRunning() and c.thread is not window.thread()


def test_continuous_runs_until_stop_and_gui_keeps_polling(qtbot, window):
    c = window.controller
    wait_idle(qtbot, window)
    runs = []
    c.runFinished.connect(lambda r: runs.append(r["run"]))
    polls = window.polls
    c.run_continuous()
    # A tiny model can finish three runs inside one timer tick, so wait for both: runs
    # completed and the GUI timer firing while the worker is still running continuously.
    qtbot.waitUntil(lambda: len(runs) >= 3 and window.polls > polls, timeout=20000)
    c.stop()
    wait_idle(qtbot, window)
    assert runs == sorted(runs) and threading.get_ident() not in c.worker.run_threads
    n = len(runs)
    qtbot.wait(200)
    assert len(runs) == n  # stopped for good
    v = window.recorder.latencies.view()
    assert len(v) == n and (v[:, 1] > 0).all()


def test_step_executes_one_layer_at_a_time(qtbot, window):
    c = window.controller
    if not c.features.step:
        pytest.skip("engine has no execute_layer yet")
    wait_idle(qtbot, window)
    steps = []
    c.stepped.connect(lambda layer, nxt: steps.append((layer, nxt)))
    for _ in range(len(c.model.layers)):
        with qtbot.waitSignal(c.stepped, timeout=10000):
            c.step()
    assert [s[0] for s in steps] == list(range(len(c.model.layers)))
    assert steps[-1][1] == -1
    assert threading.get_ident() not in c.worker.run_threads


def test_snapshot_reports_stats_without_touching_the_worker(qtbot, window):
    snap = window.controller.snapshot()
    assert {"stats", "rss", "loader", "statuses"} <= set(snap)
    assert snap["stats"]["total_bytes"] >= 0 and snap["rss"] > 0
    loader = snap["loader"]
    if "loader_hits" not in snap["stats"]:
        assert loader["hit_rate"] is None  # never an invented number


def test_layer_table_lists_layers(window):
    m = window.layer_table.layer_model
    layers = window.controller.model.layers
    assert m.rowCount() == len(layers)
    assert m.index(0, 1).data() == layers[0].name
    assert m.index(0, 3).data() != ""
    f = window.controller.features
    assert m.priority_editable == f.layer_priority and m.checkpoint_editable == f.checkpoint_strategy
    if not f.layer_priority:
        from PySide6.QtCore import Qt
        assert m.index(0, 5).data() == "n/a"
        assert not (m.flags(m.index(0, 5)) & Qt.ItemIsEditable)
