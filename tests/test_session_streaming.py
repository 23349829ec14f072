"""Sessions streaming weights through the progressive loader under a weight budget."""
import numpy as np
import pytest

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs

from conftest import ONNX_TEST_DATA

pytestmark = pytest.mark.native


def _streaming(budget, prefetch=True, window=2, total=None):
    return tw.Config(loader=tw.ProgressiveLoaderConfig(enable_prefetch=prefetch, prefetch_window=window,
                                                       max_memory_usage=budget),
                     memory=tw.MemoryOptimizerConfig(max_memory_budget=total))


@pytest.fixture(scope="module")
def resnet():
    return tw.load_model(ONNX_TEST_DATA / "light" / "light_resnet50.onnx")


def test_streamed_outputs_match_resident_and_stay_in_budget(resnet):
    feeds = synthetic_inputs(resnet)
    out = resnet.outputs[0].name
    expected = tw.Session(resnet).run(feeds)[out]
    budget = int(0.3 * resnet.weight_bytes)
    sess = tw.Session(resnet, _streaming(budget))
    # Nothing is preloaded when streaming (the prefetcher may already be reading ahead).
    assert sess.stats()["weight_bytes"] <= budget
    for _ in range(2):
        np.testing.assert_array_equal(sess.run(feeds)[out], expected)
        s = sess.stats()
        assert s["weight_peak_bytes"] <= budget
        assert s["loader_misses"] > 0 and s["loader_bytes_read"] > 0
    statuses = s["layer_status"]
    assert len(statuses) == len(resnet.layers)
    assert set(statuses) <= {0, 1, 2, 3}


def test_session_layer_api(resnet):
    # Prefetch off: with it on, the I/O thread may already be reading layer 0 at creation.
    sess = tw.Session(resnet, _streaming(int(0.3 * resnet.weight_bytes), prefetch=False))
    first = resnet.layers[0].name
    assert sess.get_layer_status(first) == tw.LayerStatus.UNLOADED
    assert sess.load_layer(first)
    assert sess.get_layer_status(0) == tw.LayerStatus.LOADED
    sess.set_layer_priority(first, "critical")
    assert sess.get_layer_priority(0) == tw.LayerPriority.CRITICAL
    assert not sess.unload_layer(0)  # pinned
    sess.set_layer_priority(0, tw.LayerPriority.LOW)
    assert sess.unload_layer(0)
    assert sess.get_layer_status(0) == tw.LayerStatus.UNLOADED
    with pytest.raises(ValueError):
        sess.get_layer_status("no such layer")


def test_streaming_minimum_budget_runs(resnet):
    feeds = synthetic_inputs(resnet)
    probe = tw.Session(resnet, _streaming(resnet.weight_bytes))
    est = probe.estimate_memory_usage(feeds)
    minimum = est["minimum_streaming_total_bytes"]
    assert minimum < est["minimum_total_bytes"] or minimum == est["minimum_total_bytes"]
    weight_room = minimum - (est["total_peak_bytes"] - est["weight_peak_bytes"])
    sess = tw.Session(resnet, _streaming(weight_room, total=minimum))
    sess.run(feeds)
    sess.run(feeds)
    assert sess.stats()["total_peak_bytes"] <= minimum


def test_emulated_disk_is_labelled(resnet):
    sess = tw.Session(resnet, _streaming(int(0.5 * resnet.weight_bytes)))
    sess.set_bandwidth_limit_mbps(2000)
    assert "emulated" in sess.stats()["storage"]
    with pytest.raises(ValueError):
        sess.set_bandwidth_limit_mbps(-1)


def test_session_simd_and_cache_methods(resnet):
    sess = tw.Session(resnet)
    assert sess.enable_simd("CONV", False)
    assert sess.config.simd_ops.conv is False
    sess.set_simd_optimization_level(1)
    assert sess.config.simd_level == 1
    assert sess.cache_stats()["source"] in ("perf", "model")


def test_loader_budget_set_through_estimate_reaches_the_loader(resnet):
    feeds = synthetic_inputs(resnet)
    sess = tw.Session(resnet)
    budget = int(0.4 * resnet.weight_bytes)
    sess.set_config(_streaming(budget))
    est = sess.estimate_memory_usage(feeds)  # applies the queued config (as the GUI does)
    assert est["weight_peak_bytes"] <= budget
    sess.run(feeds)
    assert sess.stats()["loader_budget_bytes"] == budget
    assert sess.stats()["weight_bytes"] <= budget


# ---- a Gemm/MatMul weight larger than the weight budget streams in row blocks -------------

KiB = 1024
K_IN, N_OUT = 512, 256  # the big weight: 512 x 256 float32 = 512 KiB


def _linear_model(tmp_path, kind):
    """x[3, 512] -> big linear (512 KiB weight + bias) -> Relu -> small linear -> y[3, 8].
    kind: gemm_tb (Gemm transB=1, W [N, K]), gemm (transB=0, W [K, N]), gemm_ta (transA=1,
    x given as [K, M]) or matmul (MatMul W [K, N], then Add bias)."""
    from onnx import TensorProto, helper, numpy_helper

    from tinyai_workbench.core_native.importer import import_onnx

    rng = np.random.default_rng(7)
    w = rng.standard_normal((K_IN, N_OUT)).astype(np.float32) / 16
    b = rng.standard_normal(N_OUT).astype(np.float32)
    w2 = rng.standard_normal((N_OUT, 8)).astype(np.float32) / 16
    inits = [numpy_helper.from_array(b, "b"), numpy_helper.from_array(w2, "w2")]
    x_shape = [K_IN, 3] if kind == "gemm_ta" else [3, K_IN]
    if kind == "gemm_tb":
        inits.append(numpy_helper.from_array(np.ascontiguousarray(w.T), "w"))
        big = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc1", transB=1)]
    elif kind in ("gemm", "gemm_ta"):
        inits.append(numpy_helper.from_array(w, "w"))
        big = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="fc1",
                                transA=int(kind == "gemm_ta"), alpha=0.5)]
    else:
        inits.append(numpy_helper.from_array(w, "w"))
        big = [helper.make_node("MatMul", ["x", "w"], ["m"], name="fc1"),
               helper.make_node("Add", ["m", "b"], ["h"], name="fc1_bias")]
    nodes = big + [helper.make_node("Relu", ["h"], ["r"], name="relu"),
                   helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")]
    graph = helper.make_graph(
        nodes, "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 8])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    src = tmp_path / f"{kind}.onnx"
    src.write_bytes(m.SerializeToString())
    model = tw.load_model(import_onnx(src, tmp_path / kind))
    feeds = {"x": rng.standard_normal(x_shape).astype(np.float32)}
    return model, feeds


def _check_close(kind, got, expected):
    if kind == "gemm_tb":  # output-column blocks: the same sums as one GEMM
        np.testing.assert_array_equal(got, expected)
    else:  # K blocks accumulate partial sums: another summation order
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["gemm_tb", "gemm", "gemm_ta", "matmul"])
def test_weight_larger_than_budget_streams_in_pieces(tmp_path, kind):
    model, feeds = _linear_model(tmp_path, kind)
    expected = tw.Session(model).run(feeds)["y"]
    budget = 128 * KiB  # a quarter of the big weight
    sess = tw.Session(model, _streaming(budget))
    for _ in range(2):
        _check_close(kind, sess.run(feeds)["y"], expected)
        s = sess.stats()
        assert s["weight_peak_bytes"] <= budget
        assert s["loader_peak_resident_bytes"] <= budget
    # Per-piece CRCs are derived only for a split layer, and only once.
    assert s["loader_verify_bytes_read"] >= K_IN * N_OUT * 4


def test_streamed_weight_stays_in_budget_while_running(tmp_path):
    import threading

    model, feeds = _linear_model(tmp_path, "gemm_tb")
    budget = 96 * KiB
    sess = tw.Session(model, _streaming(budget, window=3))
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(sess.stats()["weight_bytes"])

    t = threading.Thread(target=sample)
    t.start()
    try:
        for _ in range(5):
            sess.run(feeds)
    finally:
        done.set()
        t.join()
    assert samples and max(samples) <= budget
    assert sess.stats()["weight_peak_bytes"] <= budget


@pytest.mark.parametrize("kind", ["gemm_tb", "matmul"])
def test_streaming_minimum_reflects_pieces_and_runs(tmp_path, kind):
    model, feeds = _linear_model(tmp_path, kind)
    expected = tw.Session(model).run(feeds)["y"]
    probe = tw.Session(model, _streaming(model.weight_bytes))
    est = probe.estimate_memory_usage(feeds)
    minimum = est["minimum_streaming_total_bytes"]
    weight_room = minimum - (est["total_peak_bytes"] - est["weight_peak_bytes"])
    # About one 16-row block of the big weight (plus the bias), not the whole 512 KiB layer.
    row_bytes = (K_IN if kind == "gemm_tb" else N_OUT) * 4
    assert 16 * row_bytes <= weight_room <= 16 * row_bytes + N_OUT * 4 + 4 * KiB
    sess = tw.Session(model, _streaming(weight_room, total=minimum))
    for _ in range(2):
        _check_close(kind, sess.run(feeds)["y"], expected)
        assert sess.stats()["total_peak_bytes"] <= minimum
        assert sess.stats()["weight_peak_bytes"] <= weight_room
    # A byte less and the streamed layer cannot hold its bias and one block at once.
    with pytest.raises(tw.BudgetError):
        tw.Session(model, _streaming(weight_room - 1)).run(feeds)


def test_corrupted_piece_of_a_streamed_weight_is_detected(tmp_path):
    from tinyai_workbench.core_native.errors import ModelError

    model, feeds = _linear_model(tmp_path, "gemm_tb")
    weights = model.weights_path
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x40  # inside the big weight's blob (it is most of the file)
    weights.write_bytes(bytes(data))
    sess = tw.Session(model, _streaming(128 * KiB))
    with pytest.raises(ModelError, match="corrupted"):
        sess.run(feeds)
    with pytest.raises(ModelError, match="corrupted"):  # no partial result on a retry either
        sess.run(feeds)


def test_vgg19_streams_at_128_mib_and_matches_the_resident_run():
    model = tw.load_model(ONNX_TEST_DATA / "light" / "light_vgg19.onnx")
    feeds = synthetic_inputs(model)
    out = model.outputs[0].name
    budget = 128 << 20
    expected = tw.Session(model).run(feeds)[out]
    sess = tw.Session(model, _streaming(budget))
    # fc6 alone (392 MiB) is three times the budget; Gemm transB splits by output columns.
    np.testing.assert_array_equal(sess.run(feeds)[out], expected)
    s = sess.stats()
    assert s["weight_peak_bytes"] <= budget
    assert s["loader_verify_bytes_read"] > 0  # the split layers' piece CRCs were derived


def test_per_layer_compute_and_wait_seconds_split_the_run(resnet):
    feeds = synthetic_inputs(resnet)
    sess = tw.Session(resnet, _streaming(int(0.3 * resnet.weight_bytes), prefetch=False))
    assert sess.stats()["layer_compute_seconds"] == []  # no run yet
    sess.run(feeds)
    s = sess.stats()
    compute, wait = s["layer_compute_seconds"], s["layer_wait_seconds"]
    assert len(compute) == len(wait) == len(resnet.layers)
    assert all(c >= 0 for c in compute) and all(w >= 0 for w in wait)
    # Prefetch off: every layer with weights waited for its read, and the waits are the
    # loader's stall clock, layer by layer.
    sizes = s["loader_layer_bytes"]
    assert all(w > 0 for w, n in zip(wait, sizes) if n > 0)
    assert sum(wait) == pytest.approx(s["loader_stall_seconds"], rel=1e-6)
    # Compute plus waits is the run, less the per-run setup outside the steps.
    assert 0.5 * s["last_latency_s"] < sum(compute) + sum(wait) <= s["last_latency_s"]
