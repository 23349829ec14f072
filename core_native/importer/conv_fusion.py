"""Fuse what follows a Conv into the Conv's store (as onnxruntime's FusedConv and Conv+Sum do).

  Conv → Add|Sum(·, Z)   becomes Conv(X, W, B, Z): a 4th input added to the output (a residual
                         connection; Z must have the Conv output's shape)
  Conv → Relu            becomes Conv with the string attribute `activation` = "Relu"

both only where the Conv's output has no other reader, so Conv → Add → Relu (a ResNet block's
end) is one node. The 4th input and the attribute are ours, never read from a file (FORMAT.md).
The Conv kernel applies them as the GEMM stores each output, so the tensor is written once
instead of written, read back and written again by separate Add and Relu passes.
"""
from __future__ import annotations

from onnx import helper

from ..errors import ModelError
from .ir import Graph, Node

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


def fuse_conv_add(g: Graph) -> int:
    """Conv → Add|Sum(·, Z) with Z of the Conv output's shape becomes Conv(X, W, B, Z)."""
    consumers = g.consumers()
    producer = {o: i for i, n in enumerate(g.nodes) for o in n.outputs if o}
    outputs = set(g.outputs)
    replaced = {}  # index of an Add -> the fused Conv that takes its place
    drop = set()
    for ai, add in enumerate(g.nodes):
        if add.op_type not in ("Add", "Sum") or len(add.inputs) != 2 or add.proto.attribute:
            continue  # (opset < 7 Add spelled broadcasting with attributes)
        if add.inputs[0] == add.inputs[1] or len(add.outputs) != 1:
            continue
        for pos in (0, 1):
            src, z = add.inputs[pos], add.inputs[1 - pos]
            ci = _private_float_conv(g, src, producer, consumers, outputs)
            if ci is None or ci in drop or len(g.nodes[ci].inputs) > 3:
                continue
            shape, z_type = g.type_of(src)[1], g.type_of(z)
            if shape is None or z_type[1] != shape or z_type[0] != 1:
                continue  # broadcasting adds (or unknown shapes) stay an Add
            conv = g.nodes[ci]
            inputs = (list(conv.inputs) + ["", ""])[:3] + [z]
            proto = _fused_proto(conv, None, add.outputs[0])
            del proto.input[:]
            proto.input.extend(inputs)
            # The fused node takes the Add's place: Z may be computed after the Conv.
            replaced[ai] = Node(name=conv.name, op_type="Conv", inputs=inputs,
                                outputs=[add.outputs[0]], proto=proto, index=add.index)
            drop.add(ci)
            break
    if replaced:
        g.nodes = [replaced.get(i, n) for i, n in enumerate(g.nodes) if i not in drop]
    return len(replaced)


def fuse_conv_epilogues(g: Graph) -> int:
    """Both fusions, residual Add first (so Conv → Add → Relu becomes one node)."""
    _reject_fused_forms(g)
    return fuse_conv_add(g) + fuse_conv_activation(g)


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
