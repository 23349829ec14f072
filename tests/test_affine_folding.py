"""Per-channel constant Mul/Add after a Conv or BatchNormalization fold into it at import, and a
Relu after a BatchNormalization fuses into it; results do not change (checked against
onnxruntime), and anything that is not per-channel or not private stays as it was."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw

from onnx_reference import assert_close, ort_run

pytestmark = pytest.mark.native

C = 6
X_SHAPE = [2, 3, 9, 11]


def _model(nodes, inits, outputs=("y",)):
    graph = helper.make_graph(
        nodes, "affine", [helper.make_tensor_value_info("x", TensorProto.FLOAT, X_SHAPE)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    m.ir_version = 8
    return m


def _const(name, values):
    return numpy_helper.from_array(np.asarray(values, dtype=np.float32), name)


def _conv_inits(rng, with_bias=True, in_channels=3):
    inits = [_const("w", rng.standard_normal((C, in_channels, 3, 3)))]
    if with_bias:
        inits.append(_const("b", rng.standard_normal(C)))
    return inits


def _run_and_compare(tmp_path, proto):
    path = tmp_path / "m.onnx"
    onnx.save_model(proto, str(path))
    model = tw.load_model(path)
    ops = [n["op_type"] for n in json.loads((model.model_dir / "graph.json").read_text())["nodes"]]
    x = np.random.default_rng(1).standard_normal(X_SHAPE).astype(np.float32)
    ours = tw.Session(model).run({"x": x})
    ref = ort_run(proto, {"x": x})
    for name in ref:
        assert_close(ours[name], ref[name], rtol=1e-4, atol=1e-5, what=name)
    return ops


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("scale_shape", [(C, 1, 1), (1, C, 1, 1), (1,), ()])
@pytest.mark.parametrize("const_first", [False, True])
def test_conv_scale_shift_relu_becomes_one_conv(tmp_path, with_bias, scale_shape, const_first):
    rng = np.random.default_rng(3)
    inits = _conv_inits(rng, with_bias)
    inits += [_const("m", rng.uniform(0.5, 2, scale_shape)), _const("a", rng.standard_normal((C, 1, 1)))]
    mul_inputs = ["m", "c"] if const_first else ["c", "m"]
    nodes = [helper.make_node("Conv", ["x", "w"] + (["b"] if with_bias else []), ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", mul_inputs, ["s"]),
             helper.make_node("Add", ["s", "a"], ["t"]),
             helper.make_node("Relu", ["t"], ["y"])]
    assert _run_and_compare(tmp_path, _model(nodes, inits)) == ["Conv"]


def test_batchnorm_scale_shift_relu_becomes_one_batchnorm(tmp_path):
    rng = np.random.default_rng(4)
    inits = [_const("bn.scale", rng.uniform(0.5, 2, 3)), _const("bn.bias", rng.standard_normal(3)),
             _const("bn.mean", rng.standard_normal(3)), _const("bn.var", rng.uniform(0.2, 3, 3)),
             _const("m", rng.uniform(-2, 2, (3, 1, 1))), _const("a", rng.standard_normal((1, 3, 1, 1)))]
    nodes = [helper.make_node("BatchNormalization", ["x", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                              ["n"], epsilon=1e-3),
             helper.make_node("Mul", ["n", "m"], ["s"]),
             helper.make_node("Add", ["a", "s"], ["t"]),
             helper.make_node("Relu", ["t"], ["y"])]
    assert _run_and_compare(tmp_path, _model(nodes, inits)) == ["BatchNormalization"]


def test_conv_batchnorm_scale_shift_all_fold(tmp_path):
    """DenseNet's Conv -> BN -> Mul -> Add -> Relu (a Caffe Scale after each BN)."""
    rng = np.random.default_rng(5)
    inits = _conv_inits(rng, with_bias=False)
    inits += [_const("bn.scale", rng.uniform(0.5, 2, C)), _const("bn.bias", rng.standard_normal(C)),
              _const("bn.mean", rng.standard_normal(C)), _const("bn.var", rng.uniform(0.2, 3, C)),
              _const("m", rng.uniform(0.5, 2, (C, 1, 1))), _const("a", rng.standard_normal((C, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["n"]),
             helper.make_node("Mul", ["n", "m"], ["s"]),
             helper.make_node("Add", ["s", "a"], ["t"]),
             helper.make_node("Relu", ["t"], ["y"])]
    assert _run_and_compare(tmp_path, _model(nodes, inits)) == ["Conv"]


def test_per_position_constant_is_not_folded(tmp_path):
    rng = np.random.default_rng(6)
    inits = _conv_inits(rng) + [_const("m", rng.standard_normal((C, 9, 11)))]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["c", "m"], ["y"])]
    assert _run_and_compare(tmp_path, _model(nodes, inits)) == ["Conv", "Mul"]


def test_conv_output_read_twice_is_not_folded(tmp_path):
    rng = np.random.default_rng(7)
    inits = _conv_inits(rng) + [_const("a", rng.standard_normal((C, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "a"], ["y"]),
             helper.make_node("Sigmoid", ["c"], ["z"])]
    ops = _run_and_compare(tmp_path, _model(nodes, inits, outputs=("y", "z")))
    assert sorted(ops) == ["Add", "Conv", "Sigmoid"]


def test_shared_weight_is_not_rescaled(tmp_path):
    """Two Convs read the same weight: scaling it for one would change the other."""
    rng = np.random.default_rng(8)
    inits = _conv_inits(rng) + [_const("m", rng.uniform(0.5, 2, (C, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["c", "m"], ["y"]),
             helper.make_node("Conv", ["x", "w", "b"], ["z"], pads=[1, 1, 1, 1])]
    ops = _run_and_compare(tmp_path, _model(nodes, inits, outputs=("y", "z")))
    assert sorted(ops) == ["Conv", "Conv", "Mul"]


def test_batchnorm_relu_fuses_and_a_file_batchnorm_activation_is_rejected(tmp_path):
    rng = np.random.default_rng(9)
    inits = [_const("s", rng.uniform(0.5, 2, 3)), _const("b", rng.standard_normal(3)),
             _const("mu", rng.standard_normal(3)), _const("v", rng.uniform(0.2, 3, 3))]
    nodes = [helper.make_node("BatchNormalization", ["x", "s", "b", "mu", "v"], ["n"]),
             helper.make_node("Relu", ["n"], ["y"])]
    assert _run_and_compare(tmp_path, _model(nodes, inits)) == ["BatchNormalization"]

    bad = _model([helper.make_node("BatchNormalization", ["x", "s", "b", "mu", "v"], ["y"],
                                   activation="Relu")], inits)
    path = tmp_path / "bad.onnx"
    onnx.save_model(bad, str(path))
    with pytest.raises(tw.ModelError, match="activation"):
        tw.load_model(path)
