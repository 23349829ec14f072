"""The layer table shows the loader's residency plan and each layer's compute and wait time;
the status bar sums the plan up. Driven through the config panel, as a person would."""
import pytest

from gui_helpers import RecordedErrors, gui_env, open_window, wait_idle  # noqa: F401 (fixtures)
from test_gui_sweep import layered_mlp
from tinyai_workbench.widgets.layer_table import COL_COMPUTE, COL_PLAN, COL_WAIT

pytestmark = pytest.mark.native

MIB = 1 << 20


@pytest.fixture
def deep_mlp_window(qtbot, gui_env, tmp_path):  # noqa: F811
    errors = RecordedErrors()
    w = open_window(qtbot, layered_mlp(tmp_path / "mlp.onnx", layers=8), errors)
    w.errors = errors
    yield w
    w.controller.stop()


def test_plan_and_per_layer_timing_columns_follow_the_runs(qtbot, deep_mlp_window, tmp_path):
    window = deep_mlp_window
    wait_idle(qtbot, window)
    table = window.layer_table.layer_model
    assert all(table.index(r, COL_PLAN).data() == "—" for r in range(table.rowCount()))
    assert table.index(0, COL_COMPUTE).data() == "n/a"  # nothing has run yet

    # Eight 0.25 MiB layers, a 1.25 MiB weight cache, the adaptive window, a slow disk: the plan
    # keeps most layers and streams the rest through the room left.
    c = window.config_panel.controls
    c["prefetch"].setChecked(True)
    c["adaptive_window"].setChecked(True)
    c["weight_cache"].set_bytes(int(1.25 * MIB))
    if c["disk_speed"].isEnabled():
        c["disk_speed"].setValue(20)
    qtbot.waitUntil(lambda: window.controller.session.config.loader.max_memory_usage
                    == window.config_panel.settings().config.loader.max_memory_usage, timeout=10000)
    for _ in range(3):
        with qtbot.waitSignal(window.controller.runFinished, timeout=30000):
            window.controller.run_once()
    wait_idle(qtbot, window)

    rows = range(table.rowCount())
    weighted = [r for r in rows if window.controller.model.layers[r].weight_bytes]
    qtbot.waitUntil(lambda: table.index(weighted[0], COL_PLAN).data() in ("kept", "streamed"),
                    timeout=10000)
    plan = [table.index(r, COL_PLAN).data() for r in weighted]
    assert "kept" in plan and "streamed" in plan, plan
    stats = window.controller.session.stats()
    kept_bytes = sum(window.controller.model.layers[r].weight_bytes
                     for r, p in zip(weighted, plan) if p == "kept")
    assert kept_bytes == stats["loader_planned_resident_bytes"]
    assert "plan keeps" in window.plan_label.text()
    assert "no schedule under" in window.plan_label.text()  # the schedule bound, from the estimate's plan
    # Compute and wait per layer, in ms, from the last run.
    for r in weighted:
        assert table.index(r, COL_COMPUTE).data().endswith(" ms")
        assert table.index(r, COL_WAIT).data().endswith(" ms")
    window.tabs.setCurrentWidget(window.layer_table)
    window.grab().save(str(tmp_path / "layer_plan.png"))
    assert not window.errors

    # Turning the weight cache off (all weights resident) ends the plan: the column clears.
    c["weight_cache"].set_bytes(None)
    qtbot.waitUntil(lambda: window.controller.session.config.loader.max_memory_usage is None,
                    timeout=10000)
    with qtbot.waitSignal(window.controller.runFinished, timeout=30000):
        window.controller.run_once()
    qtbot.waitUntil(lambda: table.index(weighted[0], COL_PLAN).data() == "—", timeout=10000)
    assert window.plan_label.text() == ""
