"""SIMD dispatch: every optimization level x ISA present x op family matches the scalar
reference (level 0); a family switched off falls back to the reference; light models pass at
every level. Small inputs throughout; the big models at every level are marked slow."""
import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw
from tinyai_workbench.app.test_data import synthetic_inputs
from tinyai_workbench.core_native import _core
from tinyai_workbench.core_native.config import Config, to_native

from onnx_reference import assert_close, ort_run

pytestmark = pytest.mark.native

LEVELS = [0, 1, 2, 3]
FAMILIES = ["matrix_mul", "conv", "activation", "attention"]
CAPS = tw.simd_capabilities()


def _level_id(level: int) -> str:
    return f"L{level}-{CAPS['level_isa'][level]}"


# -- capabilities ------------------------------------------------------------------------

def test_capabilities_report_isas_width_and_caches():
    caps = tw.simd_capabilities()
    assert caps["isas"][0] == "scalar" and len(caps["isas"]) >= 2
    assert caps["level_isa"][0] == "scalar"
    widest = caps["level_isa"][3]
    assert widest == caps["isas"][-1]
    assert caps["vector_width_bits"] == {"avx512f": 512, "avx2+fma": 256}.get(widest, 128)
    if caps["avx512f"]:
        assert "avx512f" in caps["isas"]
    for key in ("l1d_bytes", "l2_bytes", "l3_bytes"):
        assert caps[key] >= 4096, key
    assert caps["l1d_bytes"] <= caps["l2_bytes"] <= caps["l3_bytes"]
    assert caps["cache_line_bytes"] in (32, 64, 128)
    assert 1 <= caps["physical_cores"] <= caps["logical_cpus"]


def test_simd_op_enum_and_config_round_trip():
    assert [m.name for m in tw.SimdOp] == ["MATRIX_MUL", "CONV", "ACTIVATION", "ATTENTION"]
    cfg = Config(simd_level=2, simd_ops=tw.SimdOpsConfig(conv=False))
    native = to_native(cfg)
    assert native.simd_level == 2
    assert (native.simd_ops.matrix_mul, native.simd_ops.conv) == (True, False)
    with pytest.raises(ValueError, match="simd_level"):
        to_native(Config(simd_level=4))


# -- a small graph with every family ------------------------------------------------------

def _families_model() -> onnx.ModelProto:
    """MatMul / Gemm (MATRIX_MUL), Conv 3x3 + 1x1 + depthwise + strided and pooling (CONV),
    activations and softmax (ACTIVATION) and a scaled-dot-product attention pattern
    (MatMul-Softmax-MatMul), each fed
    straight from the graph inputs so a family's output depends on that family only."""
    rng = np.random.default_rng(7)
    w = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.3  # noqa: E731
    inits = {
        "mm_b": w(37, 29), "fc_w": w(23, 37), "fc_b": w(23),
        "conv_w": w(12, 5, 3, 3), "conv_b": w(12), "pw_w": w(16, 5, 1, 1),
        "dw_w": w(5, 1, 3, 3), "dw_b": w(5), "scale": np.array(0.125, np.float32),
    }
    n = helper.make_node
    nodes = [
        n("MatMul", ["a", "mm_b"], ["mm"]),
        n("Gemm", ["a", "fc_w", "fc_b"], ["fc"], transB=1),
        n("Conv", ["img", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1]),
        n("Conv", ["img", "pw_w"], ["pw"]),
        n("Conv", ["img", "dw_w", "dw_b"], ["dw"], group=5, pads=[1, 1, 1, 1], strides=[2, 2]),
        n("Conv", ["img", "conv_w", "conv_b"], ["conv_s2"], pads=[1, 0, 1, 2], strides=[2, 2]),
        # pooling follows the CONV family's switch (kernels/pool/pool_rows.h)
        n("MaxPool", ["img"], ["maxpool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        n("MaxPool", ["img"], ["maxpool_s1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("AveragePool", ["img"], ["avgpool"], kernel_shape=[2, 2], strides=[2, 2]),
        n("Relu", ["v"], ["relu"]),
        n("Sigmoid", ["v"], ["sigmoid"]),
        n("Tanh", ["v"], ["tanh"]),
        n("Exp", ["v"], ["exp"]),
        n("Erf", ["v"], ["erf"]),
        n("LeakyRelu", ["v"], ["leaky"], alpha=0.1),
        n("HardSigmoid", ["v"], ["hsig"]),
        n("HardSwish", ["v"], ["hswish"]),
        n("Softmax", ["v"], ["softmax"], axis=-1),
        n("LogSoftmax", ["v"], ["logsoftmax"], axis=-1),
        n("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        n("MatMul", ["q", "kt"], ["scores"]),
        n("Mul", ["scores", "scale"], ["scaled"]),
        n("Softmax", ["scaled"], ["probs"], axis=-1),
        n("MatMul", ["probs", "vv"], ["attn"]),
    ]
    inputs = {"a": [19, 37], "img": [2, 5, 11, 13], "v": [3, 45], "q": [4, 9, 16],
              "k": [4, 9, 16], "vv": [4, 9, 16]}
    outputs = ["mm", "fc", "conv", "pw", "dw", "conv_s2", "maxpool", "maxpool_s1", "avgpool", "relu", "sigmoid", "tanh", "exp", "erf", "leaky",
               "hsig", "hswish", "softmax", "logsoftmax", "attn"]
    graph = helper.make_graph(
        nodes, "families",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


OUTPUT_FAMILY = {"mm": "matrix_mul", "fc": "matrix_mul", "conv": "conv", "pw": "conv",
                 "dw": "conv", "conv_s2": "conv", "maxpool": "conv", "maxpool_s1": "conv",
                 "avgpool": "conv", "attn": "attention"}


def _family_of(output: str) -> str:
    return OUTPUT_FAMILY.get(output, "activation")


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    path = tmp_path_factory.mktemp("simd") / "families.onnx"
    onnx.save(_families_model(), str(path))
    model = tw.load_model(path)
    rng = np.random.default_rng(3)
    feeds = {i.name: (rng.standard_normal(i.shape) * 2).astype(np.float32) for i in model.inputs}
    feeds["v"][0, :5] = [-100.0, -20.0, 0.0, 20.0, 100.0]  # saturation ends of exp/tanh/erf
    return model, feeds


def _run(model, feeds, **cfg):
    return tw.Session(model, Config(**cfg)).run(feeds)


@pytest.fixture(scope="module")
def reference(families):
    model, feeds = families
    return _run(model, feeds, simd_level=0, threads=1)


def _check_against(ref: dict, out: dict, what: str):
    for name, expected in ref.items():
        got = out[name]
        if name == "exp":  # relative: values up to e^100
            # denormal results (e^-100) flush to 0 in the vector exp
            np.testing.assert_allclose(got, expected, rtol=2e-6, atol=np.finfo(np.float32).tiny,
                                       err_msg=f"{what}: {name}")
        else:
            assert_close(got, expected, rtol=1e-4, atol=2e-5, what=f"{what}: {name}")


def test_reference_matches_onnxruntime(families, reference):
    model, feeds = families
    expected = ort_run(_families_model(), feeds)
    for name in reference:
        assert_close(reference[name], expected[name], rtol=1e-4, atol=1e-5, what=name)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("level", LEVELS[1:], ids=_level_id)
def test_every_level_matches_scalar_reference(families, reference, level, threads):
    model, feeds = families
    _check_against(reference, _run(model, feeds, simd_level=level, threads=threads),
                   f"level {level} ({CAPS['level_isa'][level]}), {threads} thread(s)")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("level", LEVELS[1:], ids=_level_id)
def test_family_switched_off_falls_back_to_reference(families, reference, level, family):
    model, feeds = families
    ops = tw.SimdOpsConfig(**{family: False})
    out = _run(model, feeds, simd_level=level, threads=1, simd_ops=ops)
    _check_against(reference, out, f"level {level} with {family} off")
    # The switched-off family runs the reference kernels themselves: bit-identical outputs.
    # (Attention is MatMul + Softmax here: its kernels follow MATRIX_MUL and ACTIVATION.)
    for name, expected in reference.items():
        if _family_of(name) == family and family != "attention":
            np.testing.assert_array_equal(out[name], expected, err_msg=f"{family} off: {name}")


@pytest.mark.parametrize("level", LEVELS, ids=_level_id)
def test_results_identical_across_thread_counts(families, level):
    model, feeds = families
    one = _run(model, feeds, simd_level=level, threads=1)
    for threads in (2, 3):
        many = _run(model, feeds, simd_level=level, threads=threads)
        for name in one:
            np.testing.assert_array_equal(many[name], one[name], err_msg=f"{threads} threads: {name}")


def test_session_level_calls_change_config_at_next_run(families, reference):
    model, feeds = families
    sess = tw.Session(model, Config(threads=1))
    tw.set_simd_optimization_level(sess, 0)
    assert sess.config.simd_level == 0
    out = sess.run(feeds)
    for name in reference:
        np.testing.assert_array_equal(out[name], reference[name], err_msg=name)
    tw.set_simd_optimization_level(sess, 3)
    tw.enable_simd(sess, tw.SimdOp.CONV, False)
    tw.enable_simd(sess, "activation", False)
    assert (sess.config.simd_ops.conv, sess.config.simd_ops.activation) == (False, False)
    out = sess.run(feeds)
    np.testing.assert_array_equal(out["conv"], reference["conv"])
    np.testing.assert_array_equal(out["sigmoid"], reference["sigmoid"])
    with pytest.raises(ValueError, match="op family"):
        tw.enable_simd(sess, "pooling", True)
    with pytest.raises(ValueError, match="level"):
        tw.set_simd_optimization_level(sess, 7)


# -- kernels directly, with awkward sizes ---------------------------------------------------

@pytest.mark.parametrize("level", LEVELS, ids=_level_id)
@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_odd_shapes(level, threads):
    rng = np.random.default_rng(level)
    cfg = to_native(Config(simd_level=level, threads=threads))
    for m, n, k in [(1, 1, 1), (1, 33, 17), (33, 1, 17), (5, 7, 3), (15, 33, 65), (29, 70, 513),
                    (64, 64, 1030)]:
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        np.testing.assert_allclose(_core._matmul(cfg, a, b), expected, rtol=1e-4,
                                   atol=1e-5 * math.sqrt(k), err_msg=f"{m}x{n}x{k}")


@pytest.mark.parametrize("block_size", [2, 16, 64, 200])
def test_block_size_and_prefetch_drive_tiling_not_results(block_size):
    rng = np.random.default_rng(block_size)
    a = rng.standard_normal((70, 300)).astype(np.float32)
    b = rng.standard_normal((300, 90)).astype(np.float32)
    expected = a.astype(np.float64) @ b
    for prefetch in (True, False):
        cfg = Config(simd_level=3, threads=1,
                     cache=tw.CacheConfig(block_size=block_size, enable_prefetch=prefetch,
                                          prefetch_distance=4))
        info = _core._gemm_info(to_native(cfg), 70, 90, 300)
        assert info["kc"] == 8 * block_size
        np.testing.assert_allclose(_core._matmul(to_native(cfg), a, b), expected, rtol=1e-4, atol=1e-4)


def _float64_reference(kind: str, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    erf = np.vectorize(math.erf)
    return {
        "relu": lambda: np.maximum(x, 0),
        "leaky_relu": lambda: np.where(x >= 0, x, 0.1 * x),
        "sigmoid": lambda: 1 / (1 + np.exp(-x)),
        "tanh": lambda: np.tanh(x),
        "gelu": lambda: 0.5 * x * (1 + erf(x / math.sqrt(2))),
        "gelu_tanh": lambda: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
        "silu": lambda: x / (1 + np.exp(-x)),
        "exp": lambda: np.exp(x),
        "erf": lambda: erf(x),
        "hard_sigmoid": lambda: np.clip(0.1 * x + 0.5, 0, 1),
        "hard_swish": lambda: x * np.clip(x / 6 + 0.5, 0, 1),
    }[kind]()


ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "exp", "erf",
               "hard_sigmoid", "hard_swish"]


@pytest.mark.parametrize("kind", ACTIVATIONS)
@pytest.mark.parametrize("level", LEVELS[1:], ids=_level_id)
def test_vector_activations_accuracy(kind, level):
    x = np.concatenate([np.linspace(-12, 12, 4001), [-1e-30, 1e-30, 0.0, -87.0, 87.0, 1e-3],
                        np.linspace(-0.01, 0.01, 37)]).astype(np.float32)  # odd length: a tail
    if kind == "exp":
        x = np.concatenate([x, np.float32([-88.0, 88.0, -200.0])])
    cfg = to_native(Config(simd_level=level, threads=1))
    alpha, beta = {"leaky_relu": (0.1, 0.0), "hard_sigmoid": (0.1, 0.5)}.get(kind, (0.0, 0.0))
    got = _core._activation(cfg, kind, x, alpha, beta)
    ref = _float64_reference(kind, x)
    if kind == "exp":
        np.testing.assert_allclose(got, ref, rtol=3e-7 * 4, atol=1e-38)
    elif kind.startswith("gelu"):  # x * (1 + erf) cancels in the negative tail: absolute
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-6)
    else:
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-7)
    # the tail (shorter than a vector) and the in-place case agree with the full-vector body
    y = x.copy()
    assert np.array_equal(_core._activation(cfg, kind, y, alpha, beta), got)


@pytest.mark.parametrize("level", LEVELS[1:], ids=_level_id)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows_every_tail_length(level, log):
    cfg = to_native(Config(simd_level=level, threads=1))
    rng = np.random.default_rng(11)
    for n in range(1, 40):
        x = (rng.standard_normal((3, n)) * 5).astype(np.float32)
        z = x.astype(np.float64) - x.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1, keepdims=True))
        expected = z - lse if log else np.exp(z - lse)
        np.testing.assert_allclose(_core._softmax_rows(cfg, x, log), expected, rtol=1e-5,
                                   atol=1e-6, err_msg=f"n={n}")


# -- light models at every level -----------------------------------------------------------

def _light(name, level, onnx_test_data, threads=None):
    path = onnx_test_data / "light" / f"light_{name}.onnx"
    model = tw.load_model(path)
    feeds = synthetic_inputs(model)
    ours = tw.Session(model, Config(simd_level=level, threads=threads)).run(feeds)
    out = model.outputs[0].name
    assert_close(ours[out], ort_run(str(path), feeds)[out], what=f"{name} at level {level}")


@pytest.mark.parametrize("level", LEVELS, ids=_level_id)
def test_light_squeezenet_every_level(level, onnx_test_data):
    _light("squeezenet", level, onnx_test_data)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "inception_v1", "densenet121", "shufflenet"])
@pytest.mark.parametrize("level", LEVELS, ids=_level_id)
def test_light_models_every_level(name, level, onnx_test_data):
    _light(name, level, onnx_test_data)
