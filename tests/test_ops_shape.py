"""Data-movement and shape ops against onnxruntime: views (Reshape, Flatten, Squeeze,
Unsqueeze, Identity, Dropout), copies (Transpose, Concat, Split, Slice, Gather*, Pad, Tile,
Expand, DepthToSpace/SpaceToDepth, Resize/Upsample, Trilu, OneHot, NonZero), shape queries
and generators (Shape, Size, ConstantOfShape, Constant, Range) and Cast — across the opsets
where their semantics differ, plus the variants the core rejects."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import tinyai_workbench as tw

try:
    from .onnx_reference import ort_run
    from .shape_pool_helpers import (BOOL, FLOAT, INT32, INT64, check, check_unsupported,
                                     make_model, run_native_nodes, run_tinyai)
except ImportError:
    from onnx_reference import ort_run
    from shape_pool_helpers import (BOOL, FLOAT, INT32, INT64, check, check_unsupported,
                                    make_model, run_native_nodes, run_tinyai)

pytestmark = pytest.mark.native

I64_MAX, I64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAI_CACHE_DIR", str(tmp_path / "cache"))


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _ints(*shape, lo=-50, hi=50, dtype=INT64, seed=1):
    return np.random.default_rng(seed).integers(lo, hi, shape).astype(dtype)


def _node(op, inputs, outputs=("y",), **attrs):
    return helper.make_node(op, list(inputs), list(outputs), name=f"{op.lower()}_{outputs[0]}",
                            **attrs)


def _single(op, x, opset=13, out_dtype=None, consts=None, symbolic=False, extra_inputs=(),
            **attrs):
    """One node reading runtime input `x` (plus constant inputs `consts`, name -> array, in
    order; None for an omitted optional input)."""
    consts = consts or {}
    names = ["x"] + list(extra_inputs) + ["" if v is None else k for k, v in consts.items()]
    while names[-1] == "":
        names.pop()
    inits = {k: v for k, v in consts.items() if v is not None}
    return make_model(_node(op, names, **attrs), {"x": x}, {"y": out_dtype or x.dtype},
                      initializers=inits, opset=opset, symbolic=symbolic)


# --------------------------------------------------------------------------------- views

@pytest.mark.parametrize("opset,shape,allowzero,xshape", [
    (5, [0, -1], None, (2, 3, 4)),
    (13, [-1], None, (2, 3, 4)),
    (13, [4, 0, 2], None, (2, 3, 4)),
    (13, [2, 3, 1, 4], None, (2, 3, 4)),
    (14, [0, 3], 1, (0, 3)),
    (14, [2, 0, -1], 0, (2, 3, 4)),
])
def test_reshape(tmp_path, opset, shape, allowzero, xshape):
    attrs = {} if allowzero is None else {"allowzero": allowzero}
    m = _single("Reshape", _rand(*xshape), opset, consts={"shape": np.array(shape, INT64)}, **attrs)
    check(m, {"x": _rand(*xshape)}, tmp_path)


def test_reshape_attr_before_opset5(tmp_path):
    x = _rand(2, 3, 4)
    m = _single("Reshape", x, opset=4, shape=[4, -1])
    check(m, {"x": x}, tmp_path, expected={"y": x.reshape(4, -1)})


def test_reshape_bad_shape_fails(tmp_path):
    x = _rand(2, 6)
    m = _single("Reshape", x, consts={"shape": np.array([5, -1], INT64)})
    with pytest.raises(tw.ExecutionError, match="Reshape"):
        run_tinyai(m, {"x": x}, tmp_path)


@pytest.mark.parametrize("opset,axis", [(9, 0), (9, 1), (9, 3), (13, -1), (13, -3), (13, 2)])
def test_flatten(tmp_path, opset, axis):
    x = _rand(2, 3, 4, 5)
    check(_single("Flatten", x, opset, axis=axis), {"x": x}, tmp_path)


@pytest.mark.parametrize("opset,axes", [(11, [1]), (11, [-1, 1]), (11, None), (13, [1]),
                                        (13, [-1]), (13, None)])
def test_squeeze(tmp_path, opset, axes):
    x = _rand(2, 1, 3, 1)
    if opset < 13:
        m = _single("Squeeze", x, opset, **({} if axes is None else {"axes": axes}))
    else:
        m = _single("Squeeze", x, opset,
                    consts={"axes": None if axes is None else np.array(axes, INT64)})
    check(m, {"x": x}, tmp_path)


@pytest.mark.parametrize("opset,axes", [(11, [0]), (11, [0, 3]), (11, [-1]), (13, [1, -1]),
                                        (13, [0, 2, 4])])
def test_unsqueeze(tmp_path, opset, axes):
    x = _rand(2, 3)
    if opset < 13:
        m = _single("Unsqueeze", x, opset, axes=axes)
    else:
        m = _single("Unsqueeze", x, opset, consts={"axes": np.array(axes, INT64)})
    check(m, {"x": x}, tmp_path)


@pytest.mark.parametrize("dtype", [FLOAT, INT64, BOOL])
def test_identity(tmp_path, dtype):
    x = _ints(3, 4, lo=0, hi=2).astype(dtype)
    check(_single("Identity", x), {"x": x}, tmp_path)


@pytest.mark.parametrize("opset", [7, 10, 12, 13])
def test_dropout_inference(tmp_path, opset):
    x = _rand(3, 4)
    mask_dtype = BOOL if opset >= 10 else FLOAT
    consts = {"ratio": np.array(0.3, FLOAT)} if opset >= 12 else {}
    node = _node("Dropout", ["x"] + list(consts), ["y", "mask"], **({"ratio": 0.3} if opset < 12 else {}))
    m = make_model(node, {"x": x}, {"y": FLOAT, "mask": mask_dtype}, initializers=consts,
                   opset=opset)
    # In inference every element is kept, so the mask is all ones/true. onnxruntime agrees
    # from opset 12 on; its opset 7-11 Dropout writes an all-false mask instead.
    expected = None if opset >= 12 else {"y": x, "mask": np.ones_like(x, dtype=mask_dtype)}
    check(m, {"x": x}, tmp_path, expected=expected)


def test_dropout_training_mode_is_unsupported(tmp_path):
    x = _rand(3, 4)
    m = make_model(_node("Dropout", ["x", "ratio", "training"]), {"x": x}, {"y": FLOAT},
                   initializers={"ratio": np.array(0.5, FLOAT), "training": np.array(True)},
                   opset=13)
    check_unsupported(m, {"x": x}, tmp_path, "Dropout")


@pytest.mark.parametrize("op,consts,attrs", [
    ("Reshape", {"shape": np.array([4, -1], INT64)}, {}),
    ("Flatten", {}, {"axis": 2}),
    ("Squeeze", {"axes": np.array([1], INT64)}, {}),
    ("Unsqueeze", {"axes": np.array([0], INT64)}, {}),
    ("Identity", {}, {}),
    ("Dropout", {}, {}),
    # Kernels that alias only for some inputs; the memory plan may give them a slot (then
    # the kernel's view is copied into it), so only correctness is checked.
    ("Transpose", {}, {"perm": [1, 0, 2]}),  # moves only the unit axis
    ("Expand", {"shape": np.array([1, 4], INT64)}, {}),  # broadcasts nothing
    ("Tile", {"repeats": np.array([1, 1, 1], INT64)}, {}),
])
def test_views_allocate_nothing(tmp_path, op, consts, attrs):
    x = _rand(3, 1, 4)
    nodes = [_node("Relu", ["x"], ["r"]), _node(op, ["r"] + list(consts), ["v"], **attrs),
             _node("Relu", ["v"], ["y"])]
    m = make_model(nodes, {"x": x}, {"y": FLOAT}, initializers=consts)
    check(m, {"x": x}, tmp_path)
    if op in ("Transpose", "Expand", "Tile"):
        return
    session = tw.Session(tw.load_model(tmp_path / "model.onnx"))
    session.run({"x": x})
    assert session.last_plan()["steps"][1]["output_bytes"] == 0


# ----------------------------------------------------------------------------- transpose

@pytest.mark.parametrize("shape,perm", [
    ((5, 7), None),
    ((37, 70), [1, 0]),
    ((2, 19, 9, 11), [0, 2, 3, 1]),   # NCHW -> NHWC (blocked path)
    ((2, 9, 11, 19), [0, 3, 1, 2]),   # NHWC -> NCHW
    ((2, 3, 4), [1, 0, 2]),
    ((2, 3, 4, 5, 6), [4, 1, 3, 0, 2]),
    ((3, 1, 4), [1, 0, 2]),           # only moves a unit axis: a view
    ((1, 8, 1, 5), [2, 3, 0, 1]),
])
def test_transpose(tmp_path, shape, perm):
    x = _rand(*shape)
    check(_single("Transpose", x, **({} if perm is None else {"perm": perm})), {"x": x}, tmp_path)


@pytest.mark.parametrize("dtype", [INT64, INT32, BOOL])
def test_transpose_dtypes(tmp_path, dtype):
    x = _ints(4, 5, 6, lo=0, hi=2 if dtype == BOOL else 100).astype(dtype)
    check(_single("Transpose", x, perm=[2, 0, 1]), {"x": x}, tmp_path)


# ------------------------------------------------------------------------- concat/split

@pytest.mark.parametrize("axis,shapes", [
    (0, [(2, 3), (4, 3), (1, 3)]),
    (1, [(2, 3, 4), (2, 1, 4), (2, 5, 4)]),
    (-1, [(2, 3, 4), (2, 3, 1)]),
    (1, [(2, 0, 4), (2, 3, 4)]),
])
def test_concat(tmp_path, axis, shapes):
    feeds = {f"x{i}": _rand(*s, seed=i) for i, s in enumerate(shapes)}
    m = make_model(_node("Concat", list(feeds), axis=axis), feeds, {"y": FLOAT})
    check(m, feeds, tmp_path)


def test_concat_opset1_default_axis(tmp_path):
    feeds = {"a": _rand(2, 3), "b": _rand(2, 4, seed=1)}
    m = make_model(_node("Concat", ["a", "b"]), feeds, {"y": FLOAT}, opset=1)
    check(m, feeds, tmp_path, expected={"y": np.concatenate([feeds["a"], feeds["b"]], axis=1)})


def test_concat_int64_with_constant(tmp_path):
    x = _ints(3)
    m = make_model(_node("Concat", ["x", "c"], axis=0), {"x": x}, {"y": INT64},
                   initializers={"c": np.array([7, -1], INT64)})
    check(m, {"x": x}, tmp_path)


@pytest.mark.parametrize("opset,axis,split,n,shape", [
    (11, 1, [2, 4], 2, (3, 6)),
    (11, 0, None, 3, (6, 2)),
    (13, -1, [1, 2, 3], 3, (2, 6)),
    (13, 1, None, 2, (2, 8, 3)),
    (18, 1, None, 3, (2, 7)),   # num_outputs: the last chunk is smaller
    (18, 0, None, 4, (10,)),
])
def test_split(tmp_path, opset, axis, split, n, shape):
    x = _rand(*shape)
    outs = [f"y{i}" for i in range(n)]
    attrs = {"axis": axis}
    inputs, inits = ["x"], {}
    if split is not None:
        if opset < 13:
            attrs["split"] = split
        else:
            inputs.append("split")
            inits["split"] = np.array(split, INT64)
    elif opset >= 18:
        attrs["num_outputs"] = n
    m = make_model(_node("Split", inputs, outs, **attrs), {"x": x}, {o: FLOAT for o in outs},
                   initializers=inits, opset=opset)
    check(m, {"x": x}, tmp_path)


# --------------------------------------------------------------------------------- slice

@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([1], [3], [0], None),
    ([0, 1], [I64_MAX, -1], None, None),
    ([-1], [I64_MIN], [1], [-1]),
    ([5, 0], [0, 10], [2, 1], [-2, 3]),
    ([2], [2], [0], None),               # empty
    ([-100], [100], [-1], [2]),          # clamped
    ([1, 3], [-1, 0], [0, 2], [1, -1]),
])
def test_slice(tmp_path, starts, ends, axes, steps):
    x = _rand(4, 5, 6)
    consts = {"starts": np.array(starts, INT64), "ends": np.array(ends, INT64),
              "axes": None if axes is None else np.array(axes, INT64),
              "steps": None if steps is None else np.array(steps, INT64)}
    if steps is None:
        del consts["steps"]
        if axes is None:
            del consts["axes"]
    check(_single("Slice", x, consts=consts), {"x": x}, tmp_path)


def test_slice_int32_params_and_int_data(tmp_path):
    x = _ints(6, 4)
    consts = {"starts": np.array([1], INT32), "ends": np.array([5], INT32),
              "axes": np.array([0], INT32), "steps": np.array([2], INT32)}
    check(_single("Slice", x, consts=consts), {"x": x}, tmp_path)


@pytest.mark.parametrize("axes", [None, [0, 2]])
def test_slice_attrs_before_opset10(tmp_path, axes):
    x = _rand(4, 5, 6)
    attrs = {"starts": [1, -3], "ends": [3, 1000]}
    if axes is not None:
        attrs["axes"] = axes
    check(_single("Slice", x, opset=9, **attrs), {"x": x}, tmp_path)


# -------------------------------------------------------------------------------- gather

@pytest.mark.parametrize("axis,indices", [
    (0, np.array([0, 3, -1, 2], INT64)),
    (1, np.array([[0, -2], [4, 1]], INT64)),
    (-1, np.array(2, INT64)),
    (2, np.array([5, 0, 1], INT32)),
])
def test_gather(tmp_path, axis, indices):
    x = _rand(4, 5, 6)
    check(_single("Gather", x, consts={"i": indices}, axis=axis), {"x": x}, tmp_path)


@pytest.mark.parametrize("dtype", [INT64, INT32, BOOL])
def test_gather_family_on_integer_and_bool_data(tmp_path, dtype):
    x = _ints(4, 5, lo=0, hi=2 if dtype == BOOL else 100).astype(dtype)
    idx = np.array([[3, 0], [-1, 2]], INT64)
    check(_single("Gather", x, consts={"i": idx}, axis=1), {"x": x}, tmp_path)
    check(_single("GatherElements", x, consts={"i": idx}, axis=0), {"x": x}, tmp_path)
    check(_single("GatherND", x, consts={"i": idx}), {"x": x}, tmp_path)


def test_gather_runtime_indices_out_of_range_fails(tmp_path):
    x, i = _rand(4, 3), np.array([0, 4], INT64)
    m = make_model(_node("Gather", ["x", "i"]), {"x": x, "i": i}, {"y": FLOAT})
    with pytest.raises(tw.ExecutionError, match="out of range"):
        run_tinyai(m, {"x": x, "i": i}, tmp_path)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements(tmp_path, axis):
    x = _rand(3, 4, 5)
    dim = x.shape[axis]
    idx = _ints(3, 2, 5, lo=-dim, hi=dim) if axis == 1 else _ints(2, 4, 3, lo=-dim, hi=dim)
    check(_single("GatherElements", x, consts={"i": idx}, axis=axis), {"x": x}, tmp_path)


@pytest.mark.parametrize("batch_dims,xshape,indices", [
    (0, (2, 3, 4), np.array([[0, 1], [1, -1]], INT64)),
    (0, (2, 3, 4), np.array([[[1, 2, 3]], [[0, 0, 0]]], INT64)),
    (1, (2, 3, 4), np.array([[1], [2]], INT64)),
    (1, (2, 3, 4), np.array([[[0, 1], [2, 3]], [[1, 0], [0, 3]]], INT64)),
])
def test_gather_nd(tmp_path, batch_dims, xshape, indices):
    x = _rand(*xshape)
    check(_single("GatherND", x, consts={"i": indices}, batch_dims=batch_dims), {"x": x}, tmp_path)


# ----------------------------------------------------------------------------------- pad

@pytest.mark.parametrize("mode,pads", [
    ("constant", [0, 1, 2, 0, 2, 1]),
    ("reflect", [1, 2, 0, 1, 1, 2]),
    ("edge", [2, 0, 3, 0, 1, 1]),
    ("constant", [0, -1, 1, 0, 1, -2]),   # negative pads crop
    ("edge", [0, -1, 2, 0, 0, -1]),
    ("reflect", [0, 0, -1, 0, 0, 2]),
])
def test_pad_opset11(tmp_path, mode, pads):
    x = _rand(3, 4, 5)
    consts = {"pads": np.array(pads, INT64)}
    if mode == "constant":
        consts["value"] = np.array(1.5, FLOAT)
    check(_single("Pad", x, opset=11, consts=consts, mode=mode), {"x": x}, tmp_path)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_attrs_before_opset11(tmp_path, mode):
    x = _rand(1, 2, 4, 5)
    m = _single("Pad", x, opset=10, mode=mode, pads=[0, 0, 1, 2, 0, 0, 2, 1], value=-3.0)
    check(m, {"x": x}, tmp_path)


def test_pad_axes_and_wrap(tmp_path):
    x = _rand(2, 3, 4)
    consts = {"pads": np.array([2, 1, 3, 0], INT64), "value": None, "axes": np.array([-1, 1], INT64)}
    check(_single("Pad", x, opset=19, consts=consts, mode="wrap"), {"x": x}, tmp_path)
    consts["value"] = np.array(2.0, FLOAT)
    check(_single("Pad", x, opset=18, consts=consts, mode="constant"), {"x": x}, tmp_path)


@pytest.mark.parametrize("mode", ["reflect", "edge", "wrap"])
def test_pad_beyond_the_data_matches_numpy(tmp_path, mode):
    # Pads wider than the axis (and reflecting a single element), which onnxruntime rejects:
    # numpy.pad's result is the reference.
    x = _rand(1, 4)
    pads = [2, 6, 3, 9]
    m = _single("Pad", x, opset=19, consts={"pads": np.array(pads, INT64)}, mode=mode)
    want = np.pad(x, ((2, 3), (6, 9)), mode={"edge": "edge", "reflect": "reflect", "wrap": "wrap"}[mode])
    check(m, {"x": x}, tmp_path, expected={"y": want})


def test_pad_int64_constant(tmp_path):
    x = _ints(3, 4)
    consts = {"pads": np.array([1, 0, 0, 2], INT64), "value": np.array(-7, INT64)}
    check(_single("Pad", x, opset=13, consts=consts), {"x": x}, tmp_path)


def test_pad_unknown_mode_is_unsupported(tmp_path):
    x = _rand(2, 3)
    m = _single("Pad", x, opset=13, consts={"pads": np.array([1, 1, 1, 1], INT64)}, mode="mirror")
    check_unsupported(m, {"x": x}, tmp_path, "Pad")


# --------------------------------------------------------------------------- tile/expand

@pytest.mark.parametrize("shape,reps", [((2, 3), [2, 3]), ((2, 1, 3), [1, 4, 1]), ((4,), [3])])
def test_tile(tmp_path, shape, reps):
    x = _rand(*shape)
    check(_single("Tile", x, consts={"r": np.array(reps, INT64)}), {"x": x}, tmp_path)


@pytest.mark.parametrize("xshape,shape", [
    ((3, 1), [2, 3, 4]), ((1, 4), [3, 1]), ((2, 3), [2, 3]), ((1,), [2, 2, 2]), ((3, 1, 2), [1, 5, 1]),
])
def test_expand(tmp_path, xshape, shape):
    x = _rand(*xshape)
    check(_single("Expand", x, consts={"s": np.array(shape, INT64)}), {"x": x}, tmp_path)


def test_expand_bool(tmp_path):
    x = np.array([[True], [False]])
    check(_single("Expand", x, consts={"s": np.array([2, 3], INT64)}), {"x": x}, tmp_path)


# ----------------------------------------------------------------- shape/size/generators

@pytest.mark.parametrize("opset,start,end", [(13, None, None), (15, 1, None), (15, -2, -1),
                                             (15, 0, 10), (15, 3, 1)])
def test_shape(tmp_path, opset, start, end):
    x = _rand(2, 3, 4)
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    check(_single("Shape", x, opset, out_dtype=INT64, symbolic=True, **attrs), {"x": x}, tmp_path)


def test_size(tmp_path):
    x = _rand(2, 3, 4)
    check(_single("Size", x, out_dtype=INT64, symbolic=True), {"x": x}, tmp_path)


@pytest.mark.parametrize("value", [None, np.array([2.5], FLOAT), np.array([7], INT64),
                                   np.array([3], INT32), np.array([True])])
def test_constant_of_shape(tmp_path, value):
    s = np.array([2, 3], INT64)
    attrs = {} if value is None else {"value": numpy_helper.from_array(value)}
    dtype = FLOAT if value is None else value.dtype
    m = make_model(_node("ConstantOfShape", ["s"], **attrs), {"s": s}, {"y": dtype})
    check(m, {"s": s}, tmp_path)


@pytest.mark.parametrize("attr,value,want", [
    ("value", {"type": "tensor", "dtype": 7, "shape": [2, 2],
               "data_b64": "AQAAAAAAAAACAAAAAAAAAAMAAAAAAAAABAAAAAAAAAA="},
     np.array([[1, 2], [3, 4]], INT64)),
    ("value_float", {"type": "float", "value": 1.5}, np.array(1.5, FLOAT)),
    ("value_floats", {"type": "floats", "value": [1.0, -2.0]}, np.array([1, -2], FLOAT)),
    ("value_int", {"type": "int", "value": 9}, np.array(9, INT64)),
    ("value_ints", {"type": "ints", "value": [4, 5, 6]}, np.array([4, 5, 6], INT64)),
])
def test_constant_node(tmp_path, attr, value, want):
    # The importer folds Constant nodes; the kernel still serves hand-built graphs.
    node = {"name": "c", "op_type": "Constant", "inputs": [], "outputs": ["y"],
            "attrs": {attr: value}}
    got = run_native_nodes(tmp_path, [node], {"y": 1 if want.dtype == FLOAT else 7})["y"]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_constant_string_is_unsupported(tmp_path):
    node = {"name": "c", "op_type": "Constant", "inputs": [], "outputs": ["y"],
            "attrs": {"value_string": {"type": "string", "value": "hi"}}}
    with pytest.raises(tw.UnsupportedOperatorError, match="Constant"):
        run_native_nodes(tmp_path, [node], {"y": 1})


@pytest.mark.parametrize("dtype,start,limit,delta", [
    (FLOAT, 0.5, 4.0, 0.75), (FLOAT, 5.0, -1.0, -1.5), (INT64, -3, 10, 4), (INT32, 10, 2, -3),
    (INT64, 3, 3, 1),
])
def test_range(tmp_path, dtype, start, limit, delta):
    # Scalars are produced in-graph by Squeeze: runtime inputs keep Range from being folded
    # at import, and the Python facade currently feeds 0-d arrays as shape [1].
    feeds = {k: np.array([v], dtype) for k, v in (("s", start), ("l", limit), ("d", delta))}
    nodes = [_node("Squeeze", [k, "axes"], [k + "0"]) for k in feeds]
    nodes.append(_node("Range", ["s0", "l0", "d0"]))
    m = make_model(nodes, feeds, {"y": dtype}, initializers={"axes": np.array([0], INT64)})
    check(m, feeds, tmp_path)


# ---------------------------------------------------------------------------------- cast

DTYPES = {TensorProto.FLOAT: FLOAT, TensorProto.INT32: INT32, TensorProto.INT64: INT64,
          TensorProto.BOOL: BOOL}


@pytest.mark.parametrize("src", [FLOAT, INT32, INT64, BOOL])
@pytest.mark.parametrize("to", list(DTYPES))
def test_cast(tmp_path, src, to):
    if src == FLOAT:
        x = np.array([-2.7, -0.5, 0.0, 0.4, 1.0, 3.9, 1e6, -7e5], FLOAT)
    elif src == BOOL:
        x = np.array([True, False, True])
    else:
        x = np.array([-5, 0, 1, 7, 123456], src)
    check(_single("Cast", x, out_dtype=DTYPES[to], to=to), {"x": x}, tmp_path)


def test_cast_opset1_names_the_type(tmp_path):
    x = np.array([1.9, -2.5, 0.0], FLOAT)
    m = _single("Cast", x, opset=1, out_dtype=INT64, to="INT64")
    check(m, {"x": x}, tmp_path, expected={"y": x.astype(INT64)})
    check_unsupported(_single("Cast", x, opset=1, out_dtype=np.float64, to="DOUBLE"), {"x": x},
                      tmp_path, "Cast")


def test_cast_like(tmp_path):
    x = np.array([1.9, -0.2, 0.0], FLOAT)
    m = make_model(_node("CastLike", ["x", "t"]), {"x": x}, {"y": INT32},
                   initializers={"t": np.array([1], INT32)}, opset=15)
    check(m, {"x": x}, tmp_path)


@pytest.mark.parametrize("to", [TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.UINT8])
def test_cast_to_unsupported_dtype(tmp_path, to):
    x = _rand(3)
    m = _single("Cast", x, out_dtype=helper.tensor_dtype_to_np_dtype(to), to=to)
    check_unsupported(m, {"x": x}, tmp_path, "Cast")


# ------------------------------------------------------------------- trilu/onehot/nonzero

@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, -1, 0, 2, 9])
def test_trilu(tmp_path, upper, k):
    x = _rand(2, 4, 5)
    consts = {} if k is None else {"k": np.array(k, INT64)}
    check(_single("Trilu", x, opset=14, consts=consts, upper=upper), {"x": x}, tmp_path)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(tmp_path, axis):
    idx = np.array([[0, 2, -1], [5, 1, -4]], INT64)  # 5 and -4 are out of range: all off
    m = make_model(_node("OneHot", ["i", "depth", "values"], axis=axis), {"i": idx}, {"y": FLOAT},
                   initializers={"depth": np.array(4, INT64),
                                 "values": np.array([-1.0, 2.0], FLOAT)}, opset=11)
    check(m, {"i": idx}, tmp_path)


@pytest.mark.parametrize("x", [
    np.array([[0, 1.5, 0], [2, 0, -1]], FLOAT),
    np.array([[[True, False], [False, True]]]),
    np.array([0, 0, 3, 0, 5], INT64),
    np.zeros((2, 3), FLOAT),
])
def test_nonzero(tmp_path, x):
    check(_single("NonZero", x, out_dtype=INT64), {"x": x}, tmp_path)


# ------------------------------------------------------------------ depth/space, resize

@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(tmp_path, mode):
    x = _rand(2, 8, 3, 5)
    check(_single("DepthToSpace", x, blocksize=2, mode=mode), {"x": x}, tmp_path)


def test_space_to_depth(tmp_path):
    x = _rand(2, 3, 6, 9)
    check(_single("SpaceToDepth", x, blocksize=3), {"x": x}, tmp_path)


RESIZE_X = _rand(2, 3, 5, 7, seed=5)


@pytest.mark.parametrize("ct", ["half_pixel", "asymmetric", "align_corners",
                                "pytorch_half_pixel", "tf_half_pixel_for_nn"])
@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize("scales", [[1, 1, 2.0, 1.5], [1, 1, 0.6, 0.5]])
def test_resize_nearest_scales(tmp_path, ct, nearest_mode, scales):
    consts = {"roi": np.array([], FLOAT), "scales": np.array(scales, FLOAT)}
    m = _single("Resize", RESIZE_X, consts=consts, mode="nearest",
                coordinate_transformation_mode=ct, nearest_mode=nearest_mode)
    check(m, {"x": RESIZE_X}, tmp_path)


@pytest.mark.parametrize("ct", ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"])
@pytest.mark.parametrize("sizes", [[2, 3, 11, 14], [2, 3, 3, 4], [2, 3, 1, 9]])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_sizes(tmp_path, ct, sizes, mode):
    consts = {"roi": None, "scales": None, "sizes": np.array(sizes, INT64)}
    m = _single("Resize", RESIZE_X, consts=consts, mode=mode, coordinate_transformation_mode=ct)
    check(m, {"x": RESIZE_X}, tmp_path)


@pytest.mark.parametrize("ct", ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"])
@pytest.mark.parametrize("scales", [[1, 1, 2.0, 2.0], [1, 1, 0.5, 0.75], [1, 1, 1.7, 1.0],
                                    [1, 1, 1.0, 3.0]])
def test_resize_linear_scales(tmp_path, ct, scales):
    consts = {"roi": np.array([], FLOAT), "scales": np.array(scales, FLOAT)}
    m = _single("Resize", RESIZE_X, opset=11, consts=consts, mode="linear",
                coordinate_transformation_mode=ct)
    check(m, {"x": RESIZE_X}, tmp_path)


def test_resize_linear_2d_and_5d(tmp_path):
    x2 = _rand(4, 6)
    m = _single("Resize", x2, consts={"roi": None, "scales": np.array([1.5, 0.5], FLOAT)},
                mode="linear")
    check(m, {"x": x2}, tmp_path)
    x5 = _rand(1, 2, 3, 4, 5)
    m = _single("Resize", x5, consts={"roi": None, "scales": np.array([1, 1, 2, 1.5, 0.8], FLOAT)},
                mode="linear", coordinate_transformation_mode="align_corners")
    check(m, {"x": x5}, tmp_path)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("scales", [[1, 1, 2.0, 3.0], [1, 1, 0.5, 0.6]])
def test_resize_opset10(tmp_path, mode, scales):
    m = _single("Resize", RESIZE_X, opset=10, consts={"scales": np.array(scales, FLOAT)}, mode=mode)
    check(m, {"x": RESIZE_X}, tmp_path)


@pytest.mark.parametrize("opset", [7, 9])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample(tmp_path, opset, mode):
    scales = [1.0, 1.0, 2.0, 3.0]
    if opset < 9:
        m = _single("Upsample", RESIZE_X, opset=opset, mode=mode, scales=scales)
    else:
        m = _single("Upsample", RESIZE_X, opset=opset, mode=mode,
                    consts={"scales": np.array(scales, FLOAT)})
    check(m, {"x": RESIZE_X}, tmp_path)


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_opset18_axes_and_aspect_policy(tmp_path, policy, mode):
    consts = {"roi": None, "scales": None, "sizes": np.array([9, 10], INT64)}
    m = _single("Resize", RESIZE_X, opset=18, consts=consts, mode=mode, axes=[2, 3],
                keep_aspect_ratio_policy=policy)
    check(m, {"x": RESIZE_X}, tmp_path)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_half_pixel_symmetric(tmp_path, mode):
    # onnxruntime 1.32 maps the first downsampled nearest column differently from the spec;
    # the onnx reference implementation follows the spec formula.
    consts = {"roi": None, "scales": np.array([1, 1, 1.7, 0.6], FLOAT)}
    m = _single("Resize", RESIZE_X, opset=19, consts=consts, mode=mode,
                coordinate_transformation_mode="half_pixel_symmetric")
    expected = {"y": ReferenceEvaluator(m).run(None, {"x": RESIZE_X})[0]}
    check(m, {"x": RESIZE_X}, tmp_path, expected=expected)


def test_resize_nearest_int64(tmp_path):
    # onnxruntime has no int64 Resize: the reference is the float result, cast back.
    x = _ints(1, 1, 3, 4)
    consts = {"roi": None, "scales": np.array([1, 1, 2, 1.5], FLOAT)}
    xf = x.astype(FLOAT)
    want = ort_run(_single("Resize", xf, consts=consts, mode="nearest"), {"x": xf})["y"]
    m = _single("Resize", x, consts=consts, mode="nearest")
    check(m, {"x": x}, tmp_path, expected={"y": want.astype(INT64)})


@pytest.mark.parametrize("attrs", [
    {"mode": "cubic"},
    {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"},
    {"mode": "linear", "antialias": 1},
])
def test_resize_unsupported_variants(tmp_path, attrs):
    consts = {"roi": None, "scales": np.array([1, 1, 0.5, 0.5], FLOAT)}
    m = _single("Resize", RESIZE_X, opset=18, consts=consts, **attrs)
    check_unsupported(m, {"x": RESIZE_X}, tmp_path, "Resize")


def test_old_tile_and_upsample_forms_are_unsupported(tmp_path):
    x = _rand(2, 3)
    m = make_model(_node("Tile", ["x", "tiles", "axis"]), {"x": x}, {"y": FLOAT}, opset=5,
                   initializers={"tiles": np.array(2, INT64), "axis": np.array(1, INT64)})
    check_unsupported(m, {"x": x}, tmp_path, "Tile")
    x4 = _rand(1, 1, 2, 2)
    m = _single("Upsample", x4, opset=6, height_scale=2.0, width_scale=2.0)
    check_unsupported(m, {"x": x4}, tmp_path, "Upsample")


def test_depth_to_space_unknown_mode_is_unsupported(tmp_path):
    x = _rand(1, 4, 2, 2)
    check_unsupported(_single("DepthToSpace", x, blocksize=2, mode="XYZ"), {"x": x}, tmp_path,
                      "DepthToSpace")


# ------------------------------------------------------------------- small multi-node graph

def test_shape_subgraph_pixel_shuffle(tmp_path):
    """Shape -> Gather -> Concat -> Reshape -> Transpose -> Reshape, as exporters emit for
    PixelShuffle with dynamic sizes."""
    x = _rand(2, 8, 3, 4)
    nodes = [
        _node("Shape", ["x"], ["s"]),
        _node("Gather", ["s", "i0"], ["n"], axis=0),
        _node("Concat", ["n", "mid"], ["s6"], axis=0),
        _node("Reshape", ["x", "s6"], ["r"]),
        _node("Transpose", ["r"], ["t"], perm=[0, 1, 4, 2, 5, 3]),
        _node("Reshape", ["t", "out_shape"], ["y"]),
    ]
    m = make_model(nodes, {"x": x}, {"y": FLOAT}, symbolic=True, initializers={
        "i0": np.array([0], INT64), "mid": np.array([2, 2, 2, 3, 4], INT64),
        "out_shape": np.array([2, 2, 6, 8], INT64)})
    check(m, {"x": x}, tmp_path)
