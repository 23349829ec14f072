"""Pooling ops against onnxruntime: MaxPool (with Indices and storage_order), AveragePool,
LpPool and the Global variants over 1-D to 3-D inputs, covering pads, strides, dilations,
auto_pad, ceil_mode and count_include_pad across opsets, plus rejected variants."""
import numpy as np
import pytest
from onnx import helper

try:
    from .shape_pool_helpers import FLOAT, INT64, check, check_unsupported, make_model
except ImportError:
    from shape_pool_helpers import FLOAT, INT64, check, check_unsupported, make_model

pytestmark = pytest.mark.native


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAI_CACHE_DIR", str(tmp_path / "cache"))


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _pool(op, x, opset, outputs=("y",), **attrs):
    node = helper.make_node(op, ["x"], list(outputs), name=f"the_{op.lower()}", **attrs)
    dtypes = {o: (INT64 if o == "indices" else FLOAT) for o in outputs}
    return make_model(node, {"x": x}, dtypes, opset=opset)


# (spatial shape, attributes) shared by the windowed pools.
WINDOWS = [
    ((11,), dict(kernel_shape=[3], strides=[2])),
    ((12,), dict(kernel_shape=[4], pads=[1, 2])),
    ((9, 10), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((9, 10), dict(kernel_shape=[2, 3], strides=[1, 2], pads=[0, 1, 1, 0])),
    ((9, 10), dict(kernel_shape=[3, 2], strides=[2, 3], ceil_mode=1)),
    ((5, 5), dict(kernel_shape=[2, 2], strides=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1)),
    ((8, 7), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    ((8, 7), dict(kernel_shape=[4, 2], strides=[3, 2], auto_pad="SAME_LOWER")),
    ((8, 7), dict(kernel_shape=[3, 2], strides=[2, 1], auto_pad="VALID")),
    ((5, 6, 7), dict(kernel_shape=[2, 3, 2], strides=[2, 1, 2], pads=[1, 0, 1, 0, 1, 1])),
    ((4, 5, 6), dict(kernel_shape=[3, 3, 3], ceil_mode=1, strides=[2, 2, 2])),
    # long rows: interior outputs go through the row-at-a-time pass
    ((20, 33), dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    ((14, 31), dict(kernel_shape=[2, 5], strides=[1, 2], pads=[0, 2, 1, 2])),
    ((3, 6, 40), dict(kernel_shape=[2, 3, 4], strides=[1, 2, 3], pads=[1, 0, 0, 0, 1, 3])),
]
WINDOW_IDS = [f"{len(s)}d-" + "-".join(f"{k}{v}" for k, v in a.items()).replace(" ", "")
              for s, a in WINDOWS]


@pytest.mark.parametrize("spatial,attrs", WINDOWS, ids=WINDOW_IDS)
def test_max_pool(tmp_path, spatial, attrs):
    x = _rand(2, 3, *spatial)
    check(_pool("MaxPool", x, 12, **attrs), {"x": x}, tmp_path)


@pytest.mark.parametrize("spatial,attrs", WINDOWS, ids=WINDOW_IDS)
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool(tmp_path, spatial, attrs, count_include_pad):
    x = _rand(2, 3, *spatial)
    m = _pool("AveragePool", x, 11, count_include_pad=count_include_pad, **attrs)
    check(m, {"x": x}, tmp_path)


@pytest.mark.parametrize("spatial,attrs", WINDOWS[:4] + WINDOWS[6:], ids=WINDOW_IDS[:4] + WINDOW_IDS[6:])
@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pool(tmp_path, spatial, attrs, p):
    x = _rand(2, 3, *spatial)
    attrs = {k: v for k, v in attrs.items() if k != "ceil_mode"}
    check(_pool("LpPool", x, 11, p=p, **attrs), {"x": x}, tmp_path)


@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[3, 3], dilations=[2, 2]),
    dict(kernel_shape=[2, 3], dilations=[2, 1], strides=[2, 2], pads=[1, 2, 1, 0]),
    dict(kernel_shape=[3, 2], dilations=[1, 3], ceil_mode=1, strides=[2, 2]),
])
@pytest.mark.parametrize("op,opset", [("MaxPool", 12), ("AveragePool", 19), ("LpPool", 18)])
def test_dilated_pools(tmp_path, attrs, op, opset):
    x = _rand(1, 2, 11, 12)
    check(_pool(op, x, opset, **attrs), {"x": x}, tmp_path)


@pytest.mark.parametrize("opset", [8, 10])
@pytest.mark.parametrize("storage_order", [0, 1])
@pytest.mark.parametrize("spatial,attrs", [
    ((9, 10), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((7, 8), dict(kernel_shape=[2, 3], strides=[2, 1])),
    ((4, 5, 6), dict(kernel_shape=[2, 2, 3], strides=[1, 2, 2])),
    ((13,), dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
])
def test_max_pool_indices(tmp_path, opset, storage_order, spatial, attrs):
    x = _rand(2, 3, *spatial)
    m = _pool("MaxPool", x, opset, outputs=("y", "indices"), storage_order=storage_order, **attrs)
    check(m, {"x": x}, tmp_path)


@pytest.mark.parametrize("op,opset", [("MaxPool", 7), ("AveragePool", 7), ("MaxPool", 22),
                                      ("AveragePool", 22)])
def test_pool_opsets(tmp_path, op, opset):
    x = _rand(1, 2, 8, 9)
    check(_pool(op, x, opset, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 2]),
          {"x": x}, tmp_path)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
@pytest.mark.parametrize("spatial", [(7,), (5, 6), (3, 4, 5), (1, 1)])
def test_global_pools(tmp_path, op, spatial):
    x = _rand(2, 3, *spatial)
    attrs = {"p": 3} if op == "GlobalLpPool" else {}
    check(_pool(op, x, 13, **attrs), {"x": x}, tmp_path)


def test_global_lp_pool_default_p(tmp_path):
    x = _rand(2, 3, 4, 4)
    check(_pool("GlobalLpPool", x, 13), {"x": x}, tmp_path)


def test_four_spatial_dims_is_unsupported(tmp_path):
    x = _rand(1, 1, 3, 3, 3, 3)
    m = _pool("MaxPool", x, 12, kernel_shape=[2, 2, 2, 2])
    check_unsupported(m, {"x": x}, tmp_path, "MaxPool")


def test_unknown_auto_pad_is_unsupported(tmp_path):
    x = _rand(1, 1, 4, 4)
    m = _pool("AveragePool", x, 11, kernel_shape=[2, 2], auto_pad="SAME_MIDDLE")
    check_unsupported(m, {"x": x}, tmp_path, "AveragePool")
