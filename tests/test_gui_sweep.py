"""What-if sweep: points, Pareto front, progress, cancel, and applying a clicked point."""
import time

import pytest

from gui_helpers import gui_env, tiny_model_path, wait_idle, window  # noqa: F401 (fixtures)
from tinyai_workbench.app.sweep import pareto_front, sweep_points

MIB = 2**20


def test_sweep_points_are_geometric_and_per_tradeoff():
    pts = sweep_points(64 * MIB, 256 * MIB, 3, (0.0, 1.0))
    assert [p.budget for p in pts[:3]] == [64 * MIB, 128 * MIB, 256 * MIB]
    assert [p.tradeoff for p in pts] == [0.0] * 3 + [1.0] * 3
    with pytest.raises(ValueError):
        sweep_points(0, 10, 3)


def test_pareto_front_keeps_only_undominated_feasible_points():
    rows = [{"peak_bytes": 10, "latency_s": 5.0, "error": None},
            {"peak_bytes": 20, "latency_s": 3.0, "error": None},
            {"peak_bytes": 30, "latency_s": 4.0, "error": None},   # dominated by the 20-byte point
            {"peak_bytes": 40, "latency_s": 1.0, "error": None},
            {"peak_bytes": 5, "latency_s": None, "error": "budget too small"}]
    assert [r["peak_bytes"] for r in pareto_front(rows)] == [10, 20, 40]


@pytest.mark.native
def test_sweep_runs_in_worker_and_reports_every_point(qtbot, window):
    c = window.controller
    wait_idle(qtbot, window)
    with qtbot.waitSignal(c.sweepFinished, timeout=30000) as done:
        window.start_sweep(1 * MIB, 8 * MIB, 4, False)
    rows, cancelled = done.args
    assert not cancelled and len(rows) == 4
    assert all(r["latency_s"] > 0 and r["peak_bytes"] > 0 for r in rows if r["error"] is None)
    assert window.sweep_view.progress.value() == 4
    assert len(window.sweep_view.scatter.points()) == sum(r["error"] is None for r in rows)


@pytest.mark.native
def test_sweep_cancel_stops_early_and_restores_settings(qtbot, window, monkeypatch):
    c = window.controller
    wait_idle(qtbot, window)
    settings_before = c.session.config
    real_run = c.session.run

    def slow_run(feeds):  # make each point take long enough to cancel mid-sweep
        time.sleep(0.2)
        return real_run(feeds)
    monkeypatch.setattr(c.session, "run", slow_run)
    c.sweepPoint.connect(lambda row: window.sweep_view.cancel.click())
    with qtbot.waitSignal(c.sweepFinished, timeout=30000) as done:
        window.start_sweep(1 * MIB, 64 * MIB, 20, True)
    rows, cancelled = done.args
    assert cancelled and 1 <= len(rows) < 60
    assert "cancelled" in window.sweep_view.status.text()
    assert window.sweep_view.start.isEnabled() and not window.sweep_view.cancel.isEnabled()
    wait_idle(qtbot, window)
    assert c.session.config == settings_before  # the sweep never keeps its trial settings


@pytest.mark.native
def test_clicking_a_point_applies_its_settings(qtbot, window):
    c = window.controller
    wait_idle(qtbot, window)
    with qtbot.waitSignal(c.sweepFinished, timeout=30000):
        window.start_sweep(2 * MIB, 4 * MIB, 2, False)
    scatter = window.sweep_view.scatter
    point = scatter.points()[-1]
    scatter.sigClicked.emit(scatter, [point], None)
    budget = point.data()["budget"]
    assert window.config_panel.settings().config.memory.max_memory_budget == pytest.approx(budget, abs=MIB / 10)
    qtbot.waitUntil(lambda: c.session.config.memory.max_memory_budget == window.config_panel.settings().config.memory.max_memory_budget,
                    timeout=10000)
    assert window.isWindowModified()
