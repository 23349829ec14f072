"""Fold constant per-channel Mul and Add into the Conv or BatchNormalization before them.

Caffe-converted models (densenet121 and friends) follow every BatchNormalization with a
"Scale" layer, exported as Mul and Add by per-channel constants. Both are affine maps per
channel, so they fold exactly (up to rounding), as onnxruntime's ConvMulFusion/ConvAddFusion do:
    Conv → Mul(m) → Add(a):  w' = w·m,  b' = b·m + a
    BN   → Mul(m) → Add(a):  γ' = γ·m,  β' = β·m + a
Each fold removes a pass over the activations and an intermediate tensor. Run after BN folding
(Conv → BN → Mul → Add is Conv → Mul → Add by then) and before activation fusion (so the Relu
that follows finds the Conv).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .constants import Constant
from .ir import Graph

_FLOAT32 = 1


def per_channel(values: np.ndarray, channels: int, rank: int) -> Optional[np.ndarray]:
    """`values` as `channels` per-channel factors of an N x C x ... tensor of `rank`, or None
    when it broadcasts some other way (per position, per image, wrong length)."""
    shape = list(values.shape)
    if len(shape) > rank:
        return None
    if int(np.prod(shape, dtype=np.int64)) == 1:
        return np.full(channels, float(values.reshape(-1)[0]))
    # right-aligned against [N, C, spatial...]: all 1 except the channel axis
    full = [1] * (rank - len(shape)) + shape
    if full[1] != channels or any(d != 1 for i, d in enumerate(full) if i != 1):
        return None
    return values.reshape(-1).astype(np.float64)


def _sole_reader(consumers, name: str) -> bool:
    return len(consumers.get(name, [])) == 1


class _Folder:
    def __init__(self, g: Graph):
        self.g = g
        self.consumers = g.consumers()
        self.producer = {o: i for i, n in enumerate(g.nodes) for o in n.outputs if o}
        self.outputs = set(g.outputs)

    def const(self, name: str):
        c = self.g.constants.get(name)
        return c if c is not None and c.dtype == _FLOAT32 else None

    def replace(self, name: str, values: np.ndarray) -> None:
        old = self.g.constants.pop(name, None)
        if old is not None:
            old.release()
        self.g.constants[name] = Constant.from_array(values.astype(np.float32))

    def source(self, node):
        """(index of the Conv/BN producing the non-constant operand, factors) or None."""
        if node.op_type not in ("Mul", "Add") or len(node.inputs) != 2 or len(node.outputs) != 1:
            return None
        a, b = node.inputs
        value, const = (a, self.const(b)) if self.const(b) is not None else (b, self.const(a))
        if const is None or value in self.g.constants:
            return None
        pi = self.producer.get(value)
        if pi is None or value in self.outputs or not _sole_reader(self.consumers, value):
            return None
        prod = self.g.nodes[pi]
        if prod.op_type not in ("Conv", "BatchNormalization") or len(prod.outputs) != 1:
            return None
        if prod.implicit_inputs or self.g.type_of(value)[0] not in (0, 1):
            return None
        channels = self._channels(prod)
        shape = self.g.type_of(value)[1]
        if shape is None and prod.op_type == "Conv" and channels:
            rank = len(self.const(prod.inputs[1]).shape)  # a Conv's output has its weight's rank
        else:
            rank = len(shape) if shape is not None else 0
        if rank < 3:
            return None  # channel layout unknown, or no spatial axes
        factors = per_channel(const.array(), channels, rank) if channels else None
        return None if factors is None else (pi, factors)

    def _channels(self, prod) -> Optional[int]:
        if prod.op_type == "Conv":
            w = self.const(prod.inputs[1]) if len(prod.inputs) > 1 else None
            return w.shape[0] if w is not None and len(w.shape) >= 3 else None
        params = [self.const(n) for n in prod.inputs[1:5]] if len(prod.inputs) >= 5 else []
        if len(params) != 4 or any(p is None or len(p.shape) != 1 for p in params):
            return None
        return params[0].shape[0]

    def fold(self, node, pi: int, factors: np.ndarray) -> bool:
        prod = self.g.nodes[pi]
        if prod.op_type == "Conv":
            ok = self._fold_into_conv(prod, node.op_type, factors)
        else:
            ok = self._fold_into_bn(prod, node.op_type, factors)
        if ok:
            prod.outputs = [node.outputs[0]]
            self.producer[node.outputs[0]] = pi
        return ok

    def _fold_into_conv(self, conv, op: str, factors: np.ndarray) -> bool:
        w_name = conv.inputs[1]
        has_bias = len(conv.inputs) > 2 and bool(conv.inputs[2])
        w = self.const(w_name)
        b = self.const(conv.inputs[2]) if has_bias else None
        if w is None or (has_bias and b is None) or any(
                a.name == "activation" for a in conv.proto.attribute):
            return False
        if not _sole_reader(self.consumers, w_name) or (has_bias and not _sole_reader(self.consumers, conv.inputs[2])):
            return False  # a shared weight must keep its values for its other readers
        bias = b.array().astype(np.float64) if b is not None else np.zeros(w.shape[0])
        if op == "Mul":
            wa = w.array().astype(np.float64)
            self.replace(w_name, wa * factors.reshape((-1,) + (1,) * (wa.ndim - 1)))
            bias = bias * factors
        else:
            bias = bias + factors
        b_name = conv.inputs[2] if has_bias else w_name + "::folded_bias"
        self.replace(b_name, bias)
        if not has_bias:
            self.consumers[b_name] = [conv]
        conv.inputs = [conv.inputs[0], w_name, b_name]
        return True

    def _fold_into_bn(self, bn, op: str, factors: np.ndarray) -> bool:
        scale_name, shift_name = bn.inputs[1], bn.inputs[2]
        if not (_sole_reader(self.consumers, scale_name) and _sole_reader(self.consumers, shift_name)):
            return False
        if scale_name == shift_name:
            return False
        shift = self.const(shift_name).array().astype(np.float64)
        if op == "Mul":
            scale = self.const(scale_name).array().astype(np.float64)
            self.replace(scale_name, scale * factors)
            shift = shift * factors
        else:
            shift = shift + factors
        self.replace(shift_name, shift)
        return True


def fold_channel_affine(g: Graph) -> int:
    """Rewrites g in place; returns how many Mul/Add nodes were folded away."""
    folder = _Folder(g)
    drop, folded = set(), 0
    for i, node in enumerate(g.nodes):  # topological order: Mul then Add chain in one sweep
        src = folder.source(node)
        if src is None or src[0] in drop:
            continue
        if folder.fold(node, *src):
            drop.add(i)
            folded += 1
    if drop:
        g.nodes = [n for i, n in enumerate(g.nodes) if i not in drop]
    return folded
