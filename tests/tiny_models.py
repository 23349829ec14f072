"""Small ONNX models built in code for API, error and lifecycle tests."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_cnn(batch="N", seed: int = 0) -> onnx.ModelProto:
    """Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm, random weights, symbolic batch."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "conv.weight"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "conv.bias"),
        numpy_helper.from_array(rng.standard_normal((10, 8)).astype(np.float32), "fc.weight"),
        numpy_helper.from_array(rng.standard_normal(10).astype(np.float32), "fc.bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def single_op_model(op_type: str, domain: str = "") -> onnx.ModelProto:
    """One node of `op_type` (used to check unsupported-operator errors)."""
    node = helper.make_node(op_type, ["x"], ["y"], name=f"my_{op_type.lower()}", domain=domain)
    graph = helper.make_graph(node and [node], "single",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    return m


def save(model: onnx.ModelProto, path, external: bool = False):
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return path
