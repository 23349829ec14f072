"""Conv → BatchNormalization is folded into one Conv at import; results do not change."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw

from onnx_reference import assert_close, ort_run

pytestmark = pytest.mark.native


def _conv_bn(with_bias: bool, shared_input_reader: bool = False) -> onnx.ModelProto:
    rng = np.random.default_rng(7)
    c = 6
    inits = [numpy_helper.from_array(rng.standard_normal((c, 3, 3, 3)).astype(np.float32), "conv.weight")]
    conv_inputs = ["x", "conv.weight"]
    if with_bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(c).astype(np.float32), "conv.bias"))
        conv_inputs.append("conv.bias")
    for name, values in [("bn.scale", rng.uniform(0.5, 2, c)), ("bn.bias", rng.standard_normal(c)),
                         ("bn.mean", rng.standard_normal(c)), ("bn.var", rng.uniform(0.2, 3, c))]:
        inits.append(numpy_helper.from_array(values.astype(np.float32), name))
    nodes = [helper.make_node("Conv", conv_inputs, ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "bn.scale", "bn.bias", "bn.mean", "bn.var"],
                              ["b"], name="bn", epsilon=1e-3),
             helper.make_node("Relu", ["b"], ["y"], name="relu")]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if shared_input_reader:  # the conv output is read twice: folding must not happen
        nodes.append(helper.make_node("Sigmoid", ["c"], ["s"], name="side"))
        outputs.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "conv_bn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 10, 12])],
                              outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("shared", [False, True])
def test_conv_bn_folding(tmp_path, with_bias, shared):
    proto = _conv_bn(with_bias, shared)
    path = tmp_path / "m.onnx"
    onnx.save_model(proto, str(path))
    model = tw.load_model(path)
    ops = [n["op_type"] for n in json.loads((model.model_dir / "graph.json").read_text())["nodes"]]
    assert ("BatchNormalization" in ops) == shared
    x = np.random.default_rng(1).standard_normal((2, 3, 10, 12)).astype(np.float32)
    ours = tw.Session(model).run({"x": x})
    ref = ort_run(proto, {"x": x})
    for name in ref:
        assert_close(ours[name], ref[name], rtol=1e-4, atol=1e-5, what=name)
