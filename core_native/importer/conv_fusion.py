"""Fuse a Relu that follows a Conv into the Conv's store (as onnxruntime's FusedConv does).

Conv → Relu, where the Relu is the only reader of the Conv's output, becomes one Conv with the
string attribute `activation` = "Relu" (ours, never read from a file: FORMAT.md). The Conv
kernel applies it as the GEMM stores each output, so the tensor is written once instead of
written, read back and written again by a separate Relu pass.

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


def _fused_proto(conv, activation, output: str):
    """A copy of the Conv's NodeProto with the new output (and activation attribute)."""
    proto = type(conv.proto)()
    proto.CopyFrom(conv.proto)
    del proto.output[:]
    proto.output.append(output)
    if activation:
        proto.attribute.append(helper.make_attribute(ACTIVATION_ATTR, activation))
    return proto


def _reject_fused_forms(g: Graph) -> None:
    """A file's Conv must not already look fused: the kernel would apply what ONNX ignores."""
    for n in g.nodes:
        if n.op_type != "Conv":
            continue
        if any(a.name == ACTIVATION_ATTR for a in n.proto.attribute):
            raise ModelError(f"node '{n.name}' (Conv) has an attribute '{ACTIVATION_ATTR}', which "
                             "ONNX Conv does not define")
        if len(n.inputs) > 3:
            raise ModelError(f"node '{n.name}' (Conv) has {len(n.inputs)} inputs; ONNX Conv takes "
                             "at most 3 (X, W, B)")


def _private_float_conv(g: Graph, value: str, producer, consumers, outputs):
    """The Conv producing `value` if only one node reads it and it is float32, else None."""
    ci = producer.get(value)
    if ci is None:
        return None
    conv = g.nodes[ci]
    if conv.op_type != "Conv" or len(conv.outputs) != 1 or conv.implicit_inputs:
        return None
    if value in outputs or len(consumers.get(value, [])) != 1:
        return None  # the Conv's own values are read elsewhere
    if g.type_of(value)[0] not in (0, 1):
        return None  # the Conv kernel is float32 only; leave anything else alone
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
