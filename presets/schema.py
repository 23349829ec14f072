"""Preset files: a TOML spelling of the engine Config plus the workbench's extra knobs.

    schema_version = 1
    name = "low-memory"
    description = "..."

    [memory]     enable_tensor_reuse, enable_in_place_ops, memory_speed_tradeoff, max_memory_budget
    [loader]     enable_prefetch, prefetch_window, enable_adaptive_window, max_memory_usage,
                 emulated_disk_speed
    [scheduler]  enable_checkpointing, memory_speed_tradeoff, recompute_activations,
                 max_activation_memory
    [cache]      block_size, cache_line_size, enable_prefetch, prefetch_distance
    [simd]       level, matrix_mul, conv, activation, attention
    [runtime]    threads

Sizes take human units ("256 MiB", "unlimited"); speeds "50 MB/s". Every key is optional
(missing keys keep the engine default) but unknown keys are errors, so a typo never silently
does nothing. Errors are PresetError naming the file, the field and the reason. Saving is
atomic: a crash mid-save leaves the previous file intact.
"""
from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import tomli_w

from tinyai_workbench.core_native.config import (CacheConfig, Config, LayerSchedulerConfig,
                                                 MemoryOptimizerConfig, ProgressiveLoaderConfig)

from .units import UnitError, format_size, format_speed, parse_size, parse_speed

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

SCHEMA_VERSION = 1
SIMD_OPS = ("matrix_mul", "conv", "activation", "attention")


class PresetError(ValueError):
    """A preset that cannot be read: ``path``, ``field`` (dotted, e.g. "memory.max_memory_budget")
    and ``reason`` say what to fix."""

    def __init__(self, path, field_name: str, reason: str):
        self.path = str(path) if path is not None else "<preset>"
        self.field = field_name
        self.reason = reason
        where = f"{self.path}: {field_name}: " if field_name else f"{self.path}: "
        super().__init__(where + reason)


@dataclass
class Preset:
    """Everything a preset sets: the engine Config plus knobs that live outside it."""

    name: str = "untitled"
    description: str = ""
    config: Config = field(default_factory=Config)
    emulated_disk_mbps: float = 0.0  # 0 = the real disk, unthrottled
    simd_ops: Dict[str, bool] = field(default_factory=lambda: {op: True for op in SIMD_OPS})

    def with_config(self, config: Config) -> "Preset":
        return replace(self, config=config)


# -- field table: section -> key -> (reader, writer, config attribute) ---------------------

def _read_bool(v):
    if not isinstance(v, bool):
        raise UnitError(f"expected true or false, got {v!r}")
    return v


def _read_fraction(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
        raise UnitError(f"expected a number from 0.0 (memory) to 1.0 (speed), got {v!r}")
    return float(v)


def _read_int(minimum: int, maximum: int = 1 << 30):
    def read(v):
        if isinstance(v, bool) or not isinstance(v, int) or not minimum <= v <= maximum:
            raise UnitError(f"expected a whole number from {minimum} to {maximum}, got {v!r}")
        return v
    return read


def _read_power_of_two(v):
    v = _read_int(1, 1 << 20)(v)
    if v & (v - 1):
        raise UnitError(f"expected a power of two, got {v}")
    return v


def _read_threads(v):
    if isinstance(v, str) and v.strip().lower() == "auto":
        return None
    return _read_int(1, 1024)(v)


def _same(v):
    return v


_Field = Tuple[Callable, Callable]
_SIZE: _Field = (parse_size, format_size)
_BOOL: _Field = (_read_bool, _same)
_FRACTION: _Field = (_read_fraction, _same)

_CONFIG_FIELDS: Dict[str, Dict[str, _Field]] = {
    "memory": {
        "enable_tensor_reuse": _BOOL,
        "enable_in_place_ops": _BOOL,
        "memory_speed_tradeoff": _FRACTION,
        "max_memory_budget": _SIZE,
    },
    "loader": {
        "enable_prefetch": _BOOL,
        "prefetch_window": (_read_int(0, 64), _same),
        "enable_adaptive_window": _BOOL,
        "max_memory_usage": _SIZE,
    },
    "scheduler": {
        "enable_checkpointing": _BOOL,
        "memory_speed_tradeoff": _FRACTION,
        "recompute_activations": _BOOL,
        "max_activation_memory": _SIZE,
    },
    "cache": {
        "block_size": (_read_int(1, 4096), _same),
        "cache_line_size": (_read_power_of_two, _same),
        "enable_prefetch": _BOOL,
        "prefetch_distance": (_read_int(0, 1024), _same),
    },
}
_SECTION_TYPES = {"memory": MemoryOptimizerConfig, "loader": ProgressiveLoaderConfig,
                  "scheduler": LayerSchedulerConfig, "cache": CacheConfig}
_EXTRA_FIELDS = {
    ("loader", "emulated_disk_speed"),
    ("simd", "level"), *(("simd", op) for op in SIMD_OPS),
    ("runtime", "threads"),
}
_TOP_LEVEL = {"schema_version", "name", "description", *_CONFIG_FIELDS, "simd", "runtime"}


def preset_from_dict(doc: dict, path=None) -> Preset:
    """Validate a parsed TOML document; raises PresetError(path, field, reason)."""
    def fail(field_name, reason):
        raise PresetError(path, field_name, reason)

    if "schema_version" not in doc:
        fail("schema_version", f"missing; a preset starts with 'schema_version = {SCHEMA_VERSION}'")
    version = doc["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        fail("schema_version", f"expected a positive whole number, got {version!r}")
    if version > SCHEMA_VERSION:
        fail("schema_version", f"version {version} was written by a newer tinyai-workbench; "
                               f"this one reads up to {SCHEMA_VERSION}")
    for key in doc:
        if key not in _TOP_LEVEL:
            fail(key, f"unknown key; expected one of {', '.join(sorted(_TOP_LEVEL))}")
    for text_key in ("name", "description"):
        if text_key in doc and not isinstance(doc[text_key], str):
            fail(text_key, f"expected text, got {doc[text_key]!r}")

    def section(name) -> dict:
        s = doc.get(name, {})
        if not isinstance(s, dict):
            fail(name, f"expected a [{name}] table, got {s!r}")
        for key in s:
            if key not in _CONFIG_FIELDS.get(name, {}) and (name, key) not in _EXTRA_FIELDS:
                known = sorted(set(_CONFIG_FIELDS.get(name, {})) | {k for sec, k in _EXTRA_FIELDS if sec == name})
                fail(f"{name}.{key}", f"unknown key; [{name}] takes {', '.join(known)}")
        return s

    def read(name, key, reader):
        try:
            return reader(section(name)[key])
        except UnitError as e:
            fail(f"{name}.{key}", str(e))

    parts = {}
    for name, fields in _CONFIG_FIELDS.items():
        values = {key: read(name, key, reader) for key, (reader, _) in fields.items() if key in section(name)}
        parts[name] = _SECTION_TYPES[name](**values)
    simd, runtime, loader = section("simd"), section("runtime"), section("loader")
    simd_level = read("simd", "level", _read_int(0, 3)) if "level" in simd else 3
    threads = read("runtime", "threads", _read_threads) if "threads" in runtime else None
    preset = Preset(
        name=doc.get("name") or (Path(path).stem if path else "untitled"),
        description=doc.get("description", ""),
        config=Config(simd_level=simd_level, threads=threads, **parts),
        emulated_disk_mbps=read("loader", "emulated_disk_speed", parse_speed) if "emulated_disk_speed" in loader else 0.0,
        simd_ops={op: read("simd", op, _read_bool) if op in simd else True for op in SIMD_OPS},
    )
    return preset


def preset_to_dict(preset: Preset) -> dict:
    """The TOML document for `preset` (every field written, sizes in human units)."""
    cfg = preset.config
    doc = {"schema_version": SCHEMA_VERSION, "name": preset.name, "description": preset.description}
    for name, fields in _CONFIG_FIELDS.items():
        obj = getattr(cfg, name)
        doc[name] = {key: writer(getattr(obj, key)) for key, (_, writer) in fields.items()}
    doc["loader"]["emulated_disk_speed"] = format_speed(preset.emulated_disk_mbps)
    doc["simd"] = {"level": cfg.simd_level, **{op: bool(preset.simd_ops.get(op, True)) for op in SIMD_OPS}}
    doc["runtime"] = {"threads": "auto" if cfg.threads is None else cfg.threads}
    return doc


def load_preset(path) -> Preset:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PresetError(path, "", f"cannot read the file ({e.strerror or e})") from e
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise PresetError(path, "", f"not UTF-8 text ({e.reason} at byte {e.start})") from e
    except tomllib.TOMLDecodeError as e:
        raise PresetError(path, "", f"not valid TOML ({e})") from e
    return preset_from_dict(doc, path)


def save_preset(preset: Preset, path) -> Path:
    """Write atomically: a temporary file in the same directory, fsync, then rename over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tomli_w.dumps(preset_to_dict(preset)).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def preset_from_config(config: Config, name: str = "untitled", description: str = "",
                       emulated_disk_mbps: float = 0.0,
                       simd_ops: Optional[Dict[str, bool]] = None) -> Preset:
    return Preset(name, description, config, emulated_disk_mbps,
                  dict(simd_ops) if simd_ops else {op: True for op in SIMD_OPS})
