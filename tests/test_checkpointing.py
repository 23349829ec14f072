"""Activation checkpointing / recompute in the memory planner: per-layer strategies, the
automatic choice under scheduler.max_activation_memory, identical outputs, budget errors."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

from conftest import ONNX_TEST_DATA
from tiny_models import save

pytestmark = pytest.mark.native

STRATEGIES = ["KEEP", "CHECKPOINT", "RECOMPUTE"]


def skip_net(levels=3, width=8, wide=32, size=32, seed=0) -> onnx.ModelProto:
    """Nested skip connections (a U-Net without resampling): each level's input is kept for an
    Add after a wide inner section, so the skip tensors are live across the activation peak."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def conv(name, x, cin, cout, k=3):
        w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
        b = (0.1 * rng.standard_normal(cout)).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}.weight"), numpy_helper.from_array(b, f"{name}.bias")])
        nodes.append(helper.make_node("Conv", [x, f"{name}.weight", f"{name}.bias"], [f"{name}_out"],
                                      name=name, pads=[k // 2] * 4))
        nodes.append(helper.make_node("Relu", [f"{name}_out"], [f"{name}_relu"], name=f"{name}_act"))
        return f"{name}_relu"

    h = conv("stem", "x", 3, width)
    skips = []
    for i in range(levels):
        skips.append(h)
        h = conv(f"down{i}", h, width, width)
    h = conv("expand", h, width, wide, k=1)
    h = conv("inner", h, wide, wide)
    h = conv("reduce", h, wide, width, k=1)
    for i in reversed(range(levels)):
        nodes.append(helper.make_node("Add", [h, skips[i]], [f"up{i}_sum"], name=f"up{i}_add"))
        h = conv(f"up{i}", f"up{i}_sum", width, width)
    graph = helper.make_graph(
        nodes, "skip_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info(h, TensorProto.FLOAT, [1, width, size, size])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _ckpt(enable=True, recompute=False, cap=None, tradeoff=0.5, streaming=None):
    return tw.Config(scheduler=tw.LayerSchedulerConfig(enable_checkpointing=enable, recompute_activations=recompute,
                                                       max_activation_memory=cap, memory_speed_tradeoff=tradeoff),
                     loader=tw.ProgressiveLoaderConfig(max_memory_usage=streaming))


@pytest.fixture(scope="module")
def skip_model(tmp_path_factory):
    return tw.load_model(save(skip_net(), tmp_path_factory.mktemp("ckpt") / "skip_net.onnx"))


@pytest.fixture(scope="module")
def skip_feeds():
    return {"x": np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)}


def _only(outputs):
    (value,) = outputs.values()
    return value


def _floor(model, feeds):
    """The lowest arena automatic recomputation reaches (tradeoff 0, no cap)."""
    sess = tw.Session(model, _ckpt(recompute=True, tradeoff=0.0))
    return sess.estimate_memory_usage(feeds)


def test_strategy_enum_and_api(skip_model):
    assert [m.name for m in tw.CheckpointStrategy] == STRATEGIES
    assert tw.CheckpointStrategy.parse("recompute") is tw.CheckpointStrategy.RECOMPUTE
    assert tw.CheckpointStrategy.parse(1) is tw.CheckpointStrategy.CHECKPOINT
    with pytest.raises(ValueError):
        tw.CheckpointStrategy.parse("sometimes")
    sess = tw.Session(skip_model)
    assert sess.get_layer_checkpointing_strategy(0) is tw.CheckpointStrategy.KEEP
    sess.set_layer_checkpointing_strategy("down1", tw.CheckpointStrategy.RECOMPUTE)
    assert sess.get_layer_checkpointing_strategy("down1") is tw.CheckpointStrategy.RECOMPUTE
    with pytest.raises(ValueError):
        sess.set_layer_checkpointing_strategy(len(skip_model.layers), "KEEP")
    with pytest.raises(ValueError):
        sess.set_layer_checkpointing_strategy(0, 7)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("automatic", [False, True])
def test_outputs_identical_for_every_strategy_on_skip_net(strategy, automatic, skip_model, skip_feeds):
    expected = _only(tw.Session(skip_model).run(skip_feeds))
    sess = tw.Session(skip_model, _ckpt(recompute=automatic, tradeoff=0.0))
    for layer in range(len(skip_model.layers)):
        sess.set_layer_checkpointing_strategy(layer, strategy)
    for _ in range(2):
        np.testing.assert_array_equal(_only(sess.run(skip_feeds)), expected)
    recomputes = sess.stats()["recompute_count"]
    if strategy == "RECOMPUTE" or (automatic and strategy == "KEEP"):
        assert recomputes > 0
    else:
        assert recomputes == 0  # CHECKPOINT everywhere leaves nothing to recompute


@pytest.mark.parametrize("name", ["resnet50", "densenet121", "inception_v1", "squeezenet", "shufflenet"])
def test_outputs_identical_when_every_layer_recomputes_on_light_models(name):
    model = tw.load_model(ONNX_TEST_DATA / "light" / f"light_{name}.onnx")
    feeds = synthetic_inputs(model)
    out = model.outputs[0].name
    expected = tw.Session(model).run(feeds)[out]
    sess = tw.Session(model, _ckpt())
    for layer in range(len(model.layers)):
        sess.set_layer_checkpointing_strategy(layer, "RECOMPUTE")
    np.testing.assert_array_equal(sess.run(feeds)[out], expected)
    est = sess.estimate_memory_usage(feeds)
    assert sess.stats()["recompute_count"] == est["recompute_count"] > 0
    steps = sess.create_execution_plan(feeds)
    assert len(steps) == model.num_nodes + est["recompute_count"]
    assert sum(s["recomputed"] for s in steps) == est["recompute_count"]
    assert {s["node"] for s in steps if not s["recomputed"]} == set(range(model.num_nodes))


def test_automatic_recompute_lowers_the_peak_below_the_plain_plan(skip_model, skip_feeds):
    plain = tw.Session(skip_model).estimate_memory_usage(skip_feeds)
    low = _floor(skip_model, skip_feeds)
    assert low["recompute_count"] > 0
    assert low["activation_peak_bytes"] < plain["activation_peak_bytes"]
    # Below the in-order bound too: order + in-place + recompute.
    assert low["activation_peak_bytes"] < plain["in_order_bound_bytes"]


def test_cap_sweep_keeps_the_measured_peak_within_the_cap(skip_model, skip_feeds):
    expected = _only(tw.Session(skip_model).run(skip_feeds))
    plain = tw.Session(skip_model).estimate_memory_usage(skip_feeds)["activation_peak_bytes"]
    floor = _floor(skip_model, skip_feeds)["activation_peak_bytes"]
    assert floor < plain
    counts = []
    for cap in np.linspace(floor, plain, 5).astype(int):
        sess = tw.Session(skip_model, _ckpt(recompute=True, cap=int(cap)))
        np.testing.assert_array_equal(_only(sess.run(skip_feeds)), expected)
        stats = sess.stats()
        assert stats["activation_peak_bytes"] <= cap
        counts.append(stats["recompute_count"])
    assert counts[0] > 0 and counts[-1] == 0  # the plain plan already fits the largest cap
    assert counts == sorted(counts, reverse=True)


def test_infeasible_cap_raises_budget_error_with_the_lowest_reachable(skip_model, skip_feeds):
    floor = _floor(skip_model, skip_feeds)["activation_peak_bytes"]
    sess = tw.Session(skip_model, _ckpt(recompute=True, cap=floor - 1))
    for call in (sess.estimate_memory_usage, sess.run):
        with pytest.raises(tw.BudgetError) as info:
            call(skip_feeds)
        assert info.value.minimum_bytes == floor
        assert "lowest activation arena" in str(info.value)
    # Without recompute_activations the error still names what recomputation would reach.
    sess = tw.Session(skip_model, _ckpt(recompute=False, cap=floor))
    with pytest.raises(tw.BudgetError) as info:
        sess.run(skip_feeds)
    assert info.value.minimum_bytes == floor
    assert "recompute_activations" in str(info.value)
    # Tensor reuse off: no slot is shared over time, so recomputing frees nothing.
    no_reuse = tw.Config(memory=tw.MemoryOptimizerConfig(enable_tensor_reuse=False))
    arena = tw.Session(skip_model, no_reuse).estimate_memory_usage(skip_feeds)["activation_peak_bytes"]
    cfg = _ckpt(recompute=True, cap=arena - 1)
    cfg.memory.enable_tensor_reuse = False
    with pytest.raises(tw.BudgetError) as info:
        tw.Session(skip_model, cfg).run(skip_feeds)
    assert info.value.minimum_bytes == arena
    assert "enable_tensor_reuse" in str(info.value)


def test_light_model_whose_peak_is_one_op_reports_it_as_the_minimum():
    # squeezenet's peak is one large op's input plus output: nothing long-lived to drop.
    model = tw.load_model(ONNX_TEST_DATA / "light" / "light_squeezenet.onnx")
    feeds = synthetic_inputs(model)
    plain = tw.Session(model).estimate_memory_usage(feeds)["activation_peak_bytes"]
    floor = _floor(model, feeds)["activation_peak_bytes"]
    assert floor <= plain
    sess = tw.Session(model, _ckpt(recompute=True, cap=floor - 1))
    with pytest.raises(tw.BudgetError) as info:
        sess.run(feeds)
    assert info.value.minimum_bytes == floor


def test_changing_settings_and_strategies_between_runs_replans(skip_model, skip_feeds):
    sess = tw.Session(skip_model)
    sess.run(skip_feeds)
    plain = sess.stats()
    assert plain["recompute_count"] == 0
    sess.set_config(_ckpt(recompute=True, tradeoff=0.0))
    sess.run(skip_feeds)
    low = sess.stats()
    assert low["recompute_count"] > 0
    assert low["activation_peak_bytes"] < plain["activation_peak_bytes"]
    for layer in range(len(skip_model.layers)):  # CHECKPOINT everywhere: nothing may be recomputed
        sess.set_layer_checkpointing_strategy(layer, "CHECKPOINT")
    sess.run(skip_feeds)
    assert sess.stats()["recompute_count"] == 0
    sess.set_config(_ckpt(enable=False))  # off: strategies are ignored, the plain plan is back
    for layer in range(len(skip_model.layers)):
        sess.set_layer_checkpointing_strategy(layer, "RECOMPUTE")
    sess.run(skip_feeds)
    assert sess.stats()["recompute_count"] == 0
    assert sess.stats()["arena_bytes"] == plain["arena_bytes"]
    assert sess.stats()["plans_cached"] == 1  # all re-planned from the same record


def test_checkpointing_off_leaves_the_plan_unchanged(skip_model, skip_feeds):
    plain = tw.Session(skip_model)
    off = tw.Session(skip_model, _ckpt(enable=False, recompute=True, cap=1, tradeoff=0.0))
    for layer in range(len(skip_model.layers)):
        off.set_layer_checkpointing_strategy(layer, "RECOMPUTE")
    assert off.create_execution_plan(skip_feeds) == plain.create_execution_plan(skip_feeds)
    assert off.estimate_memory_usage(skip_feeds) == plain.estimate_memory_usage(skip_feeds)


def test_checkpoint_layers_are_never_recomputed(skip_model, skip_feeds):
    sess = tw.Session(skip_model, _ckpt(recompute=True, tradeoff=0.0))
    recomputed = {s["layer"] for s in sess.create_execution_plan(skip_feeds) if s["recomputed"]}
    assert recomputed
    for layer in recomputed:
        sess.set_layer_checkpointing_strategy(layer, "CHECKPOINT")
    steps = sess.create_execution_plan(skip_feeds)
    assert not recomputed & {s["layer"] for s in steps if s["recomputed"]}


def test_plan_steps_list_recomputed_instances_inside_the_arena(skip_model, skip_feeds):
    sess = tw.Session(skip_model, _ckpt(recompute=True, tradeoff=0.0))
    steps = sess.create_execution_plan(skip_feeds)
    est = sess.estimate_memory_usage(skip_feeds)
    assert any(s["recomputed"] for s in steps)
    assert max(s["live_bytes"] for s in steps) == est["live_peak_bytes"]
    seen = set()
    for s in steps:
        assert s["recomputed"] == (s["node"] in seen)  # a recompute re-runs a node that ran before
        seen.add(s["node"])
        if s["output_offset"] >= 0:
            assert s["output_offset"] + s["output_bytes"] <= est["activation_peak_bytes"]


def test_estimate_within_5_percent_of_measured_with_recompute(skip_model, skip_feeds):
    sess = tw.Session(skip_model, _ckpt(recompute=True, tradeoff=0.0))
    est = sess.estimate_memory_usage(skip_feeds)
    sess.run(skip_feeds)
    stats = sess.stats()
    assert abs(est["total_peak_bytes"] - stats["total_peak_bytes"]) <= 0.05 * stats["total_peak_bytes"]
    assert stats["activation_peak_bytes"] == est["activation_peak_bytes"]
    assert stats["recompute_count"] == est["recompute_count"] > 0


def test_streaming_weights_with_recompute_reacquires_layers():
    model = tw.load_model(ONNX_TEST_DATA / "light" / "light_resnet50.onnx")
    feeds = synthetic_inputs(model)
    out = model.outputs[0].name
    expected = tw.Session(model).run(feeds)[out]
    budget = int(0.3 * model.weight_bytes)
    sess = tw.Session(model, _ckpt(streaming=budget))
    for layer in range(len(model.layers)):
        sess.set_layer_checkpointing_strategy(layer, "RECOMPUTE")
    for _ in range(2):
        np.testing.assert_array_equal(sess.run(feeds)[out], expected)
        s = sess.stats()
        assert s["recompute_count"] > 0
        assert s["weight_peak_bytes"] <= budget
        assert s["loader_misses"] > 0


def test_optimize_memory_usage_turns_to_recompute_when_nothing_else_fits(skip_model, skip_feeds):
    plain = tw.Session(skip_model).estimate_memory_usage(skip_feeds)
    low = _floor(skip_model, skip_feeds)
    assert low["total_peak_bytes"] < plain["minimum_total_bytes"]
    report = tw.optimize_memory_usage(skip_model, low["total_peak_bytes"], skip_feeds)
    assert report.settings["recompute"] and report.settings["recompute_steps"] > 0
    assert report.estimate["total_peak_bytes"] <= low["total_peak_bytes"]
    sess = tw.Session(skip_model, report.config)
    np.testing.assert_array_equal(_only(sess.run(skip_feeds)), _only(tw.Session(skip_model).run(skip_feeds)))
    assert sess.stats()["total_peak_bytes"] <= report.budget_bytes
    with pytest.raises(tw.BudgetError) as info:
        tw.optimize_memory_usage(skip_model, low["total_peak_bytes"] - 1, skip_feeds)
    assert info.value.minimum_bytes == low["total_peak_bytes"]
