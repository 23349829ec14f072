"""Fold inference BatchNormalization into the Conv before it (as onnxruntime does).

Conv → BatchNormalization with constant weights and statistics becomes one Conv whose weights
are scaled per output channel and whose bias absorbs the shift:
    w' = w · γ/√(σ²+ε),   b' = (b − μ) · γ/√(σ²+ε) + β
One pass over the activations less per conv, and one intermediate tensor less to hold.
"""
from __future__ import annotations

import numpy as np
from onnx import helper

from .constants import Constant
from .ir import Graph

_FLOAT32 = 1


def _attr(node, name, default):
    for a in node.proto.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _foldable_bn(g: Graph, bn, consumers) -> bool:
    if bn.op_type != "BatchNormalization" or len(bn.inputs) < 5:
        return False
    if any(o for o in bn.outputs[1:]) or _attr(bn, "training_mode", 0):
        return False  # training outputs requested
    if g.opset < 9 and _attr(bn, "spatial", 1) != 1:
        return False
    params = [g.constants.get(n) for n in bn.inputs[1:5]]
    return all(p is not None and p.dtype == _FLOAT32 and len(p.shape) == 1 for p in params) \
        and len(consumers.get(bn.inputs[0], [])) == 1 and bn.inputs[0] not in g.outputs


def fold_batchnorm_into_conv(g: Graph) -> int:
    """Rewrites g in place; returns how many BatchNormalization nodes were folded."""
    consumers = g.consumers()
    producer = {o: i for i, n in enumerate(g.nodes) for o in n.outputs if o}
    drop, folded = set(), 0
    for bi, bn in enumerate(g.nodes):
        if not _foldable_bn(g, bn, consumers):
            continue
        ci = producer.get(bn.inputs[0])
        if ci is None:
            continue
        conv = g.nodes[ci]
        if conv.op_type != "Conv" or len(conv.outputs) != 1 or len(conv.inputs) < 2:
            continue
        w = g.constants.get(conv.inputs[1])
        b = g.constants.get(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] else None
        if w is None or w.dtype != _FLOAT32 or (len(conv.inputs) > 2 and conv.inputs[2] and b is None):
            continue
        if len(consumers.get(conv.inputs[1], [])) != 1 or (b is not None and len(consumers.get(conv.inputs[2], [])) != 1):
            continue  # a shared weight must keep its original values for its other readers
        gamma, beta, mean, var = (g.constants[n].array().astype(np.float64) for n in bn.inputs[1:5])
        out_channels = w.shape[0]
        if gamma.shape[0] != out_channels:
            continue
        scale = gamma / np.sqrt(var + float(_attr(bn, "epsilon", 1e-5)))
        wa = w.array().astype(np.float64)
        new_w = (wa * scale.reshape((-1,) + (1,) * (wa.ndim - 1))).astype(np.float32)
        bias = b.array().astype(np.float64) if b is not None else np.zeros(out_channels)
        new_b = ((bias - mean) * scale + beta).astype(np.float32)
        # The weight keeps its name (layer names come from it); only this conv reads it.
        w_name = conv.inputs[1]
        b_name = conv.inputs[2] if b is not None else w_name + "::folded_bn_bias"
        g.constants.pop(w_name).release()
        if b is not None:
            g.constants.pop(b_name).release()
        g.constants[w_name] = Constant.from_array(new_w)
        g.constants[b_name] = Constant.from_array(new_b)
        conv.inputs = [conv.inputs[0], w_name, b_name]
        conv.outputs = [bn.outputs[0]]
        drop.add(bi)
        folded += 1
    if drop:
        g.nodes = [n for i, n in enumerate(g.nodes) if i not in drop]
    return folded
