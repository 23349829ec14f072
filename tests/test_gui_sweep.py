"""What-if sweep: points, Pareto front, progress, cancel, applying a clicked point, and the
loader weight-budget dimension driven through the panel's own controls."""
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from gui_helpers import RecordedErrors, gui_env, open_window, tiny_model_path, wait_idle, window  # noqa: F401
from tinyai_workbench.app.sweep import (SPIN_RESOLUTION, loader_budget_for, loader_levels, pareto_front,
                                        round_up_to_spin, sweep_points, weight_streaming_range)

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


# -- loader weight budget -------------------------------------------------------------------

def test_loader_levels_span_all_weights_to_the_streaming_minimum():
    assert loader_levels(1) == [1.0]
    assert loader_levels(3) == [1.0, 0.5, 0.0]
    with pytest.raises(ValueError):
        loader_levels(0)
    weights, floor = 100 * MIB, 4 * MIB
    budgets = [loader_budget_for(level, weights, floor) for level in loader_levels(5)]
    assert budgets[0] == round_up_to_spin(weights) and budgets[-1] == round_up_to_spin(floor)
    assert budgets == sorted(budgets, reverse=True) and len(set(budgets)) == 5
    # geometric: the middle level is the geometric mean (20 MiB), not the arithmetic one (52 MiB)
    assert budgets[2] == pytest.approx(20 * MIB, rel=1e-3)
    # never below the minimum, even past the ends; a floor at or above the weights is the weights
    assert loader_budget_for(-1.0, weights, floor) >= floor
    assert loader_budget_for(0.3, 3 * MIB, 5 * MIB) == round_up_to_spin(5 * MIB)


def test_budgets_round_up_to_what_the_size_spin_shows():
    for n in (1, 12345, 263168, 4 * MIB + 1):
        b = round_up_to_spin(n)
        assert b >= n and b - n < SPIN_RESOLUTION + 1
        assert round(b / MIB, 2) * MIB == pytest.approx(b, abs=1)  # survives the spin's 2 decimals


def test_weight_streaming_range_from_an_all_resident_estimate():
    est = {"weight_peak_bytes": 1000, "minimum_total_bytes": 1300, "minimum_streaming_total_bytes": 550}
    assert weight_streaming_range(est) == (1000, 250)
    assert weight_streaming_range({"weight_peak_bytes": 1000, "minimum_total_bytes": 1300}) is None
    assert weight_streaming_range(None) is None


def test_sweep_points_cross_loader_levels_and_can_keep_the_budget():
    pts = sweep_points(0, 0, 0, (0.5,), loader=[1.0, 0.0], budgets=[None])
    assert [(p.budget, p.loader_level) for p in pts] == [(None, 1.0), (None, 0.0)]
    pts = sweep_points(MIB, 4 * MIB, 3, (0.0, 1.0), loader=[1.0, 0.5, 0.0])
    assert len(pts) == 3 * 2 * 3 and {p.loader_level for p in pts} == {1.0, 0.5, 0.0}


def layered_mlp(path, layers=4, width=256):
    """`layers` Gemm layers of width x width weights (~0.25 MiB each): big enough for the
    loader budget to matter, small enough to run in milliseconds."""
    rng = np.random.default_rng(0)
    inits, nodes, prev = [], [], "x"
    for i in range(layers):
        inits += [numpy_helper.from_array((rng.standard_normal((width, width)) * 0.05).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(np.zeros(width, np.float32), f"b{i}")]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"], name=f"fc{i}", transB=1))
        prev = f"h{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def mlp_window(qtbot, gui_env, tmp_path):  # noqa: F811
    errors = RecordedErrors()
    w = open_window(qtbot, layered_mlp(tmp_path / "mlp.onnx"), errors)
    w.errors = errors
    yield w
    w.controller.stop()


def run_loader_sweep(qtbot, window, steps, with_budget=False):
    view = window.sweep_view
    window.tabs.setCurrentWidget(view)
    view.with_budget.setChecked(with_budget)
    view.with_loader.setChecked(True)
    view.loader_steps.setValue(steps)
    with qtbot.waitSignal(window.controller.sweepFinished, timeout=60000) as done:
        qtbot.mouseClick(view.start, qtbot_left_button())
    return done.args


def qtbot_left_button():
    from PySide6.QtCore import Qt
    return Qt.LeftButton


@pytest.mark.native
def test_loader_sweep_from_the_panel_spans_weights_down_to_the_streaming_minimum(qtbot, mlp_window, tmp_path):
    window = mlp_window
    wait_idle(qtbot, window)
    view = window.sweep_view
    layer_bytes = window.controller.model.layers[0].weight_bytes
    assert "streaming minimum" in view.loader_range.text()  # shown before the sweep starts
    assert not view.low.isEnabled() or view.with_budget.isChecked()
    rows, cancelled = run_loader_sweep(qtbot, window, 4)
    assert not cancelled and not window.errors
    assert all(r["error"] is None for r in rows), [r["error"] for r in rows]
    budgets = [r["loader_budget"] for r in rows]
    assert budgets == sorted(budgets, reverse=True) and len(set(budgets)) == len(rows) >= 3
    # from all weights down to the engine's minimum: at most one 0.25 MiB layer at a time
    # (the engine may stream a MatMul weight in row blocks, which is smaller still)
    assert budgets[0] >= 4 * layer_bytes and budgets[-1] <= round_up_to_spin(layer_bytes)
    assert rows[0]["loader_fraction"] >= 1.0 and rows[-1]["loader_fraction"] < 0.5
    # streaming lowers the measured peak: the plot is not flat
    assert rows[-1]["peak_bytes"] < rows[0]["peak_bytes"] - 2 * layer_bytes
    assert len(view.scatter.points()) == len(rows)
    assert [item.toPlainText() for item in view.labels] == [f"{r['loader_fraction']:.0%} w" for r in rows]
    assert all(r["budget"] is None for r in rows)  # memory budget unchecked: the user's (unlimited)
    assert window.controller.session.config.loader.max_memory_usage is None  # settings restored
    view.resize(900, 380)
    assert view.grab().save(str(tmp_path / "sweep.png"))


@pytest.mark.native
def test_clicking_a_streaming_point_applies_its_weight_budget(qtbot, mlp_window):
    window = mlp_window
    wait_idle(qtbot, window)
    rows, _ = run_loader_sweep(qtbot, window, 3)
    scatter = window.sweep_view.scatter
    point = min(scatter.points(), key=lambda p: p.data()["loader_budget"])
    scatter.sigClicked.emit(scatter, [point], None)
    chosen = point.data()["loader_budget"]
    assert window.config_panel.settings().config.loader.max_memory_usage == pytest.approx(chosen, abs=2)
    assert "weight cache" in window.sweep_view.status.text()
    qtbot.waitUntil(lambda: window.controller.session.config.loader.max_memory_usage
                    == window.config_panel.settings().config.loader.max_memory_usage, timeout=10000)
    assert window.isWindowModified()
    with qtbot.waitSignal(window.controller.runFinished, timeout=30000):  # and the engine runs with it
        window.controller.run_once()
    assert not window.errors


@pytest.mark.native
def test_loader_and_memory_budget_sweep_together(qtbot, mlp_window):
    window = mlp_window
    wait_idle(qtbot, window)
    view = window.sweep_view
    view.low.set_bytes(1 * MIB)
    view.high.set_bytes(8 * MIB)
    view.steps.setValue(2)
    rows, _ = run_loader_sweep(qtbot, window, 2, with_budget=True)
    assert {(r["budget"], r["loader_budget"]) for r in rows} == {
        (b, lb) for b in (1 * MIB, 8 * MIB) for lb in {r["loader_budget"] for r in rows}}
    assert len(rows) == 4
    # 1 MiB cannot hold all the weights resident, but it can stream them
    small = {r["loader_budget"]: r for r in rows if r["budget"] == 1 * MIB}
    assert small[min(small)]["error"] is None and small[max(small)]["error"] is not None


@pytest.mark.native
def test_loader_sweep_without_a_reported_minimum_says_so_and_sweeps_the_rest(qtbot, window, monkeypatch):
    wait_idle(qtbot, window)
    feats = window.controller.features
    real = feats.memory_estimate
    monkeypatch.setattr(feats, "memory_estimate",
                        lambda feeds: {k: v for k, v in real(feeds).items() if k != "minimum_streaming_total_bytes"})
    with qtbot.waitSignal(window.controller.sweepFinished, timeout=30000) as done:
        window.start_sweep(1 * MIB, 2 * MIB, 2, False, loader_steps=3)
    rows, cancelled = done.args
    assert len(rows) == 2 and all(r["loader_fraction"] is None for r in rows)
    assert window.errors and "streaming minimum" in window.errors[-1][1]
