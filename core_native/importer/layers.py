"""Group nodes into layers: the unit a user sees, loads and schedules.

A layer starts at each node that owns real weights (a "primary" node: Conv, Gemm, MatMul,
an embedding Gather, RNNs, ... anything reading a large float constant); the weight-free or
vector-parameter nodes after it (BatchNormalization, bias Add, Relu, pools, reshapes) join it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .constants import Constant
from .ir import Graph, Node

# Ops whose constant operand is a weight even when small (a 3x3x3x8 conv kernel is still
# the conv's weight). For these the brief's rule applies as is: >= 2 dims or >= 1 KiB.
WEIGHT_OPS = frozenset({
    "Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "Gemm", "MatMul", "MatMulInteger",
    "QLinearMatMul", "Gather", "LSTM", "GRU", "RNN", "Einsum", "DeformConv",
})
LARGE_BYTES = 1024


@dataclass
class Layer:
    name: str
    nodes: List[int] = field(default_factory=list)  # indices into graph.nodes
    op_types: List[str] = field(default_factory=list)
    constants: List[str] = field(default_factory=list)  # in first-use order
    weight_bytes: int = 0


def _weight_input(node: Node, consts: Dict[str, Constant]) -> Optional[str]:
    """The constant that makes `node` primary, or None."""
    for pos, name in enumerate(node.inputs):
        c = consts.get(name) if name else None
        if c is None or not c.is_float():
            continue
        if node.op_type in WEIGHT_OPS:
            if node.op_type == "Gather" and pos != 0:
                continue  # constant indices into a runtime tensor are not weights
            if len(c.shape) >= 2 or c.nbytes >= LARGE_BYTES:
                return name
        else:
            # Elementwise/normalisation parameters are per-channel vectors, often unsqueezed
            # to [C,1,1]: only a genuinely 2-D operand (a positional embedding, a mask) counts.
            if sum(1 for d in c.shape if d > 1) >= 2 and c.nbytes >= LARGE_BYTES:
                return name
    return None


_WEIGHT_SUFFIX = re.compile(
    r"(?:[._/](?:weight|weights|kernel|filter|filters|W|w)(?:_0)?|:\d+)+$")
# Exporter-generated tensor names (TorchScript "onnx::MatMul_12", dynamo "val_4") say
# nothing to a user; the node name is the better label then.
_AUTO_NAME = re.compile(r"^(?:onnx::|\d+$|_?v(?:al)?_\d+$|Constant_\d+$|const(?:ant)?_?\d*$)")


def _name_from_weight(weight: str) -> Optional[str]:
    if _AUTO_NAME.match(weight):
        return None
    name = re.sub(r"^gpu_\d+/", "", weight)  # caffe2's per-device prefix says nothing
    name = _WEIGHT_SUFFIX.sub("", name)
    if name.lower() in ("", "w", "weight", "weights", "kernel", "filter"):
        return None  # a bare "W" names nothing; the node name says more
    return name


def _name_from_node(node: Node) -> str:
    # PyTorch exports name nodes like "/layer1/layer1.0/conv1/Conv": keep the module path.
    name = node.name
    if name.startswith("/"):
        parts = [p for p in name.split("/") if p]
        if len(parts) > 1 and parts[-1].split("_")[0] == node.op_type:
            parts = parts[:-1]
        name = "/".join(parts) or node.name
    return name


def _unique(name: str, taken: Dict[str, int]) -> str:
    if name not in taken:
        taken[name] = 1
        return name
    k = taken[name]
    while True:
        k += 1
        cand = f"{name}#{k}"
        if cand not in taken:
            taken[name] = k
            taken[cand] = 1
            return cand


# Transformer module paths ("encoder.layer.3.attention.self.query", "h.0.mlp.c_fc",
# "layers.2.self_attn.q_proj"): a block's projections become one "block N attention" layer and
# its feed-forward one "block N MLP"; token/position/patch embeddings one "embeddings" layer.
_BLOCK = re.compile(r"(?:^|\.)(?:(encoder|decoder)\.)?(?:[a-z_]*\.)?"
                    r"(?:layer|layers|h|blocks?)\.(\d+)\.(.*)$")
_ATTENTION = re.compile(r"(?:^|\.)(?:[a-z_]*attn|[a-z_]*attention)(?:\.|$)")
_MLP = re.compile(r"(?:^|\.)(?:mlp|intermediate|output|ffn|feed_forward|fc\d)(?:\.|$)")
_EMBEDDING = re.compile(r"(?:^|\.)(?:[a-z_]*embeddings?|wte|wpe|embed_[a-z_]+)(?:\.|$)")


def _transformer_label(path: str) -> Optional[str]:
    path = path.strip("/").replace("/", ".")
    m = _BLOCK.search(path)
    if m:
        stack, index, rest = m.groups()
        kind = ("attention" if _ATTENTION.search("." + rest)
                else "MLP" if _MLP.search("." + rest) else None)
        if kind is None:
            return None
        return f"{stack + ' ' if stack else ''}block {index} {kind}"
    return "embeddings" if _EMBEDDING.search(path) else None


def _layer_label(g: Graph, layer: Layer) -> Optional[str]:
    """A transformer layer's label from its constants' names, else its nodes' names."""
    for name in layer.constants:
        if not _AUTO_NAME.match(name):
            label = _transformer_label(name)
            if label:
                return label
    for i in layer.nodes:
        label = _transformer_label(g.nodes[i].name)
        if label:
            return label
    return None


def _group_transformer_blocks(g: Graph, layers: List[Layer]) -> List[Layer]:
    """Merge consecutive layers that belong to the same transformer block part.

    Only applies when the model looks like a transformer (at least one block attention and
    one block MLP), so CNN layer names stay as they were.
    """
    labels = [_layer_label(g, layer) for layer in layers]
    if not any(l and l.endswith("attention") for l in labels) or \
            not any(l and l.endswith("MLP") for l in labels):
        return layers
    merged: List[Layer] = []
    merged_labels: List[Optional[str]] = []
    for layer, label in zip(layers, labels):
        if label and merged_labels and merged_labels[-1] == label:
            last = merged[-1]
            last.nodes.extend(layer.nodes)
            last.op_types.extend(t for t in layer.op_types if t not in last.op_types)
            last.constants.extend(layer.constants)
            last.weight_bytes += layer.weight_bytes
            continue
        merged.append(layer)
        merged_labels.append(label)
    taken: Dict[str, int] = {}
    for layer, label in zip(merged, merged_labels):
        layer.name = _unique(label or layer.name, taken)
    return merged


def assign_layers(g: Graph) -> List[Layer]:
    """Layers in node order; also decides which layer owns each constant (its first consumer's)."""
    layers: List[Layer] = []
    taken: Dict[str, int] = {}
    node_layer: List[int] = []
    for i, node in enumerate(g.nodes):
        weight = _weight_input(node, g.constants)
        if weight is not None:
            name = _name_from_weight(weight) or _name_from_node(node)
            layers.append(Layer(_unique(name, taken)))
        elif not layers:
            layers.append(Layer(_unique("input", taken)))
        layer = layers[-1]
        layer.nodes.append(i)
        if node.op_type not in layer.op_types:
            layer.op_types.append(node.op_type)
        node_layer.append(len(layers) - 1)
    owner: Dict[str, int] = {}
    for i, node in enumerate(g.nodes):
        for name in node.all_inputs():
            if name in g.constants and name not in owner:
                owner[name] = node_layer[i]
    # Constant graph outputs nobody reads (e.g. everything folded away) go with the last layer.
    for name in g.outputs:
        if name in g.constants and name not in owner:
            if not layers:
                layers.append(Layer(_unique("constants", taken)))
            owner[name] = len(layers) - 1
    for name, li in owner.items():
        layers[li].constants.append(name)
        layers[li].weight_bytes += g.constants[name].nbytes
    return _group_transformer_blocks(g, layers)
