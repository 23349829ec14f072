"""Generate small BERT-, GPT-2- and ViT-style transformer test models exported by PyTorch.

Run with a venv that has torch==2.13.0, transformers, onnx, onnxscript, numpy
(onnxruntime optional, used only for a sanity check here):

    /work/venv-torch/bin/python tests/data_gen/make_transformer_models.py [--out DIR]
    /work/venv-torch/bin/python tests/data_gen/make_transformer_models.py --bench [--out DIR]

Not imported by the test suite.  The models are built from `transformers` configs (no
weight downloads) with tiny dimensions (2 layers, hidden 64, 4 heads) and seeded random
weights, then exported twice:

* the TorchScript exporter (``dynamo=False``) at opset 17;
* the dynamo exporter (``dynamo=True``) at opset 18.

BERT and GPT-2 have a symbolic ``sequence`` dimension (and BERT a symbolic ``batch``);
ViT has a symbolic batch.  Some variants use the "eager" attention implementation
(MatMul -> Div -> Add -> Softmax -> MatMul) and some "sdpa" (the exporters' own
scaled_dot_product_attention decompositions), so the fusion pass sees every pattern.
For every model ``<name>.onnx`` a ``<name>.ref_s<L>.npz`` per sequence length (or
``ref_b<N>`` per batch for ViT) holds the inputs (keys = ONNX input names) and the torch
outputs (``output_0``, ...).  ``manifest.json`` describes all of them.

``--bench`` instead writes the 6-layer, 384-hidden BERT used by
benchmarks/bench_transformers.py (about 45 MB: keep it out of git; the default output
is ``~/.cache/tinyai-workbench/bench-models``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

warnings.filterwarnings("ignore")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # export_common, run as a script
import export_common  # noqa: E402
from export_common import ort_check, save, save_npz, strip_nondeterministic  # noqa: E402

import transformers  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2Model,
    ViTConfig,
    ViTModel,
)

SEED = 4321
TS_OPSET = 17
DYNAMO_OPSET = 18
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "tests" / "data" / "transformers"
BENCH_OUT = Path.home() / ".cache" / "tinyai-workbench" / "bench-models"
BENCH_NAME = "bert_l6_h384_ts17"
SEQ_LENGTHS = [1, 7, 128, 512]
EXPORT_SEQ = 16  # neither 1 nor a test length, so no size specialisation sneaks in
VOCAB = 256
MAX_POS = 512


# --------------------------------------------------------------------------
# Model definitions (tiny configs, random weights)
# --------------------------------------------------------------------------


class BertWrapper(nn.Module):
    input_names = ["input_ids", "attention_mask"]
    output_names = ["last_hidden_state", "pooler_output"]

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.last_hidden_state, out.pooler_output


class GPT2Wrapper(nn.Module):
    input_names = ["input_ids"]
    output_names = ["last_hidden_state"]

    def __init__(self, model: nn.Module, ones_mask: bool):
        super().__init__()
        self.model = model
        self.ones_mask = ones_mask

    def forward(self, input_ids):
        # Without an attention mask transformers looks for packed sequences with torch.diff,
        # which the TorchScript exporter cannot export; an all-ones mask skips that.
        mask = torch.ones_like(input_ids) if self.ones_mask else None
        return self.model(input_ids=input_ids, attention_mask=mask,
                          use_cache=False).last_hidden_state


class ViTWrapper(nn.Module):
    input_names = ["pixel_values"]
    output_names = ["last_hidden_state", "pooler_output"]

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        out = self.model(pixel_values=pixel_values)
        return out.last_hidden_state, out.pooler_output


def build_bert(attn: str, exporter: str = "", layers: int = 2, hidden: int = 64, heads: int = 4,
               vocab: int = VOCAB) -> nn.Module:
    cfg = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=heads, intermediate_size=4 * hidden,
                     max_position_embeddings=MAX_POS, type_vocab_size=2,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     attn_implementation=attn)
    return BertWrapper(BertModel(cfg, add_pooling_layer=True))


def build_gpt2(attn: str, exporter: str) -> nn.Module:
    cfg = GPT2Config(vocab_size=VOCAB, n_positions=MAX_POS, n_embd=64, n_layer=2, n_head=4,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1,
                     attn_implementation=attn)
    return GPT2Wrapper(GPT2Model(cfg), ones_mask=exporter == "torchscript")


def build_vit(attn: str, exporter: str = "") -> nn.Module:
    cfg = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=64,
                    num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                    attn_implementation=attn)
    return ViTWrapper(ViTModel(cfg, add_pooling_layer=True))


def randomise(model: nn.Module, gen: torch.Generator) -> None:
    """Seeded random weights of a sane scale (LayerNorm gains/biases too)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / fan_in) ** 0.5)
                if "embeddings" in name or name.endswith(("wte.weight", "wpe.weight")):
                    p.mul_(fan_in ** 0.5 * 0.5)  # embeddings: unit-ish scale
            elif name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def make_inputs(arch: str, rng: np.random.RandomState, n: int) -> dict[str, np.ndarray]:
    """n is the sequence length (BERT, GPT-2) or the batch (ViT)."""
    if arch == "vit":
        return {"pixel_values": rng.standard_normal((n, 3, 32, 32)).astype(np.float32)}
    ids = rng.randint(0, VOCAB, size=(1, n)).astype(np.int64)
    if arch == "gpt2":
        return {"input_ids": ids}
    batch = 2  # BERT: row 0 unpadded, row 1 padded (a real padding mask)
    ids = rng.randint(0, VOCAB, size=(batch, n)).astype(np.int64)
    mask = np.ones((batch, n), np.int64)
    mask[1, max(1, n - n // 3):] = 0
    return {"input_ids": ids, "attention_mask": mask}


# --------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------


def symbolic_axes(arch: str) -> dict[str, dict[int, str]]:
    if arch == "vit":
        return {"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"},
                "pooler_output": {0: "batch"}}
    if arch == "gpt2":
        return {"input_ids": {1: "sequence"}, "last_hidden_state": {1: "sequence"}}
    return {"input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "last_hidden_state": {0: "batch", 1: "sequence"}, "pooler_output": {0: "batch"}}


def export_torchscript(wrapper, example, arch) -> onnx.ModelProto:
    return export_common.export_torchscript(
        wrapper, tuple(example.values()), opset_version=TS_OPSET, input_names=wrapper.input_names,
        output_names=wrapper.output_names, dynamic_axes=symbolic_axes(arch), do_constant_folding=True)


def export_dynamo(wrapper, example, arch) -> onnx.ModelProto:
    dyn = torch.export.Dim.DYNAMIC
    shapes = {name: {axis: dyn for axis in axes}
              for name, axes in symbolic_axes(arch).items() if name in wrapper.input_names}
    return export_common.export_dynamo(
        wrapper, tuple(example.values()), opset_version=DYNAMO_OPSET, input_names=wrapper.input_names,
        output_names=wrapper.output_names, dynamic_shapes=shapes)


def run_torch(wrapper, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        res = wrapper(*(torch.from_numpy(v) for v in feeds.values()))
    res = res if isinstance(res, tuple) else (res,)
    return [r.detach().numpy().astype(np.float32) for r in res]


# name, arch, attention implementation, exporter, external data
VARIANTS = [
    ("bert_ts17", "bert", "eager", "torchscript", False),
    ("bert_dynamo18", "bert", "sdpa", "dynamo", True),
    ("gpt2_ts17", "gpt2", "sdpa", "torchscript", False),
    ("gpt2_dynamo18", "gpt2", "eager", "dynamo", False),
    ("vit_ts17", "vit", "sdpa", "torchscript", False),
    ("vit_dynamo18", "vit", "eager", "dynamo", False),
]
BUILDERS = {"bert": build_bert, "gpt2": build_gpt2, "vit": build_vit}


def export_one(name, arch, wrapper, exporter, external, out_dir, rng, lengths):
    example = {k: torch.from_numpy(v)
               for k, v in make_inputs(arch, rng, EXPORT_SEQ if arch != "vit" else 2).items()}
    with torch.no_grad():
        if exporter == "torchscript":
            proto, opset = export_torchscript(wrapper, example, arch), TS_OPSET
        else:
            proto, opset = export_dynamo(wrapper, example, arch), DYNAMO_OPSET
    proto = strip_nondeterministic(proto)
    onnx.checker.check_model(proto)
    assert [o.name for o in proto.graph.output] == wrapper.output_names
    assert [i.name for i in proto.graph.input] == wrapper.input_names
    path = out_dir / f"{name}.onnx"
    files = save(proto, path, external)
    key = "b" if arch == "vit" else "s"
    refs, checks = {}, []
    for n in lengths:
        feeds = make_inputs(arch, rng, n)
        outs = run_torch(wrapper, feeds)
        ref_path = out_dir / f"{name}.ref_{key}{n}.npz"
        arrays = dict(feeds)
        arrays.update({f"output_{k}": o for k, o in enumerate(outs)})
        save_npz(ref_path, arrays)
        files.append(ref_path)
        refs[str(n)] = ref_path.name
        checks.append(f"{key}{n}: {ort_check(path, feeds, outs)}")
    ops = sorted({n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node})
    entry = {"name": name, "file": path.name, "arch": arch,
             "attn_implementation": getattr(wrapper.model.config, "_attn_implementation", None),
             "exporter": exporter, "opset": opset, "external_data": external,
             "input_names": wrapper.input_names, "output_names": wrapper.output_names,
             "symbolic_axes": {k: v for k, v in symbolic_axes(arch).items()
                               if k in wrapper.input_names},
             "ref_kind": "batch" if arch == "vit" else "sequence", "refs": refs,
             "op_types": ops}
    sizes = {f.name: f.stat().st_size for f in files}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    print(f"{name}: {exporter} opset {opset}, sizes={sizes}, sha256={digest}")
    for c in checks:
        print(f"    {c}")
    print(f"    ops: {' '.join(ops)}")
    return entry


def make_bench(out_dir: Path) -> int:
    """The 6-layer, 384-hidden, 12-head BERT (MiniLM-sized) for bench_transformers.py."""
    torch.manual_seed(SEED)
    wrapper = build_bert("eager", layers=6, hidden=384, heads=12, vocab=1024)
    randomise(wrapper, torch.Generator().manual_seed(SEED + 7))
    wrapper.eval()
    global VOCAB
    VOCAB = 1024
    rng = np.random.RandomState(SEED + 999)
    entry = export_one(BENCH_NAME, "bert", wrapper, "torchscript", True, out_dir, rng, [128])
    (out_dir / f"{BENCH_NAME}.json").write_text(json.dumps(entry, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--bench", action="store_true",
                    help="write the 6-layer 384-hidden benchmark BERT instead (not for git)")
    ap.add_argument("--only", nargs="*", help="variant names to (re)generate")
    args = ap.parse_args(argv)
    out_dir: Path = args.out or (BENCH_OUT if args.bench else DEFAULT_OUT)
    out_dir.mkdir(parents=True, exist_ok=True)

    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"onnx {onnx.__version__}")
    if args.bench:
        return make_bench(out_dir)

    manifest = {"generator": "tests/data_gen/make_transformer_models.py", "seed": SEED,
                "torch": torch.__version__, "transformers": transformers.__version__,
                "models": [], "skipped": []}
    for idx, (name, arch, attn, exporter, external) in enumerate(VARIANTS):
        if args.only and name not in args.only:
            continue
        torch.manual_seed(SEED + idx)
        wrapper = BUILDERS[arch](attn, exporter)
        randomise(wrapper, torch.Generator().manual_seed(SEED + 100 + idx))
        wrapper.eval()
        rng = np.random.RandomState(SEED + 1000 + idx)
        lengths = [1, 3] if arch == "vit" else SEQ_LENGTHS
        try:
            manifest["models"].append(
                export_one(name, arch, wrapper, exporter, external, out_dir, rng, lengths))
        except Exception as exc:  # noqa: BLE001
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            print(f"SKIP {name}: {exporter} exporter failed: {reason}")
            traceback.print_exc(limit=5)
            manifest["skipped"].append({"name": name, "reason": reason})
    if not args.only:
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    print(f"total size of {out_dir}: {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
