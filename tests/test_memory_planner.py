"""Memory optimizer and layer scheduler: static arena plans, in-place ops, memory-aware order,
budgets, estimates and stepping."""
import numpy as np
import pytest

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

from conftest import ONNX_TEST_DATA
from tiny_models import save, tiny_cnn

pytestmark = pytest.mark.native

PLANNED_MODELS = ["squeezenet", "inception_v1", "densenet121", "shufflenet", "resnet50"]


def _config(reuse=True, in_place=True, tradeoff=0.5, budget=None):
    return tw.Config(memory=tw.MemoryOptimizerConfig(enable_tensor_reuse=reuse, enable_in_place_ops=in_place,
                                                     memory_speed_tradeoff=tradeoff, max_memory_budget=budget))


@pytest.fixture(scope="module")
def light_models():
    return {name: tw.load_model(ONNX_TEST_DATA / "light" / f"light_{name}.onnx") for name in PLANNED_MODELS}


@pytest.mark.parametrize("name", PLANNED_MODELS)
def test_planned_runs_match_profiling_run_for_every_setting(name, light_models):
    model = light_models[name]
    feeds = synthetic_inputs(model)
    out = model.outputs[0].name
    sess = tw.Session(model, _config(reuse=False, in_place=False))
    reference = sess.run(feeds)[out]  # the profiling run: one buffer per tensor
    for reuse in (False, True):
        for in_place in (False, True):
            sess.set_config(_config(reuse=reuse, in_place=in_place))
            got = sess.run(feeds)[out]
            np.testing.assert_array_equal(got, reference, err_msg=f"reuse={reuse} in_place={in_place}")
            assert sess.stats()["arena_bytes"] > 0


@pytest.mark.parametrize("name", PLANNED_MODELS)
def test_arena_within_5_percent_of_in_order_bound(name, light_models):
    model = light_models[name]
    sess = tw.Session(model, _config())
    est = sess.estimate_memory_usage(synthetic_inputs(model))
    assert est["activation_peak_bytes"] <= 1.05 * est["in_order_bound_bytes"]
    assert est["activation_peak_bytes"] < est["naive_activation_bytes"]


def test_reuse_off_is_the_naive_baseline(light_models):
    model = light_models["squeezenet"]
    sess = tw.Session(model, _config(reuse=False, in_place=False))
    est = sess.estimate_memory_usage(synthetic_inputs(model))
    assert est["activation_peak_bytes"] == est["naive_activation_bytes"]
    assert est["in_place_count"] == 0


def test_in_place_lowers_live_bytes(light_models):
    # resnet50's residual Sum runs in one of its inputs and the Relu after it in the Sum's
    # output (densenet121's BN -> Mul -> Add -> Relu chains are folded into one node at import).
    model = light_models["resnet50"]
    feeds = synthetic_inputs(model)
    sess = tw.Session(model, _config(in_place=False))
    without = sess.estimate_memory_usage(feeds)
    sess.set_config(_config(in_place=True))
    with_in_place = sess.estimate_memory_usage(feeds)
    assert with_in_place["in_place_count"] > 0
    assert with_in_place["live_peak_bytes"] < without["live_peak_bytes"]


@pytest.mark.parametrize("tradeoff", [0.5, 1.0])  # 1.0 keeps packed conv weights across runs
@pytest.mark.parametrize("name", ["squeezenet", "resnet50"])
def test_estimate_matches_measured_total_peak(name, tradeoff, light_models):
    model = light_models[name]
    feeds = synthetic_inputs(model)
    sess = tw.Session(model, _config(tradeoff=tradeoff))
    est = sess.estimate_memory_usage(feeds)
    sess.run(feeds)
    measured = sess.stats()["total_peak_bytes"]
    assert abs(est["total_peak_bytes"] - measured) <= 0.05 * measured
    assert sess.stats()["activation_peak_bytes"] == est["activation_peak_bytes"]
    assert sess.stats()["weight_peak_bytes"] == est["weight_peak_bytes"]
    assert (est["packed_weight_bytes"] > 0) == (tradeoff >= 0.75)


def test_budget_sweep_never_exceeded_and_minimum_runs(light_models):
    model = light_models["squeezenet"]
    feeds = synthetic_inputs(model)
    probe = tw.Session(model, _config())
    minimum = probe.estimate_memory_usage(feeds)["minimum_total_bytes"]
    for factor in (0.3, 0.9, 0.999):
        budget = int(minimum * factor)
        sess = None
        with pytest.raises(tw.BudgetError) as info:
            sess = tw.Session(model, _config(budget=budget))  # refuses if weights alone exceed it
            sess.run(feeds)
            sess.run(feeds)  # the first run measures scratch; the plan check then refuses
        if sess is not None:
            assert sess.stats()["total_peak_bytes"] <= budget
        assert "minimum" in str(info.value)
        assert info.value.minimum_bytes > budget
    # Once scratch is measured, the error names the exact minimum.
    sess = tw.Session(model, _config())
    sess.estimate_memory_usage(feeds)
    sess.set_config(_config(budget=minimum - 1))
    with pytest.raises(tw.BudgetError) as info:
        sess.run(feeds)
    assert info.value.minimum_bytes == minimum
    assert "minimum feasible budget" in str(info.value)
    for budget in (minimum, int(minimum * 1.2), minimum * 4):
        sess = tw.Session(model, _config(budget=budget))
        for _ in range(3):
            sess.run(feeds)
            assert sess.stats()["total_peak_bytes"] <= budget


def test_optimize_memory_usage_report_and_error(light_models):
    model = light_models["squeezenet"]
    report = tw.optimize_memory_usage(model, 10**9)
    assert report.config.memory.max_memory_budget == 10**9
    assert report.estimate["total_peak_bytes"] <= 10**9
    assert "fits" in str(report)
    with pytest.raises(tw.BudgetError) as info:
        tw.optimize_memory_usage(model, 1000)
    assert info.value.minimum_bytes > 1000


def test_changing_settings_between_runs_replans(light_models):
    model = light_models["inception_v1"]
    feeds = synthetic_inputs(model)
    sess = tw.Session(model, _config(reuse=True))
    sess.run(feeds)
    sess.run(feeds)
    small = sess.stats()["activation_peak_bytes"]
    sess.set_config(_config(reuse=False, in_place=False))
    sess.run(feeds)
    assert sess.stats()["activation_peak_bytes"] > small
    assert sess.stats()["plans_cached"] == 1  # re-planned from the same profile


def test_low_tradeoff_releases_the_arena_after_each_run(light_models):
    model = light_models["squeezenet"]
    feeds = synthetic_inputs(model)
    sess = tw.Session(model, _config(tradeoff=0.0))
    sess.run(feeds)
    sess.run(feeds)
    assert sess.stats()["activation_bytes"] == 0
    sess.set_config(_config(tradeoff=1.0))
    sess.run(feeds)
    assert sess.stats()["activation_bytes"] == sess.stats()["arena_bytes"] > 0


def test_execution_plan_steps(light_models):
    model = light_models["densenet121"]  # has in-place steps (squeezenet's Relus are fused)
    sess = tw.Session(model)
    steps = sess.create_execution_plan(synthetic_inputs(model))
    assert len(steps) == model.num_nodes
    assert {s["node"] for s in steps} == set(range(model.num_nodes))
    assert all(s["layer"] >= 0 and s["live_bytes"] >= 0 for s in steps)
    assert any(s["in_place"] for s in steps)
    est = sess.estimate_memory_usage()
    assert max(s["live_bytes"] for s in steps) == est["live_peak_bytes"]
    assert len(est["layer_peak_bytes"]) == len(model.layers)
    assert max(est["layer_peak_bytes"]) == est["live_peak_bytes"]
    assert est["scratch_measured"]


def test_execute_layer_steps_to_the_same_outputs(tmp_path):
    model = tw.load_model(save(tiny_cnn(), tmp_path / "tiny.onnx"))
    x = np.random.default_rng(3).standard_normal((2, 3, 16, 16)).astype(np.float32)
    sess = tw.Session(model)
    expected = sess.run({"x": x})["y"]
    outs = {}
    for i in range(len(model.layers)):
        assert sess.next_step_layer in (i, -1)
        outs = sess.execute_layer(i, {"x": x} if i == 0 else None)
    np.testing.assert_array_equal(outs["y"], expected)
    assert sess.next_step_layer == -1
    with pytest.raises(tw.ExecutionError):
        sess.execute_layer(1)


def test_execute_with_tensor_reuse_keeps_the_pool(light_models):
    model = light_models["squeezenet"]
    feeds = synthetic_inputs(model)
    sess = tw.Session(model, _config(tradeoff=0.0))
    sess.run(feeds)

    def twice():
        sess.run(feeds)
        return sess.stats()["activation_bytes"]

    assert sess.execute_with_tensor_reuse(twice) > 0
    assert sess.config.memory.memory_speed_tradeoff == 0.0
