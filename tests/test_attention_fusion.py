"""The importer's attention fusion (core_native/importer/fusion.py) and the TinyAIAttention
kernel (core_native/src/kernels/attention/): the patterns the PyTorch exporters emit are
found, replaced by one node per attention, and the outputs still match onnxruntime.

Small hand-built graphs cover each pattern (eager Div/Mul scale, the sdpa decomposition's
scaled Q and K^T with the IsNaN/Where guard, no mask, broadcast padding masks, fully masked
rows) and the cases that must not fuse; the exported models in tests/data/transformers check
that every attention of a real export fuses.
"""
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import tinyai_workbench as tw
from tinyai_workbench.core_native.importer import read_graph_json

DATA_DIR = Path(__file__).resolve().parent / "data" / "transformers"
MANIFEST = json.loads((DATA_DIR / "manifest.json").read_text())
MODELS = {m["name"]: m for m in MANIFEST["models"]}
FUSED = "TinyAIAttention"
RTOL, ATOL = 1e-3, 1e-4


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYAI_CACHE_DIR", str(tmp_path / "cache"))


def _op_count(model, op_type: str) -> int:
    doc = read_graph_json(model.model_dir)
    return sum(1 for n in doc["nodes"] if n["op_type"] == op_type)


def _f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _scalar(name, value):
    return numpy_helper.from_array(np.array(value, np.float32), name)


def attention_model(path: Path, *, scale_op="Div", sdpa=False, mask_shape=None,
                    nan_guard=False, extra_softmax_reader=False, softmax_axis=-1,
                    opset=17) -> Path:
    """Q [B,H,L,D] @ Kt [B,H,D,L] -> scale -> [+ mask] -> Softmax -> [guard] -> @ V."""
    B, H, D = "batch", 2, 8
    L = "seq"
    inits = [_scalar("scale", 8 ** 0.5 if scale_op == "Div" else 8 ** -0.5),
             _scalar("root_scale", 8 ** -0.25), _scalar("zero", 0.0)]
    inputs = [_f32("q", [B, H, L, D]), _f32("kt", [B, H, D, L]), _f32("v", [B, H, L, D])]
    nodes = []
    if sdpa:  # torch's sdpa decomposition: both operands scaled by sqrt(scale)
        nodes += [helper.make_node("Mul", ["q", "root_scale"], ["qs"], name="/attn/Mul"),
                  helper.make_node("Mul", ["kt", "root_scale"], ["ks"], name="/attn/Mul_1"),
                  helper.make_node("MatMul", ["qs", "ks"], ["scores"], name="/attn/MatMul")]
        logits = "scores"
    else:
        nodes += [helper.make_node("MatMul", ["q", "kt"], ["qk"], name="/attn/MatMul"),
                  helper.make_node(scale_op, ["qk", "scale"], ["scores"], name="/attn/Scale")]
        logits = "scores"
    if mask_shape is not None:
        inputs.append(_f32("mask", mask_shape))
        nodes.append(helper.make_node("Add", ["mask", logits], ["masked"], name="/attn/Add"))
        logits = "masked"
    nodes.append(helper.make_node("Softmax", [logits], ["probs"], name="/attn/Softmax",
                                  axis=softmax_axis))
    probs = "probs"
    if nan_guard:
        nodes += [helper.make_node("IsNaN", ["probs"], ["isnan"], name="/attn/IsNaN"),
                  helper.make_node("Where", ["isnan", "zero", "probs"], ["guarded"],
                                   name="/attn/Where")]
        probs = "guarded"
    nodes.append(helper.make_node("MatMul", [probs, "v"], ["out"], name="/attn/MatMul_1"))
    outputs = [_f32("out", [B, H, L, D])]
    if extra_softmax_reader:
        outputs.append(_f32("probs", [B, H, L, L]))
    graph = helper.make_graph(nodes, "attention", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _feeds(rng, batch=2, seq=5, mask_shape=None, masked_rows=False):
    feeds = {"q": rng.standard_normal((batch, 2, seq, 8)).astype(np.float32),
             "kt": rng.standard_normal((batch, 2, 8, seq)).astype(np.float32),
             "v": rng.standard_normal((batch, 2, seq, 8)).astype(np.float32)}
    if mask_shape is not None:
        shape = [batch if d == "batch" else seq if d == "seq" else d for d in mask_shape]
        mask = np.zeros(shape, np.float32)
        mask[..., -2:] = np.finfo(np.float32).min  # padded keys
        if masked_rows:
            mask[...] = -np.inf  # every key masked: softmax is NaN, the guard gives zeros
            mask[0] = 0.0
        feeds["mask"] = mask
    return feeds


def _run_both(path, feeds, simd_level=3):
    model = tw.load_model(path)
    ours = tw.Session(model, tw.Config(simd_level=simd_level)).run(feeds)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    ref = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in ref.get_outputs()]
    return model, ours, dict(zip(names, ref.run(None, feeds)))


def _close(a, b, what):
    assert a.shape == b.shape, what
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


CASES = {
    "eager_div_padding_mask": dict(scale_op="Div", mask_shape=["batch", 1, 1, "seq"]),
    "eager_mul_full_mask": dict(scale_op="Mul", mask_shape=["batch", 2, "seq", "seq"]),
    "eager_no_mask": dict(scale_op="Div"),
    "sdpa_nan_guard": dict(sdpa=True, mask_shape=["batch", 1, "seq", "seq"], nan_guard=True),
    "sdpa_no_mask_opset14": dict(sdpa=True, opset=14),
}


@pytest.mark.native
@pytest.mark.parametrize("simd_level", [0, 3], ids=["scalar_reference", "gemm_blocks"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seq", [1, 5, 70, 140])
def test_pattern_fuses_and_matches_onnxruntime(tmp_path, case, seq, simd_level):
    """seq 140 spans two 128-row score blocks."""
    kw = CASES[case]
    path = attention_model(tmp_path / f"{case}.onnx", **kw)
    feeds = _feeds(np.random.default_rng(seq), seq=seq, mask_shape=kw.get("mask_shape"))
    model, ours, theirs = _run_both(path, feeds, simd_level)
    assert _op_count(model, FUSED) == 1
    assert _op_count(model, "Softmax") == 0
    _close(ours["out"], theirs["out"], case)


@pytest.mark.native
@pytest.mark.parametrize("simd_level", [0, 3], ids=["scalar_reference", "gemm_blocks"])
def test_fully_masked_rows_follow_the_nan_guard(tmp_path, simd_level):
    """All keys masked with -inf: the guarded pattern gives zeros (as onnxruntime does)."""
    kw = CASES["sdpa_nan_guard"]
    path = attention_model(tmp_path / "guard.onnx", **kw)
    feeds = _feeds(np.random.default_rng(0), seq=4, mask_shape=kw["mask_shape"],
                   masked_rows=True)
    model, ours, theirs = _run_both(path, feeds, simd_level)
    assert _op_count(model, FUSED) == 1
    assert np.all(theirs["out"][1] == 0.0)
    _close(ours["out"], theirs["out"], "guarded fully masked rows")


@pytest.mark.native
@pytest.mark.parametrize("simd_level", [0, 3], ids=["scalar_reference", "gemm_blocks"])
def test_fully_masked_rows_without_guard_are_nan_like_onnxruntime(tmp_path, simd_level):
    path = attention_model(tmp_path / "noguard.onnx", sdpa=True,
                           mask_shape=["batch", 1, "seq", "seq"])
    feeds = _feeds(np.random.default_rng(0), seq=4, mask_shape=["batch", 1, "seq", "seq"],
                   masked_rows=True)
    model, ours, theirs = _run_both(path, feeds, simd_level)
    assert _op_count(model, FUSED) == 1
    assert np.isnan(theirs["out"][1]).all() and np.isnan(ours["out"][1]).all()
    _close(ours["out"][0], theirs["out"][0], "unmasked batch")


@pytest.mark.native
@pytest.mark.parametrize("kw", [dict(extra_softmax_reader=True), dict(softmax_axis=2)],
                         ids=["probs_are_a_graph_output", "softmax_not_over_keys"])
def test_non_attention_patterns_are_left_alone(tmp_path, kw):
    path = attention_model(tmp_path / "nofuse.onnx", mask_shape=["batch", 1, 1, "seq"], **kw)
    feeds = _feeds(np.random.default_rng(1), seq=6, mask_shape=["batch", 1, 1, "seq"])
    model, ours, theirs = _run_both(path, feeds)
    assert _op_count(model, FUSED) == 0
    assert _op_count(model, "Softmax") == 1
    for name in theirs:
        _close(ours[name], theirs[name], name)


def _layers_per_model(meta) -> int:
    return 2  # every test model has 2 transformer blocks


@pytest.mark.native
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_exported_attention_fuses(name):
    """Import only (no native run): each block's attention becomes one fused node."""
    model = tw.load_model(DATA_DIR / MODELS[name]["file"])
    assert _op_count(model, FUSED) == _layers_per_model(MODELS[name])
    assert _op_count(model, "Softmax") == 0
