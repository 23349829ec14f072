"""Recipe for the built-in demo model: a deterministic hybrid CNN + transformer network.

Big enough that budgets and streaming visibly matter (about 110 MB of float32 weights in more
than 50 layers) and mixed like real deployments: a convolutional stem, attention blocks made
of MatMul/Softmax, MLPs, and a classifier. Weights come from a seeded generator, so every
machine builds the same bytes without any download.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RECIPE_VERSION = 1
IMAGE_SIZE = 128
STEM_CHANNELS = (64, 128, 256, 512)
HIDDEN = 512
HEADS = 8
MLP_HIDDEN = 2048
BLOCKS = 8
CLASSES = 1000
OPSET = 17


class _Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []

    def weight(self, name, shape, fan_in):
        w = self.rng.standard_normal(shape, dtype=np.float32) * np.float32(1.0 / np.sqrt(fan_in))
        self.inits.append(numpy_helper.from_array(w, name))
        return name

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, name, **attrs):
        out = name + "_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out


def _stem(b: _Builder, x: str) -> str:
    cin = 3
    for i, cout in enumerate(STEM_CHANNELS):
        p = f"stem{i}"
        x = b.node("Conv", [x, b.weight(f"{p}.conv.weight", (cout, cin, 3, 3), cin * 9)],
                   f"{p}.conv", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
        scale = b.const(f"{p}.bn.weight", 1.0 + 0.1 * b.rng.standard_normal(cout).astype(np.float32))
        bias = b.const(f"{p}.bn.bias", 0.1 * b.rng.standard_normal(cout).astype(np.float32))
        mean = b.const(f"{p}.bn.running_mean", 0.1 * b.rng.standard_normal(cout).astype(np.float32))
        var = b.const(f"{p}.bn.running_var", (1.0 + 0.1 * b.rng.random(cout)).astype(np.float32))
        x = b.node("BatchNormalization", [x, scale, bias, mean, var], f"{p}.bn")
        x = b.node("Relu", [x], f"{p}.relu")
        cin = cout
    return x


def _layer_norm(b: _Builder, x: str, p: str) -> str:
    g = b.const(f"{p}.weight", np.ones(HIDDEN, np.float32))
    beta = b.const(f"{p}.bias", np.zeros(HIDDEN, np.float32))
    return b.node("LayerNormalization", [x, g, beta], p, axis=-1, epsilon=1e-5)


def _linear(b: _Builder, x: str, p: str, fan_in: int, fan_out: int) -> str:
    y = b.node("MatMul", [x, b.weight(f"{p}.weight", (fan_in, fan_out), fan_in)], p)
    return b.node("Add", [y, b.const(f"{p}.bias", np.zeros(fan_out, np.float32))], p + ".bias_add")


def _attention(b: _Builder, x: str, p: str, tokens: int) -> str:
    head_dim = HIDDEN // HEADS
    split = b.const(f"{p}.heads_shape", np.array([1, tokens, HEADS, head_dim], np.int64))
    merge = b.const(f"{p}.merge_shape", np.array([1, tokens, HIDDEN], np.int64))

    def heads(name):
        t = _linear(b, x, f"{p}.{name}", HIDDEN, HIDDEN)
        t = b.node("Reshape", [t, split], f"{p}.{name}.split_heads")
        return b.node("Transpose", [t], f"{p}.{name}.transpose", perm=[0, 2, 1, 3])

    q, k, v = heads("q_proj"), heads("k_proj"), heads("v_proj")
    kt = b.node("Transpose", [k], f"{p}.k_t", perm=[0, 1, 3, 2])
    s = b.node("MatMul", [q, kt], f"{p}.scores")
    s = b.node("Mul", [s, b.const(f"{p}.scale", np.array(head_dim ** -0.5, np.float32))], f"{p}.scale_mul")
    a = b.node("Softmax", [s], f"{p}.softmax", axis=-1)
    o = b.node("MatMul", [a, v], f"{p}.context")
    o = b.node("Transpose", [o], f"{p}.merge_transpose", perm=[0, 2, 1, 3])
    o = b.node("Reshape", [o, merge], f"{p}.merge_heads")
    return _linear(b, o, f"{p}.o_proj", HIDDEN, HIDDEN)


def _mlp(b: _Builder, x: str, p: str) -> str:
    h = _linear(b, x, f"{p}.fc1", HIDDEN, MLP_HIDDEN)
    # GELU, sigmoid approximation: h * sigmoid(1.702 h)
    g = b.node("Mul", [h, b.const(f"{p}.gelu_k", np.array(1.702, np.float32))], f"{p}.gelu_scale")
    g = b.node("Sigmoid", [g], f"{p}.gelu_sigmoid")
    h = b.node("Mul", [h, g], f"{p}.gelu")
    return _linear(b, h, f"{p}.fc2", MLP_HIDDEN, HIDDEN)


def build_demo_model(seed: int = 2026) -> onnx.ModelProto:
    """The demo network as an ONNX model (weights embedded; the caller saves it)."""
    b = _Builder(seed)
    x = _stem(b, "image")
    side = IMAGE_SIZE // 2 ** len(STEM_CHANNELS)
    tokens = side * side
    x = b.node("Reshape", [x, b.const("tokens.shape", np.array([1, HIDDEN, tokens], np.int64))], "tokens.flatten")
    x = b.node("Transpose", [x], "tokens.transpose", perm=[0, 2, 1])
    for i in range(BLOCKS):
        p = f"block{i}"
        x = b.node("Add", [x, _attention(b, _layer_norm(b, x, f"{p}.ln1"), f"{p}.attn", tokens)], f"{p}.attn_residual")
        x = b.node("Add", [x, _mlp(b, _layer_norm(b, x, f"{p}.ln2"), f"{p}.mlp")], f"{p}.mlp_residual")
    x = _layer_norm(b, x, "final_ln")
    x = b.node("ReduceMean", [x], "pool", axes=[1], keepdims=0)
    x = b.node("Gemm", [x, b.weight("classifier.weight", (CLASSES, HIDDEN), HIDDEN),
                        b.const("classifier.bias", np.zeros(CLASSES, np.float32))],
               "classifier", transB=1)
    b.nodes[-1].output[0] = "logits"
    graph = helper.make_graph(
        b.nodes, "tinyai_demo",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, IMAGE_SIZE, IMAGE_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tinyai-workbench demo recipe",
                              producer_version=str(RECIPE_VERSION))
    model.ir_version = 8
    return model


def demo_input(seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    return {"image": rng.standard_normal((1, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)}
