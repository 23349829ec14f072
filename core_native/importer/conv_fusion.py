"""Fuse a Relu that follows a Conv or BatchNormalization into that node's store (as
onnxruntime's FusedConv does for Conv).

Conv → Relu (or BatchNormalization → Relu), where the Relu is the only reader of the output,
becomes one node with the string attribute `activation` = "Relu" (ours, never read from a file:
FORMAT.md). The kernel applies it as it stores each output (the Conv in the GEMM's store), so
the tensor is written once instead of written, read back and written again by a separate Relu
pass. BatchNormalization → Relu is what a pre-activation block (DenseNet) runs before each
Conv, once the Scale that followed the BatchNormalization is folded into it.

The core also accepts a 4th Conv input Z added before the activation (a residual Add/Sum,
FORMAT.md), but the importer does not write it: fusing ResNet-50's 16 residual Sums that way
measured about 4 % slower at 1 thread (same process, same build; the addend's loads in the
GEMM store miss cache, while the separate Sum runs in place as one streaming pass).
"""
from __future__ import annotations

from onnx import helper

from ..errors import ModelError
from .ir import Graph

ACTIVATION_ATTR = "activation"
FUSABLE = ("Relu",)
PRODUCERS = ("Conv", "BatchNormalization")


def _fused_proto(conv, activation, output: str):
    """A copy of the Conv's (BatchNormalization's) NodeProto with the new output (and activation attribute)."""
    proto = type(conv.proto)()
    proto.CopyFrom(conv.proto)
    del proto.output[:]
    proto.output.append(output)
    if activation:
        proto.attribute.append(helper.make_attribute(ACTIVATION_ATTR, activation))
    return proto


def _reject_fused_forms(g: Graph) -> None:
    """A file's Conv/BatchNormalization must not already look fused: the kernel would apply
    what ONNX ignores."""
    for n in g.nodes:
        if n.op_type not in PRODUCERS:
            continue
        if any(a.name == ACTIVATION_ATTR for a in n.proto.attribute):
            raise ModelError(f"node '{n.name}' ({n.op_type}) has an attribute '{ACTIVATION_ATTR}', "
                             f"which ONNX {n.op_type} does not define")
        if n.op_type == "Conv" and len(n.inputs) > 3:
            raise ModelError(f"node '{n.name}' (Conv) has {len(n.inputs)} inputs; ONNX Conv takes "
                             "at most 3 (X, W, B)")


def _private_float_conv(g: Graph, value: str, producer, consumers, outputs):
    """The Conv (or BatchNormalization) producing `value` if only one node reads it and it is
    float32, else None."""
    ci = producer.get(value)
    if ci is None:
        return None
    conv = g.nodes[ci]
    if conv.op_type not in PRODUCERS or len(conv.outputs) != 1 or conv.implicit_inputs:
        return None
    if value in outputs or len(consumers.get(value, [])) != 1:
        return None  # the Conv's own values are read elsewhere
    if g.type_of(value)[0] not in (0, 1):
        return None  # the kernels fuse for float32 only; leave anything else alone
    return ci


def fuse_conv_epilogues(g: Graph) -> int:
    """Checks the file's Convs, then fuses activations; returns how many were fused."""
    _reject_fused_forms(g)
    return fuse_conv_activation(g)


def fuse_conv_activation(g: Graph) -> int:
    """Rewrites g in place; returns how many activations were fused into their Conv."""
    consumers = g.consumers()
    producer = {o: i for i, n in enumerate(g.nodes) for o in n.outputs if o}
    outputs = set(g.outputs)
    drop, fused = set(), 0
    for ai, act in enumerate(g.nodes):
        if act.op_type not in FUSABLE or len(act.inputs) != 1 or len(act.outputs) != 1:
            continue
        src = act.inputs[0]
        ci = _private_float_conv(g, src, producer, consumers, outputs)
        if ci is None or ci in drop:
            continue
        conv = g.nodes[ci]
        if any(a.name == ACTIVATION_ATTR for a in conv.proto.attribute):
            continue
        conv.proto = _fused_proto(conv, act.op_type, act.outputs[0])
        conv.outputs = [act.outputs[0]]
        drop.add(ai)
        fused += 1
    if drop:
        g.nodes = [n for i, n in enumerate(g.nodes) if i not in drop]
    return fused
