"""Elementwise, activation, softmax, reduction and normalisation kernels against onnxruntime:
single-node models over opsets, dtypes and broadcasting patterns, plus the unsupported cases
that must raise UnsupportedOperatorError. Where onnxruntime has no kernel for a variant (legacy
opset-6 broadcasting, BatchNormalization spatial=0, float Mod with fmod=0) numpy is the
reference."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw

try:
    from .onnx_reference import assert_close, ort_run
except ImportError:  # tests/ collected as rootdir-relative modules (no tests/__init__.py)
    from onnx_reference import assert_close, ort_run

pytestmark = pytest.mark.native

RTOL, ATOL = 1e-4, 1e-5
F32, I32, I64, BOOL = np.float32, np.int32, np.int64, np.bool_


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAI_CACHE_DIR", str(tmp_path / "cache"))


def _vi(name, dtype, shape=None):
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                                         shape)


def make_model(op_type, feeds, opset, out_dtypes=(F32,), inputs=None, consts=None, **attrs):
    """One `op_type` node (or, for a list of op types, one single-output node per op, all on
    the same inputs: one import covers a family). `feeds` become graph inputs, `consts`
    initializers; `inputs` is the node's input list ("" = omitted optional input), default:
    feeds then consts in order."""
    consts = dict(consts or {})
    if inputs is None:
        inputs = list(feeds) + list(consts)
    if isinstance(op_type, str):
        outs = [f"y{i}" for i in range(len(out_dtypes))]
        nodes = [helper.make_node(op_type, inputs, outs, name=f"the_{op_type.lower()}", **attrs)]
    else:
        outs = [f"y_{op}" for op in op_type]
        out_dtypes = out_dtypes * len(op_type)
        nodes = [helper.make_node(op, inputs, [o], name=f"the_{op.lower()}", **attrs)
                 for op, o in zip(op_type, outs)]
    graph = helper.make_graph(
        nodes, "g", [_vi(k, v.dtype, v.shape) for k, v in feeds.items()],
        [_vi(o, d) for o, d in zip(outs, out_dtypes)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _graph_feeds(model, feeds):
    names = {i.name for i in model.graph.input}
    return {k: v for k, v in feeds.items() if k in names}


def run_tw(model, feeds, tmp_path, simd_levels=(3,)):
    """Outputs in graph order; with several SIMD levels, a list of such lists (one import)."""
    feeds = _graph_feeds(model, feeds)
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    loaded = tw.load_model(path)
    runs = []
    for level in simd_levels:
        outs = tw.Session(loaded, tw.Config(simd_level=level)).run(feeds)
        runs.append([outs[o.name] for o in model.graph.output])
    return runs[0] if len(runs) == 1 else runs


# Level 0 is the scalar reference (libm); level 3 the widest vector build (activation family).
BOTH_LEVELS = (0, 3)


def check(model, feeds, tmp_path, rtol=RTOL, atol=ATOL, expected=None, simd_levels=(3,)):
    """Compare every output with onnxruntime (or with `expected` when given)."""
    feeds = _graph_feeds(model, feeds)
    want = expected if expected is not None else list(ort_run(model, feeds).values())
    runs = run_tw(model, feeds, tmp_path, simd_levels)
    runs = runs if len(simd_levels) > 1 else [runs]
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    for level, got in zip(simd_levels, runs):
        for out, g, w in zip(model.graph.output, got, want):
            w = np.asarray(w)
            what = f"{producer[out.name]}:{out.name} at simd_level {level}"
            assert g.dtype == w.dtype, f"{what}: dtype {g.dtype} != {w.dtype}"
            assert_close(g, w, rtol=rtol, atol=atol, what=what)


def rand(rng, shape, dtype=F32, lo=-3.0, hi=3.0):
    if dtype == BOOL:
        return np.asarray(rng.random(shape) < 0.5)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(int(lo) * 7, int(hi) * 7 + 1, size=shape).astype(dtype)
    return rng.uniform(lo, hi, size=shape).astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---------------------------------------------------------------------------------------------
# Broadcasting binary ops

BROADCAST_PATTERNS = [
    ((2, 3, 4), (2, 3, 4)),  # same shape
    ((2, 3, 4), ()),  # scalar
    ((), (5,)),
    ((2, 3, 4), (1,)),
    ((3, 4), (4,)),  # row
    ((2, 3, 4, 5), (3, 1, 1)),  # channel
    ((2, 3, 4, 5), (1, 3, 1, 1)),
    ((3, 1), (1, 4)),  # bidirectional
    ((2, 1, 4, 1, 3), (5, 1, 1, 3)),  # generic strided
    ((2, 1, 4, 6, 3), (5, 1, 6, 1)),
    ((1, 3, 1, 5), (2, 1, 4, 1)),
    ((0, 3), (3,)),  # empty
]


@pytest.mark.parametrize("dtype", [F32, I64, I32])
@pytest.mark.parametrize("shapes", BROADCAST_PATTERNS, ids=str)
def test_arithmetic_broadcast(dtype, shapes, rng, tmp_path):
    a = rand(rng, shapes[0], dtype)
    b = rand(rng, shapes[1], dtype)
    b = np.where(b == 0, dtype(3), b).astype(dtype)  # Div
    if dtype == F32:
        b = np.where(np.abs(b) < 0.1, dtype(0.5), b).astype(dtype)
    model = make_model(["Add", "Sub", "Mul", "Div"], {"a": a, "b": b}, 14, (dtype,))
    check(model, {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("opset", [7, 13])
def test_arithmetic_older_opsets(opset, rng, tmp_path):
    a, b = rand(rng, (2, 3, 4)), rand(rng, (3, 1))
    check(make_model("Mul", {"a": a, "b": b}, opset), {"a": a, "b": b}, tmp_path)


def test_integer_div_truncates_toward_zero(tmp_path):
    a = np.array([7, -7, 7, -7, 0, np.iinfo(np.int64).min], dtype=I64)
    b = np.array([2, 2, -2, -2, 5, -1], dtype=I64)
    got = run_tw(make_model("Div", {"a": a, "b": b}, 14, (I64,)), {"a": a, "b": b}, tmp_path)[0]
    np.testing.assert_array_equal(got[:5], [3, -3, -3, 3, 0])
    assert got[5] == np.iinfo(np.int64).min  # wraps instead of trapping


def test_integer_div_by_zero_is_an_execution_error(tmp_path):
    a, b = np.array([1, 2], dtype=I64), np.array([1, 0], dtype=I64)
    with pytest.raises(tw.ExecutionError, match="division by zero"):
        run_tw(make_model("Div", {"a": a, "b": b}, 14, (I64,)), {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("case", [
    dict(a=(2, 3), b=(3,), attrs=dict(broadcast=1)),  # suffix alignment
    dict(a=(2, 3, 4, 5), b=(3, 4), attrs=dict(broadcast=1, axis=1)),
    dict(a=(2, 3), b=(2, 1), attrs=dict(broadcast=1, axis=0)),
    dict(a=(2, 3), b=(), attrs=dict(broadcast=1)),
    dict(a=(2, 3), b=(2, 3), attrs={}),
], ids=str)
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Pow"])
def test_legacy_opset6_broadcast(op, case, rng, tmp_path):
    a = rand(rng, case["a"], lo=0.5, hi=2.0)
    b = rand(rng, case["b"], lo=0.5, hi=2.0)
    bshape = list(b.shape)
    axis = case["attrs"].get("axis", len(a.shape) - len(bshape))
    aligned = b.reshape([1] * axis + bshape + [1] * (len(a.shape) - axis - len(bshape)))
    fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
          "Pow": np.power}[op]
    model = make_model(op, {"a": a, "b": b}, 6, **case["attrs"])
    check(model, {"a": a, "b": b}, tmp_path, expected=[fn(a, aligned).astype(F32)])


def test_legacy_shapes_without_broadcast_attr_are_rejected(rng, tmp_path):
    a, b = rand(rng, (2, 3)), rand(rng, (3,))
    with pytest.raises(tw.TinyAIError):
        run_tw(make_model("Add", {"a": a, "b": b}, 6), {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("adtype,bdtype", [(F32, F32), (F32, I64), (F32, I32), (I64, I64),
                                           (I32, I32)])
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), ()), ((3, 4), (4,))],
                         ids=str)
def test_pow(adtype, bdtype, shapes, rng, tmp_path):
    a = rand(rng, shapes[0], adtype, lo=0.2, hi=2.0) if adtype == F32 else \
        rng.integers(-4, 5, size=shapes[0]).astype(adtype)
    b = rand(rng, shapes[1], bdtype, lo=-2.0, hi=3.0) if bdtype == F32 else \
        rng.integers(0, 5, size=shapes[1]).astype(bdtype)
    check(make_model("Pow", {"a": a, "b": b}, 15, (adtype,)), {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("dtype", [I64, I32])
@pytest.mark.parametrize("fmod", [0, 1])
def test_mod_integer(dtype, fmod, rng, tmp_path):
    a = rng.integers(-50, 50, size=(3, 8)).astype(dtype)
    b = rng.integers(1, 9, size=(8,)).astype(dtype) * np.where(np.arange(8) % 2, 1, -1).astype(dtype)
    check(make_model("Mod", {"a": a, "b": b}, 13, (dtype,), fmod=fmod), {"a": a, "b": b}, tmp_path)


def test_mod_float(rng, tmp_path):
    a, b = rand(rng, (4, 5), lo=-9, hi=9), rand(rng, (5,), lo=0.5, hi=3.0)
    b[::2] *= -1
    check(make_model("Mod", {"a": a, "b": b}, 13, fmod=1), {"a": a, "b": b}, tmp_path)
    # fmod=0 on floats (onnxruntime refuses it): the divisor's sign, like numpy.mod
    check(make_model("Mod", {"a": a, "b": b}, 13, fmod=0), {"a": a, "b": b}, tmp_path,
          expected=[np.mod(a, b)], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [F32, I64, I32])
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4))],
                         ids=str)
def test_comparisons(dtype, shapes, rng, tmp_path):
    a = rng.integers(-2, 3, size=shapes[0]).astype(dtype)  # small range: plenty of ties
    b = rng.integers(-2, 3, size=shapes[1]).astype(dtype)
    ops = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]
    check(make_model(ops, {"a": a, "b": b}, 16, (BOOL,)), {"a": a, "b": b}, tmp_path)


@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 3, 4)), ((3, 4), (4,)), ((2, 1), ())], ids=str)
def test_logic(shapes, rng, tmp_path):
    a, b = rand(rng, shapes[0], BOOL), rand(rng, shapes[1], BOOL)
    ops = ["And", "Or", "Xor", "Equal"]
    check(make_model(ops, {"a": a, "b": b}, 13, (BOOL,)), {"a": a, "b": b}, tmp_path)


def test_not(rng, tmp_path):
    a = rand(rng, (3, 5), BOOL)
    check(make_model("Not", {"a": a}, 13, (BOOL,)), {"a": a}, tmp_path)


@pytest.mark.parametrize("dtype", [F32, I64, I32, BOOL])
@pytest.mark.parametrize("shapes", [
    ((2, 3, 4), (2, 3, 4), (2, 3, 4)),
    ((3, 4), (4,), ()),
    ((3, 1), (1, 4), (3, 4)),
    ((1, 4), (2, 1, 1), (4,)),
], ids=str)
def test_where(dtype, shapes, rng, tmp_path):
    c = rand(rng, shapes[0], BOOL)
    x, y = rand(rng, shapes[1], dtype), rand(rng, shapes[2], dtype)
    feeds = {"c": c, "x": x, "y": y}
    # onnxruntime has no bool Where kernel
    expected = [np.where(c, x, y)] if dtype == BOOL else None
    check(make_model("Where", feeds, 16, (dtype,)), feeds, tmp_path, expected=expected)


@pytest.mark.parametrize("shapes", [
    ((2, 3),),
    ((2, 3), (2, 3)),
    ((2, 3, 4), (4,), (3, 1)),
    ((3, 1), (1, 4), ()),
    ((4,), (3, 4)),  # the first input is the one that broadcasts
], ids=str)
def test_variadic(shapes, rng, tmp_path):
    feeds = {f"x{i}": rand(rng, s) for i, s in enumerate(shapes)}
    check(make_model(["Max", "Min", "Sum", "Mean"], feeds, 13), feeds, tmp_path)


@pytest.mark.parametrize("dtype", [I64, I32])
def test_variadic_integer(dtype, rng, tmp_path):
    feeds = {"a": rand(rng, (3, 4), dtype), "b": rand(rng, (4,), dtype)}
    check(make_model(["Max", "Min"], feeds, 13, (dtype,)), feeds, tmp_path)


@pytest.mark.parametrize("opset", [6, 8])
def test_variadic_older_opsets(opset, rng, tmp_path):
    feeds = {"a": rand(rng, (3, 4)), "b": rand(rng, (3, 4)), "c": rand(rng, (3, 4))}
    check(make_model("Sum", feeds, opset), feeds, tmp_path)


@pytest.mark.parametrize("opset,slope_shape,x_shape", [
    (9, (1,), (2, 3, 4)),
    (9, (3, 1, 1), (2, 3, 4, 5)),
    (9, (5,), (2, 3, 4, 5)),
    (16, (4, 5), (2, 3, 4, 5)),
])
def test_prelu(opset, slope_shape, x_shape, rng, tmp_path):
    x, slope = rand(rng, x_shape), rand(rng, slope_shape, lo=0.0, hi=0.5)
    check(make_model("PRelu", {"x": x}, opset, consts={"s": slope}), {"x": x}, tmp_path)


def test_prelu_opset6_slope_is_per_channel(rng, tmp_path):
    # Old exporters wrote a [C] slope for [N, C, ...] inputs and meant one value per channel.
    x, slope = rand(rng, (2, 3, 4, 5)), rand(rng, (3,), lo=0.0, hi=0.5)
    want = np.where(x < 0, x * slope.reshape(1, 3, 1, 1), x)
    check(make_model("PRelu", {"x": x}, 6, consts={"s": slope}), {"x": x}, tmp_path,
          expected=[want])


# ---------------------------------------------------------------------------------------------
# Unary ops

UNARY_FLOAT = [
    ("Abs", {}, None), ("Neg", {}, None), ("Exp", {}, None), ("Log", {}, (0.01, 5.0)),
    ("Sqrt", {}, (0.0, 5.0)), ("Reciprocal", {}, (0.2, 3.0)), ("Floor", {}, None),
    ("Ceil", {}, None), ("Sign", {}, None), ("Erf", {}, None), ("Sin", {}, None),
    ("Cos", {}, None), ("Tan", {}, (-1.4, 1.4)), ("Tanh", {}, None), ("Sigmoid", {}, (-30, 30)),
    ("Relu", {}, None), ("LeakyRelu", {}, None), ("LeakyRelu", {"alpha": 0.3}, None),
    ("Elu", {}, None), ("Elu", {"alpha": 2.0}, None), ("Selu", {}, None),
    ("Selu", {"alpha": 1.5, "gamma": 2.0}, None), ("Celu", {}, None), ("Celu", {"alpha": 0.5}, None),
    ("Softplus", {}, (-30, 30)), ("Softsign", {}, None), ("HardSigmoid", {}, None),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, None), ("HardSwish", {}, (-5, 5)),
    ("Mish", {}, (-10, 10)), ("ThresholdedRelu", {}, None), ("ThresholdedRelu", {"alpha": 0.5}, None),
    ("Asin", {}, (-0.99, 0.99)), ("Acos", {}, (-0.99, 0.99)), ("Atan", {}, None), ("Sinh", {}, None),
    ("Cosh", {}, None), ("Asinh", {}, None), ("Acosh", {}, (1.0, 4.0)), ("Atanh", {}, (-0.9, 0.9)),
]


@pytest.mark.parametrize("op,attrs,rng_range", UNARY_FLOAT,
                         ids=[f"{o}-{a}" if a else o for o, a, _ in UNARY_FLOAT])
def test_unary_float(op, attrs, rng_range, rng, tmp_path):
    lo, hi = rng_range or (-4.0, 4.0)
    x = rand(rng, (2, 3, 17), lo=lo, hi=hi)  # 102 values: vector loops plus a ragged tail
    check(make_model(op, {"x": x}, 18, **attrs), {"x": x}, tmp_path, simd_levels=BOTH_LEVELS)


def test_round_half_to_even(tmp_path):
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4999, 1.6, -3.7], dtype=F32)
    check(make_model("Round", {"x": x}, 11), {"x": x}, tmp_path)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate, rng, tmp_path):
    x = rand(rng, (4, 33), lo=-6, hi=6)
    check(make_model("Gelu", {"x": x}, 20, approximate=approximate), {"x": x}, tmp_path,
          simd_levels=BOTH_LEVELS)


@pytest.mark.parametrize("op", ["Abs", "Neg", "Sign"])
@pytest.mark.parametrize("dtype", [I64, I32])
def test_unary_integer(op, dtype, rng, tmp_path):
    x = rand(rng, (3, 7), dtype)
    check(make_model(op, {"x": x}, 13, (dtype,)), {"x": x}, tmp_path)


def test_isnan_isinf(tmp_path):
    x = np.array([0.0, np.nan, np.inf, -np.inf, 1.0, -2.0], dtype=F32)
    check(make_model("IsNaN", {"x": x}, 13, (BOOL,)), {"x": x}, tmp_path)
    for neg, pos in [(1, 1), (0, 1), (1, 0)]:
        model = make_model("IsInf", {"x": x}, 10, (BOOL,), detect_negative=neg, detect_positive=pos)
        check(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("attrs", [{}, {"min": -0.5}, {"max": 0.25}, {"min": -1.0, "max": 1.0}],
                         ids=str)
def test_clip_attributes_before_opset11(attrs, rng, tmp_path):
    x = rand(rng, (3, 9))
    check(make_model("Clip", {"x": x}, 6, **attrs), {"x": x}, tmp_path)


@pytest.mark.parametrize("bounds", [("lo", "hi"), ("lo", ""), ("", "hi"), ("", ""), ("hi", "lo")],
                         ids=str)
@pytest.mark.parametrize("dtype", [F32, I64, I32])
def test_clip_inputs(bounds, dtype, rng, tmp_path):
    x = rand(rng, (3, 9), dtype)
    values = {"lo": np.array(-1, dtype=dtype), "hi": np.array(2, dtype=dtype)}
    consts = {k: values[k] for k in bounds if k}
    model = make_model("Clip", {"x": x}, 13, (dtype,), inputs=["x", *bounds], consts=consts)
    check(model, {"x": x}, tmp_path)


def test_clip_opset11_runtime_bounds(rng, tmp_path):
    x = rand(rng, (4, 5))
    feeds = {"x": x, "lo": np.array(-0.3, dtype=F32), "hi": np.array(0.7, dtype=F32)}
    check(make_model("Clip", feeds, 11), feeds, tmp_path)


# ---------------------------------------------------------------------------------------------
# Softmax family

SOFTMAX_CASES = [
    (11, None, (3, 5)), (11, 1, (2, 3, 4)), (11, 0, (2, 3, 4)), (11, -1, (2, 3, 4)),
    (11, 2, (2, 3, 4, 5)),
    (13, None, (2, 3, 4)), (13, 1, (2, 3, 4)), (13, 0, (2, 3, 4)), (13, -2, (2, 3, 4, 5)),
    (13, 1, (2, 37, 9)),
]


@pytest.mark.parametrize("opset,axis,shape", SOFTMAX_CASES, ids=str)
def test_softmax_family(opset, axis, shape, rng, tmp_path):
    x = rand(rng, shape, lo=-40, hi=40)  # wide range: exp() would overflow without the max shift
    x[..., :2] = np.round(x[..., :2] / 20)  # a few ties: Hardmax takes the first maximum
    attrs = {} if axis is None else {"axis": axis}
    check(make_model(["Softmax", "LogSoftmax", "Hardmax"], {"x": x}, opset, **attrs), {"x": x},
          tmp_path, simd_levels=BOTH_LEVELS)


# ---------------------------------------------------------------------------------------------
# Reductions

REDUCE_OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
              "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"]
AXES = [None, [0], [1], [-1], [0, 2], [1, 3], [0, 1, 2, 3], [2, 1]]


@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("opset", [11, 18])  # axes attribute / axes input (ReduceSum: from 13)
def test_reduce(axes, keepdims, opset, rng, tmp_path):
    x = rand(rng, (2, 3, 4, 5), lo=0.6, hi=1.4)  # keeps ReduceProd well scaled
    x[0, 1] *= -1
    if opset < 13 or axes is None:
        attrs = {} if axes is None or opset >= 13 else {"axes": axes}
        model = make_model(REDUCE_OPS, {"x": x}, opset, keepdims=keepdims, **attrs)
    else:
        model = make_model(REDUCE_OPS, {"x": x}, opset, consts={"axes": np.array(axes, dtype=I64)},
                           keepdims=keepdims)
    check(model, {"x": x}, tmp_path, rtol=2e-4)


@pytest.mark.parametrize("dtype", [I64, I32])
def test_reduce_integer(dtype, rng, tmp_path):
    x = rng.integers(-3, 4, size=(3, 4, 5)).astype(dtype)
    model = make_model(["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"], {"x": x}, 18,
                       (dtype,), consts={"axes": np.array([1], dtype=I64)})
    check(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("noop", [0, 1])
@pytest.mark.parametrize("axes", ["empty", "omitted"])
def test_reduce_empty_axes(noop, axes, rng, tmp_path):
    x = rand(rng, (3, 4))
    ops = REDUCE_OPS
    if axes == "empty":
        model = make_model(ops, {"x": x}, 18, consts={"axes": np.array([], dtype=I64)},
                           noop_with_empty_axes=noop)
    else:
        model = make_model(ops, {"x": x}, 18, noop_with_empty_axes=noop)
    check(model, {"x": x}, tmp_path)


def test_reduce_runtime_axes_input(rng, tmp_path):
    x = rand(rng, (3, 4, 5))
    feeds = {"x": x, "axes": np.array([0, -1], dtype=I64)}
    check(make_model("ReduceMean", feeds, 18, keepdims=0), feeds, tmp_path)


def test_reduce_large_rows(rng, tmp_path):
    x = rand(rng, (3, 1000))  # the lane-split horizontal sum, with a ragged tail
    check(make_model("ReduceSum", {"x": x}, 11, axes=[1]), {"x": x}, tmp_path, rtol=1e-4,
          atol=1e-4)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("last", [0, 1])
@pytest.mark.parametrize("dtype", [F32, I64])
def test_arg_reduce(axis, keepdims, last, dtype, rng, tmp_path):
    x = rng.integers(-2, 3, size=(3, 4, 5)).astype(dtype)  # many ties
    model = make_model(["ArgMax", "ArgMin"], {"x": x}, 13, (I64,), axis=axis, keepdims=keepdims,
                       select_last_index=last)
    check(model, {"x": x}, tmp_path)


def test_arg_reduce_default_axis_opset11(rng, tmp_path):
    x = rand(rng, (4, 3))
    check(make_model("ArgMax", {"x": x}, 11, (I64,)), {"x": x}, tmp_path)


# ---------------------------------------------------------------------------------------------
# Normalisation

def _bn_params(rng, c):
    return {"scale": rand(rng, (c,), lo=0.5, hi=1.5), "bias": rand(rng, (c,)),
            "mean": rand(rng, (c,)), "var": rand(rng, (c,), lo=0.1, hi=2.0)}


@pytest.mark.parametrize("opset", [7, 9, 14, 15])
@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 7), (2, 3, 4, 5), (1, 4, 2, 3, 2)], ids=str)
def test_batchnorm(opset, shape, rng, tmp_path):
    x = rand(rng, shape)
    model = make_model("BatchNormalization", {"x": x}, opset, consts=_bn_params(rng, shape[1]),
                       epsilon=1e-3)
    check(model, {"x": x}, tmp_path)


def test_batchnorm_spatial0_per_activation(rng, tmp_path):
    x = rand(rng, (2, 3, 4))
    p = {k: rand(rng, (3, 4), lo=0.1 if k == "var" else -1, hi=2) for k in
         ["scale", "bias", "mean", "var"]}
    want = (x - p["mean"]) / np.sqrt(p["var"] + 1e-5) * p["scale"] + p["bias"]
    model = make_model("BatchNormalization", {"x": x}, 7, consts=p, spatial=0)
    check(model, {"x": x}, tmp_path, expected=[want.astype(F32)])


def test_batchnorm_training_mode_is_unsupported(rng, tmp_path):
    x = rand(rng, (2, 3, 4))
    model = make_model("BatchNormalization", {"x": x}, 15, consts=_bn_params(rng, 3),
                       training_mode=1)
    with pytest.raises(tw.UnsupportedOperatorError, match="training"):
        run_tw(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 2, 4)], ids=str)
def test_instance_norm(shape, rng, tmp_path):
    x = rand(rng, shape) + 5.0  # an offset mean: the variance must not cancel
    c = shape[1]
    consts = {"scale": rand(rng, (c,)), "bias": rand(rng, (c,))}
    check(make_model("InstanceNormalization", {"x": x}, 6, consts=consts, epsilon=1e-4),
          {"x": x}, tmp_path)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(2, 6, 3, 4), (1, 3, 5, 5)], ids=str)
def test_lrn(size, shape, rng, tmp_path):
    x = rand(rng, shape)
    model = make_model("LRN", {"x": x}, 13, size=size, alpha=0.001, beta=0.75, bias=2.0)
    expected = None
    if size % 2 == 0:  # onnxruntime only takes odd sizes; the ONNX formula, in numpy
        c = shape[1]
        sq = np.zeros_like(x)
        for ch in range(c):
            lo, hi = max(0, ch - (size - 1) // 2), min(c - 1, ch + size // 2)
            sq[:, ch] = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        expected = [(x / (2.0 + 0.001 / size * sq) ** 0.75).astype(F32)]
    check(model, {"x": x}, tmp_path, expected=expected)


def test_lrn_defaults(rng, tmp_path):
    x = rand(rng, (1, 7, 3, 3))
    check(make_model("LRN", {"x": x}, 9, size=5), {"x": x}, tmp_path)


@pytest.mark.parametrize("axis,shape,pshape", [
    (-1, (2, 3, 8), (8,)),
    (1, (2, 3, 8), (3, 8)),
    (1, (2, 3, 8), (8,)),  # scale broadcasts over the normalised shape
    (0, (4, 6), (4, 6)),
    (-2, (2, 3, 4, 5), (1, 4, 5)),
], ids=str)
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("stats", [False, True])
def test_layer_norm(axis, shape, pshape, with_bias, stats, rng, tmp_path):
    x = rand(rng, shape) + 3.0
    consts = {"scale": rand(rng, pshape)}
    if with_bias:
        consts["bias"] = rand(rng, pshape)
    outs = (F32, F32, F32) if stats else (F32,)
    model = make_model("LayerNormalization", {"x": x}, 17, outs, consts=consts, axis=axis,
                       epsilon=1e-5)
    check(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("opset", [18, 21])
@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm(opset, groups, rng, tmp_path):
    x = rand(rng, (2, 4, 3, 5)) + 2.0
    n = 4 if opset >= 21 else groups
    consts = {"scale": rand(rng, (n,)), "bias": rand(rng, (n,))}
    model = make_model("GroupNormalization", {"x": x}, opset, consts=consts, num_groups=groups,
                       epsilon=1e-5)
    xg = x.reshape(2, groups, -1)
    norm = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5))
    norm = norm.reshape(x.shape)
    per_c = np.repeat(np.arange(groups), 4 // groups) if opset < 21 else np.arange(4)
    want = norm * consts["scale"][per_c].reshape(1, 4, 1, 1) + \
        consts["bias"][per_c].reshape(1, 4, 1, 1)
    check(model, {"x": x}, tmp_path, expected=[want.astype(F32)], rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# Unsupported dtypes and attribute values

BAD_DTYPES = [
    ("Exp", {"x": np.ones((2, 2), I64)}, {}),
    ("Sigmoid", {"x": np.ones((2, 2), I32)}, {}),
    ("Sqrt", {"x": np.ones((2, 2), BOOL)}, {}),
    ("Add", {"a": np.ones((2, 2), BOOL), "b": np.ones((2, 2), BOOL)}, {}),
    ("Add", {"a": np.ones((2, 2), F32), "b": np.ones((2, 2), I64)}, {}),
    ("And", {"a": np.ones((2, 2), F32), "b": np.ones((2, 2), F32)}, {}),
    ("Less", {"a": np.ones((2, 2), BOOL), "b": np.ones((2, 2), BOOL)}, {}),
    ("Not", {"x": np.ones((2, 2), I64)}, {}),
    ("Where", {"c": np.ones((2, 2), F32), "x": np.ones((2, 2), F32), "y": np.ones((2, 2), F32)}, {}),
    ("Where", {"c": np.ones((2, 2), BOOL), "x": np.ones((2, 2), F32), "y": np.ones((2, 2), I64)}, {}),
    ("Softmax", {"x": np.ones((2, 2), I64)}, {}),
    ("ReduceL2", {"x": np.ones((2, 2), I64)}, {}),
    ("ReduceSum", {"x": np.ones((2, 2), BOOL)}, {}),
    ("ArgMax", {"x": np.ones((2, 2), BOOL)}, {}),
    ("Sum", {"a": np.ones((2, 2), I64), "b": np.ones((2, 2), I64)}, {}),
    ("LRN", {"x": np.ones((1, 2, 2, 2), I64)}, {"size": 3}),
    ("InstanceNormalization", {"x": np.ones((1, 2, 2), I64), "s": np.ones(2, I64),
                               "b": np.ones(2, I64)}, {}),
]


@pytest.mark.parametrize("op,feeds,attrs", BAD_DTYPES,
                         ids=[f"{o}-{'-'.join(np.dtype(v.dtype).name for v in f.values())}"
                              for o, f, _ in BAD_DTYPES])
def test_unsupported_dtype_raises(op, feeds, attrs, tmp_path):
    model = make_model(op, feeds, 13, **attrs)
    with pytest.raises(tw.UnsupportedOperatorError) as info:
        run_tw(model, feeds, tmp_path)
    assert info.value.op_type == op


@pytest.mark.parametrize("op,attrs,feeds", [
    ("Gelu", {"approximate": "erf"}, {"x": np.ones(3, F32)}),
    ("LRN", {"size": 0}, {"x": np.ones((1, 2, 2, 2), F32)}),
    ("GroupNormalization", {"num_groups": 0}, None),
])
def test_unsupported_attribute_raises(op, attrs, feeds, tmp_path):
    if op == "GroupNormalization":
        feeds = {"x": np.ones((1, 2, 2), F32), "s": np.ones(1, F32), "b": np.ones(1, F32)}
    model = make_model(op, feeds, 20, **attrs)
    with pytest.raises(tw.UnsupportedOperatorError):
        run_tw(model, feeds, tmp_path)


def test_supported_ops_are_registered():
    ops = set(tw.supported_ops()) if hasattr(tw, "supported_ops") else None
    if ops is None:
        pytest.skip("supported_ops() not exported")
    want = {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "PRelu", "Equal", "Less", "Greater",
            "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Where", "Max", "Min",
            "Sum", "Mean", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil",
            "Round", "Sign", "Erf", "Sin", "Cos", "Tan", "Tanh", "Sigmoid", "Relu", "LeakyRelu",
            "Elu", "Selu", "Celu", "Softplus", "Softsign", "HardSigmoid", "HardSwish", "Gelu",
            "Mish", "ThresholdedRelu", "Clip", "IsNaN", "IsInf", "Softmax", "LogSoftmax",
            "Hardmax", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
            "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin",
            "BatchNormalization", "InstanceNormalization", "LRN", "LayerNormalization",
            "GroupNormalization"}
    assert want <= ops, sorted(want - ops)
