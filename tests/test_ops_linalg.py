"""MatMul, Gemm, Conv and ConvTranspose against onnxruntime: single-node models covering each
attribute variant, plus the onnx backend cases (pytorch-converted / pytorch-operator) that
exercise these ops."""
import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw

from conftest import ONNX_TEST_DATA
from onnx_reference import assert_close, ort_run

pytestmark = pytest.mark.native

RTOL, ATOL = 1e-4, 1e-5


def _atol_for(k: int) -> float:
    """float32 rounding in a k-term dot product of unit-variance values grows like sqrt(k);
    summation order differs from onnxruntime's, so near-zero outputs need this much slack."""
    return ATOL * max(1.0, float(np.sqrt(k)))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAI_CACHE_DIR", str(tmp_path / "cache"))


def _model(op_type, runtime: dict, constants: dict, opset: int, input_order, **attrs):
    """One `op_type` node; `runtime` arrays become graph inputs, `constants` initializers.
    `input_order` lists the node's input names ("" for an omitted optional input)."""
    node = helper.make_node(op_type, list(input_order), ["y"], name=f"the_{op_type.lower()}",
                            **attrs)
    inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for k, v in runtime.items()]
    inits = [numpy_helper.from_array(v, k) for k, v in constants.items()]
    graph = helper.make_graph([node], "g", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def _run_tw(model, feeds, tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    return tw.Session(tw.load_model(path)).run(feeds)["y"]


def _check(model, feeds, tmp_path, rtol=RTOL, atol=ATOL):
    want = ort_run(model, feeds)["y"]
    got = _run_tw(model, feeds, tmp_path)
    assert_close(got, want, rtol=rtol, atol=atol, what=model.graph.node[0].op_type)


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# MatMul

MATMUL_SHAPES = [
    ((7,), (7,)),
    ((7,), (7, 5)),
    ((6, 7), (7,)),
    ((1, 300), (300, 1)),
    ((33, 65), (65, 19)),
    ((130, 257), (257, 1030)),  # several K and N blocks, ragged edges
    ((4, 9, 16), (16, 11)),  # batch folds into rows
    ((3, 9, 16), (3, 16, 11)),
    ((1, 9, 16), (3, 16, 11)),
    ((2, 1, 5, 6), (1, 3, 6, 4)),
    ((5, 6), (2, 3, 6, 4)),
    ((2, 3, 5, 6), (6,)),
    ((8,), (2, 8, 3)),
    ((2, 0, 4), (4, 3)),
]


@pytest.mark.parametrize("a_shape,b_shape", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("b_constant", [False, True], ids=["b_input", "b_weight"])
def test_matmul(tmp_path, a_shape, b_shape, b_constant):
    rng = np.random.default_rng(1)
    a, b = _rand(rng, *a_shape), _rand(rng, *b_shape)
    runtime = {"a": a} if b_constant else {"a": a, "b": b}
    model = _model("MatMul", runtime, {"b": b} if b_constant else {}, 13, ["a", "b"])
    _check(model, runtime, tmp_path, atol=_atol_for(a_shape[-1]))


@pytest.mark.parametrize("opset", [1, 9, 13])
def test_matmul_opsets(tmp_path, opset):
    rng = np.random.default_rng(2)
    a, b = _rand(rng, 3, 4, 5), _rand(rng, 3, 5, 2)
    model = _model("MatMul", {"a": a, "b": b}, {}, max(opset, 7), ["a", "b"])
    if opset < 7:  # onnxruntime refuses models below opset 7: numpy is the reference
        model = _model("MatMul", {"a": a, "b": b}, {}, opset, ["a", "b"])
        assert_close(_run_tw(model, {"a": a, "b": b}, tmp_path), a @ b, rtol=RTOL, atol=ATOL)
        return
    _check(model, {"a": a, "b": b}, tmp_path)


def test_matmul_int_is_unsupported(tmp_path):
    a = np.ones((2, 3), np.int64)
    b = np.ones((3, 2), np.int64)
    model = _model("MatMul", {"a": a, "b": b}, {}, 13, ["a", "b"])
    with pytest.raises(tw.UnsupportedOperatorError, match="int64"):
        _run_tw(model, {"a": a, "b": b}, tmp_path)


def test_matmul_inner_mismatch_fails_cleanly(tmp_path):
    a = np.ones((2, 3), np.float32)
    b = np.ones((4, 2), np.float32)
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["m", "k"]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["k2", "n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    with pytest.raises(tw.TinyAIError, match="inner dimensions"):
        _run_tw(model, {"a": a, "b": b}, tmp_path)


# ---------------------------------------------------------------------------------------------
# Gemm

GEMM_C_SHAPES = [None, (), (1,), ("N",), (1, "N"), ("M", 1), ("M", "N")]


def _resolve(shape, M, N):
    return tuple({"M": M, "N": N}.get(d, d) for d in shape)


@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([0, 1], [0, 1])))
@pytest.mark.parametrize("c_shape", GEMM_C_SHAPES, ids=str)
def test_gemm(tmp_path, trans_a, trans_b, c_shape):
    rng = np.random.default_rng(3)
    M, K, N = 13, 70, 21
    a = _rand(rng, *((K, M) if trans_a else (M, K)))
    b = _rand(rng, *((N, K) if trans_b else (K, N)))
    consts, order = {"b": b}, ["a", "b"]
    if c_shape is not None:
        consts["c"] = _rand(rng, *_resolve(c_shape, M, N))
        order.append("c")
    model = _model("Gemm", {"a": a}, consts, 13, order, transA=trans_a, transB=trans_b,
                   alpha=0.75, beta=-1.5)
    _check(model, {"a": a}, tmp_path)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.0, 0.0), (0.0, 0.5), (1.0, 0.25)])
@pytest.mark.parametrize("opset", [7, 9, 11, 13])
def test_gemm_alpha_beta_opsets(tmp_path, alpha, beta, opset):
    rng = np.random.default_rng(4)
    a, b, c = _rand(rng, 1, 40), _rand(rng, 9, 40), _rand(rng, 9)
    model = _model("Gemm", {"a": a, "c": c}, {"b": b}, opset, ["a", "b", "c"], transB=1,
                   alpha=alpha, beta=beta)
    _check(model, {"a": a, "c": c}, tmp_path)


def test_gemm_without_c(tmp_path):
    rng = np.random.default_rng(5)
    a, b = _rand(rng, 5, 8), _rand(rng, 8, 3)
    _check(_model("Gemm", {"a": a}, {"b": b}, 13, ["a", "b"]), {"a": a}, tmp_path)
    _check(_model("Gemm", {"a": a}, {"b": b}, 13, ["a", "b", ""]), {"a": a}, tmp_path)


@pytest.mark.parametrize("broadcast,c_shape", [(1, (4,)), (1, (1, 4)), (0, (3, 4))])
def test_gemm_opset6_broadcast_attribute(tmp_path, broadcast, c_shape):
    # onnxruntime cannot load opset 6: numpy is the reference.
    rng = np.random.default_rng(6)
    a, b, c = _rand(rng, 3, 5), _rand(rng, 5, 4), _rand(rng, *c_shape)
    model = _model("Gemm", {"a": a}, {"b": b, "c": c}, 6, ["a", "b", "c"], broadcast=broadcast,
                   alpha=2.0, beta=0.5)
    assert_close(_run_tw(model, {"a": a}, tmp_path), 2.0 * a @ b + 0.5 * c, rtol=RTOL, atol=ATOL)


def test_gemm_opset6_without_broadcast_rejects_vector_c(tmp_path):
    rng = np.random.default_rng(7)
    a, b, c = _rand(rng, 3, 5), _rand(rng, 5, 4), _rand(rng, 4)
    model = _model("Gemm", {"a": a}, {"b": b, "c": c}, 6, ["a", "b", "c"])
    with pytest.raises(tw.TinyAIError, match="broadcast"):
        _run_tw(model, {"a": a}, tmp_path)


# ---------------------------------------------------------------------------------------------
# Conv

# (x shape, w shape, attributes)
CONV_CASES = [
    ((1, 3, 11), (4, 3, 3), {}),
    ((2, 4, 17), (6, 2, 5), dict(group=2, strides=[2], pads=[2, 1], dilations=[2])),
    ((1, 3, 9, 10), (5, 3, 3, 2), {}),
    ((2, 4, 9, 10), (6, 4, 3, 3), dict(pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2])),
    ((1, 6, 12, 12), (6, 2, 3, 3), dict(group=3, pads=[1, 1, 1, 1])),
    ((1, 8, 14, 13), (8, 1, 3, 3), dict(group=8, pads=[1, 1, 1, 1])),  # depthwise
    ((2, 8, 14, 13), (8, 1, 3, 3), dict(group=8, pads=[1, 1, 1, 1], strides=[2, 2])),
    ((1, 4, 10, 10), (12, 1, 3, 3), dict(group=4)),  # depthwise with multiplier 3
    ((1, 4, 10, 10), (4, 1, 5, 5), dict(group=4, dilations=[2, 2], pads=[4, 4, 3, 3])),
    ((1, 1, 12, 12), (7, 1, 3, 3), dict(pads=[1, 1, 1, 1])),  # one input channel
    ((1, 16, 7, 9), (10, 16, 1, 1), {}),  # pointwise: GEMM without im2col
    ((2, 16, 7, 9), (10, 8, 1, 1), dict(group=2)),
    ((1, 16, 8, 9), (10, 16, 1, 1), dict(strides=[2, 2])),  # 1x1 stride 2 (ResNet shortcut)
    ((1, 64, 40, 40), (24, 64, 3, 3), dict(pads=[1, 1, 1, 1])),  # several column chunks
    ((1, 3, 13, 13), (4, 3, 7, 7), dict(pads=[3, 3, 3, 3], strides=[2, 2])),
    ((1, 3, 5, 5), (2, 3, 3, 3), dict(pads=[4, 4, 4, 4])),  # padding wider than the kernel
    ((1, 2, 5, 6, 7), (3, 2, 2, 3, 2), {}),
    ((1, 4, 6, 6, 6), (4, 2, 3, 3, 3), dict(group=2, pads=[1, 0, 1, 1, 0, 1], strides=[2, 1, 2])),
    ((1, 3, 7, 7, 7), (3, 1, 3, 3, 3), dict(group=3, dilations=[2, 1, 2])),  # 3-D depthwise
    ((1, 3, 9, 10), (5, 3, 3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    ((1, 3, 9, 10), (5, 3, 4, 4), dict(auto_pad="SAME_UPPER")),
    ((1, 3, 9, 10), (5, 3, 4, 4), dict(auto_pad="SAME_LOWER")),
    ((1, 3, 9, 10), (5, 3, 3, 3), dict(auto_pad="SAME_LOWER", strides=[2, 3])),
    ((1, 3, 9, 10), (5, 3, 3, 3), dict(auto_pad="VALID", strides=[2, 2])),
    ((1, 3, 9, 10), (5, 3, 3, 3), dict(auto_pad="NOTSET", kernel_shape=[3, 3])),
    # Wide outputs: the padded-grid path (kernels/conv/padded_grid.h) computes one output row
    # per GEMM call, stride 1 and stride-phase-split (3 x 2 phases, dilated taps)
    ((1, 2, 5, 700), (400, 2, 3, 3), dict(pads=[1, 1, 1, 1])),
    ((2, 2, 11, 1300), (300, 2, 3, 2), dict(pads=[2, 1, 0, 1], strides=[3, 2], dilations=[2, 1])),
]


@pytest.mark.parametrize("x_shape,w_shape,attrs", CONV_CASES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_conv(tmp_path, x_shape, w_shape, attrs, bias):
    rng = np.random.default_rng(8)
    x, w = _rand(rng, *x_shape), _rand(rng, *w_shape)
    consts, order = {"w": w}, ["x", "w"]
    if bias:
        consts["b"] = _rand(rng, w_shape[0])
        order.append("b")
    k = int(np.prod(w_shape[1:]))
    _check(_model("Conv", {"x": x}, consts, 11, order, **attrs), {"x": x}, tmp_path,
           atol=_atol_for(k))


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_conv_same_padding_with_dilation(tmp_path, auto_pad):
    # onnxruntime refuses dilation with SAME padding: its reference is the same convolution
    # with the pads the spec prescribes written out explicitly.
    rng = np.random.default_rng(12)
    x, w = _rand(rng, 1, 3, 9, 10), _rand(rng, 5, 3, 3, 3)
    strides, dilations = [2, 3], [2, 1]
    pads_begin, pads_end = [], []
    for size, s, d, k in zip(x.shape[2:], strides, dilations, w.shape[2:]):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, large = total // 2, total - total // 2
        pads_begin.append(small if auto_pad == "SAME_UPPER" else large)
        pads_end.append(large if auto_pad == "SAME_UPPER" else small)
    ours = _model("Conv", {"x": x}, {"w": w}, 11, ["x", "w"], auto_pad=auto_pad,
                  strides=strides, dilations=dilations)
    ref = _model("Conv", {"x": x}, {"w": w}, 11, ["x", "w"], pads=pads_begin + pads_end,
                 strides=strides, dilations=dilations)
    assert_close(_run_tw(ours, {"x": x}, tmp_path), ort_run(ref, {"x": x})["y"], rtol=RTOL,
                 atol=ATOL)


@pytest.mark.parametrize("opset", [1, 11, 18])
def test_conv_weights_as_runtime_input(tmp_path, opset):
    rng = np.random.default_rng(9)
    x, w, b = _rand(rng, 2, 4, 8, 8), _rand(rng, 6, 2, 3, 3), _rand(rng, 6)
    feeds = {"x": x, "w": w, "b": b}
    model = _model("Conv", feeds, {}, max(opset, 7), ["x", "w", "b"], group=2, strides=[1, 2])
    _check(model, feeds, tmp_path)


@pytest.mark.parametrize("attrs,match", [
    (dict(auto_pad="SAME_ANYWHERE"), "auto_pad"),
    (dict(strides=[0, 1]), "strides"),
    (dict(group=0), "group"),
    (dict(pads=[-1, 0, 0, 0]), "pads"),
])
def test_conv_unsupported_attributes(tmp_path, attrs, match):
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((2, 2, 3, 3), np.float32)
    model = _model("Conv", {"x": x}, {"w": w}, 11, ["x", "w"], **attrs)
    with pytest.raises(tw.UnsupportedOperatorError, match=match):
        _run_tw(model, {"x": x}, tmp_path)


def test_conv_unsupported_dtype(tmp_path):
    x, w = np.ones((1, 2, 5, 5), np.float64), np.ones((2, 2, 3, 3), np.float64)
    model = _model("Conv", {"x": x}, {"w": w}, 11, ["x", "w"])
    with pytest.raises(tw.UnsupportedOperatorError):
        _run_tw(model, {"x": x}, tmp_path)


# ---------------------------------------------------------------------------------------------
# ConvTranspose

CONV_TRANSPOSE_CASES = [
    ((1, 3, 7), (3, 4, 3), {}),
    ((2, 4, 6), (4, 3, 4), dict(group=2, strides=[3], pads=[1, 2], dilations=[2])),
    ((1, 3, 5, 6), (3, 2, 3, 3), {}),
    ((2, 3, 5, 6), (3, 2, 3, 3), dict(strides=[3, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])),
    ((1, 3, 5, 6), (3, 2, 3, 3), dict(strides=[2, 3], pads=[0, 2, 1, 0], output_padding=[1, 2])),
    ((1, 4, 5, 5), (4, 3, 3, 3), dict(group=2, strides=[2, 2], dilations=[2, 1])),
    ((1, 4, 5, 5), (4, 1, 3, 3), dict(group=4, strides=[2, 2], pads=[1, 1, 1, 1])),  # depthwise
    ((1, 8, 6, 7), (8, 5, 1, 1), {}),  # pointwise: GEMM straight into the output
    ((1, 8, 6, 7), (8, 5, 2, 2), dict(strides=[2, 2])),  # non-overlapping taps
    ((1, 64, 20, 20), (64, 16, 4, 4), dict(strides=[2, 2], pads=[1, 1, 1, 1])),  # chunks
    ((1, 2, 3, 4, 5), (2, 3, 2, 3, 2), dict(strides=[2, 1, 2], pads=[0, 1, 1, 1, 0, 0])),
    ((1, 3, 5, 6), (3, 2, 3, 3), dict(strides=[3, 2], output_shape=[15, 12])),
    ((1, 3, 5, 6), (3, 2, 3, 3), dict(strides=[3, 2], output_shape=[14, 13])),  # odd padding
    ((1, 3, 5, 6), (3, 2, 3, 3), dict(strides=[3, 2], output_shape=[17, 14])),  # > natural
    ((1, 3, 5, 6), (3, 2, 3, 3), dict(strides=[2, 2], auto_pad="SAME_UPPER")),
    ((1, 3, 5, 6), (3, 2, 4, 3), dict(strides=[2, 2], auto_pad="SAME_LOWER")),
    ((1, 3, 5, 6), (3, 2, 3, 3), dict(strides=[2, 2], auto_pad="VALID")),
]


@pytest.mark.parametrize("x_shape,w_shape,attrs", CONV_TRANSPOSE_CASES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_conv_transpose(tmp_path, x_shape, w_shape, attrs, bias):
    rng = np.random.default_rng(10)
    x, w = _rand(rng, *x_shape), _rand(rng, *w_shape)
    consts, order = {"w": w}, ["x", "w"]
    if bias:
        consts["b"] = _rand(rng, w_shape[1] * attrs.get("group", 1))
        order.append("b")
    _check(_model("ConvTranspose", {"x": x}, consts, 11, order, **attrs), {"x": x}, tmp_path)


def test_conv_transpose_output_shape_with_batch_and_channels(tmp_path):
    # Some exporters write output_shape as [N, C, spatial...]; onnxruntime rejects that form,
    # so the reference is the spatial-only attribute.
    rng = np.random.default_rng(11)
    x, w = _rand(rng, 1, 3, 5, 6), _rand(rng, 3, 2, 3, 3)
    ours = _model("ConvTranspose", {"x": x}, {"w": w}, 11, ["x", "w"], strides=[3, 2],
                  output_shape=[1, 2, 14, 13])
    ref = _model("ConvTranspose", {"x": x}, {"w": w}, 11, ["x", "w"], strides=[3, 2],
                 output_shape=[14, 13])
    assert_close(_run_tw(ours, {"x": x}, tmp_path), ort_run(ref, {"x": x})["y"], rtol=RTOL,
                 atol=ATOL)


def test_conv_transpose_unsupported_attribute(tmp_path):
    x, w = np.ones((1, 2, 5, 5), np.float32), np.ones((2, 2, 3, 3), np.float32)
    model = _model("ConvTranspose", {"x": x}, {"w": w}, 11, ["x", "w"], output_padding=[-1, 0])
    with pytest.raises(tw.UnsupportedOperatorError, match="output_padding"):
        _run_tw(model, {"x": x}, tmp_path)


# ---------------------------------------------------------------------------------------------
# onnx backend cases that use these ops (all of their nodes must be supported)

LINALG_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul"}


def _backend_cases():
    for suite in ("pytorch-converted", "pytorch-operator"):
        for d in sorted((ONNX_TEST_DATA / suite).iterdir()):
            path = d / "model.onnx"
            if not path.is_file():
                continue
            ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
            if ops & LINALG_OPS:
                yield pytest.param(d, id=f"{suite}/{d.name}")


def _tensors(directory, prefix):
    files = sorted(directory.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[-1]))
    out = []
    for f in files:
        t = onnx.TensorProto()
        t.ParseFromString(f.read_bytes())
        out.append(numpy_helper.to_array(t))
    return out


@pytest.mark.parametrize("case_dir", list(_backend_cases()))
def test_backend_case(case_dir):
    model = tw.load_model(case_dir / "model.onnx")
    data = case_dir / "test_data_set_0"
    feeds = {info.name: arr for info, arr in zip(model.inputs, _tensors(data, "input"))}
    try:
        outs = tw.Session(model).run(feeds)
    except tw.UnsupportedOperatorError as e:
        if e.op_type in LINALG_OPS:
            raise
        pytest.skip(f"needs {e.op_type}, which this file does not test")
    for info, want in zip(model.outputs, _tensors(data, "output")):
        assert_close(outs[info.name], want, rtol=1e-3, atol=1e-4, what=case_dir.name)
