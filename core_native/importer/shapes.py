"""ONNX shape inference over the working graph.

Inference runs on a "skeleton" model: small constants go in as initializers (inference needs
their values for Reshape/Expand/Slice/...), large ones only as typed inputs, so a 500 MB model
is never serialised for it. Failure is not fatal: the import goes on with what is known.
"""
from __future__ import annotations

import warnings
from typing import Dict

from .constants import contiguous
from .ir import Graph, TypeInfo
from .onnx_loading import type_infos

# Constants up to this size are given to inference by value.
SMALL_CONSTANT_BYTES = 64 << 10


def _skeleton(g: Graph):
    from onnx import TensorProto, helper, numpy_helper

    inputs, initializers = [], []
    for name, c in g.constants.items():
        if c.nbytes <= SMALL_CONSTANT_BYTES and c.dtype != TensorProto.STRING:
            arr = contiguous(c.array())
            try:
                t = numpy_helper.from_array(arr, name)
            except Exception:
                t = None
            if t is not None and t.data_type == c.dtype:
                initializers.append(t)
                continue
        inputs.append(helper.make_tensor_value_info(name, c.dtype, list(c.shape)))
    for name in g.inputs:
        dtype, shape = g.declared.get(name, (0, None))
        inputs.append(helper.make_tensor_value_info(name, dtype, _dims(shape)))
    outputs = []
    for name in g.outputs:
        dtype, shape = g.declared.get(name, (0, None))
        outputs.append(helper.make_tensor_value_info(name, dtype, _dims(shape)))
    graph = helper.make_graph([n.proto for n in g.nodes], g.name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", g.opset)])
    # Initializers that are not inputs need IR >= 4; the opset is what fixes semantics.
    model.ir_version = max(g.ir_version, 4)
    return model


def _dims(shape):
    if shape is None:
        return None
    return [None if d == "?" else d for d in shape]


def infer(g: Graph) -> Dict[str, TypeInfo]:
    """dtype/shape of every value inference can determine ({} if inference fails)."""
    from onnx import shape_inference

    try:
        model = _skeleton(g)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception:
        return {}
    # Data propagation resolves Shape->Gather->Concat->Reshape chains, but is the part most
    # likely to trip on an odd model, so fall back to plain inference before giving up.
    for data_prop in (True, False):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                inferred = shape_inference.infer_shapes(model, strict_mode=False,
                                                        data_prop=data_prop)
            return {k: v for k, v in type_infos(inferred.graph).items()
                    if isinstance(k, str) and all(isinstance(d, (int, str)) for d in v[1] or ())}
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception:
            continue
    return {}


def static_shape(g: Graph, name: str):
    """The value's shape as a tuple of ints if fully known, else None."""
    _, shape = g.type_of(name)
    if shape is None or any(not isinstance(d, int) or d < 0 for d in shape):
        return None
    return tuple(shape)
