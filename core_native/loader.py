"""Progressive loader: stream a model's layer weights through a budget-bounded cache.

A background I/O thread reads layers from the weights file (one read per layer, checksum
verified, never left in the page cache), prefetches ``prefetch_window`` layers ahead of the
execution order, and evicts the unpinned layer whose next use is furthest away (lower
priority first; CRITICAL layers are never evicted). The TinyAI seed API is
``load_layer``/``unload_layer``/``get_layer_status``/``set_layer_priority``/``stats``;
``acquire``/``release`` are what an executor calls around each layer.

    with tw.ProgressiveLoader(model, tw.ProgressiveLoaderConfig(max_memory_usage=64 << 20)) as ld:
        ld.load_layer("conv1")
        ld.get_layer_status("conv1")   # LayerStatus.LOADED
        ld.stats()["hits"]
"""
from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from . import _core
from .config import Config, ProgressiveLoaderConfig, to_native
from .errors import ModelError

__all__ = ["LayerPriority", "LayerStatus", "ProgressiveLoader"]


class LayerStatus(enum.IntEnum):
    """TinyAI layer states. A split layer that is partly resident reports LOADING."""

    UNLOADED = 0
    LOADING = 1
    LOADED = 2
    ERROR = 3


class LayerPriority(enum.IntEnum):
    """Eviction preference: lower priorities go first; CRITICAL layers are pinned."""

    LOW = 0
    MEDIUM = 1
    HIGH = 2
    CRITICAL = 3

    @classmethod
    def parse(cls, value) -> "LayerPriority":
        """A LayerPriority from itself, its value (0..3) or its name ("high", "CRITICAL")."""
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"unknown layer priority {value!r}; use one of "
                                 f"{', '.join(p.name for p in cls)}") from None
        if isinstance(value, bool):
            raise ValueError(f"layer priority must be a LayerPriority, got {value!r}")
        try:
            return cls(int(value))
        except (TypeError, ValueError):
            raise ValueError(f"unknown layer priority {value!r}; use one of "
                             f"{', '.join(p.name for p in cls)}") from None


_PER_LAYER_ENUMS = {"layer_status": LayerStatus, "layer_priority": LayerPriority}


def loader_stats(native: dict) -> dict:
    """The native loader stats dict (from ``_core``) made Pythonic: per-layer enums, hit rate,
    an explicit ``bandwidth_emulated`` flag. Shared by ProgressiveLoader and Session."""
    s = dict(native)
    for key, enum_type in _PER_LAYER_ENUMS.items():
        s[key] = [enum_type(v) for v in s[key]]
    lookups = s["hits"] + s["misses"]
    s["hit_rate"] = s["hits"] / lookups if lookups else 0.0
    s["bandwidth_emulated"] = s["bandwidth_limit_mbps"] > 0
    return s

LayerRef = Union[int, str]


def _dataclass_config(config) -> ProgressiveLoaderConfig:
    if config is None:
        return ProgressiveLoaderConfig()
    if isinstance(config, Config):
        return config.loader
    if not isinstance(config, ProgressiveLoaderConfig):
        raise TypeError("config must be a ProgressiveLoaderConfig (or a Config), got "
                        f"{type(config).__name__}")
    return config


def _native_config(config) -> "_core.ProgressiveLoaderConfig":
    # Built through to_native so the loader validates exactly as a Session's config does.
    return to_native(Config(loader=_dataclass_config(config))).loader


class ProgressiveLoader:
    """A progressive loader over one weights file.

    ``source`` is a ``Model`` (layers can then be named), a converted model directory, or a
    ``weights.bin`` path. ``bandwidth_limit_mbps`` throttles reads to emulate a slow disk
    (stats label it as emulated).
    """

    def __init__(self, source, config: Optional[ProgressiveLoaderConfig] = None, *,
                 bandwidth_limit_mbps: Optional[float] = None):
        from .model import Model

        self.layer_names: List[str] = []
        if isinstance(source, Model):
            weights = source.weights_path
            self.layer_names = [l.name for l in source.layers]
        else:
            weights = Path(os.fspath(source))
            if weights.is_dir():
                model = Model(weights)
                weights = model.weights_path
                self.layer_names = [l.name for l in model.layers]
        self.weights_path = Path(weights)
        if not self.weights_path.is_file():
            raise ModelError(f"weights file not found: {self.weights_path}")
        native_config = _native_config(config)
        self._config = _dataclass_config(config)
        self._native = _core.ProgressiveLoader(str(self.weights_path), native_config)
        if self.layer_names:
            self._native.set_layer_names(self.layer_names)
        self._index_by_name: Dict[str, int] = {n: i for i, n in enumerate(self.layer_names)}
        if bandwidth_limit_mbps:
            self.set_bandwidth_limit_mbps(bandwidth_limit_mbps)

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the I/O thread and free every resident layer (also done when collected)."""
        self._native = None

    def __enter__(self) -> "ProgressiveLoader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def native(self):
        if self._native is None:
            raise RuntimeError("this ProgressiveLoader is closed")
        return self._native

    # -- configuration --------------------------------------------------------------------

    @property
    def num_layers(self) -> int:
        return self.native.num_layers

    @property
    def config(self) -> ProgressiveLoaderConfig:
        return self._config

    def set_config(self, config: ProgressiveLoaderConfig) -> None:
        """New window/budget/prefetch settings; a smaller budget evicts at once."""
        native = _native_config(config)
        self._config = _dataclass_config(config)
        self.native.set_config(native)

    def set_bandwidth_limit_mbps(self, mbps: Optional[float]) -> None:
        """Throttle reads to ``mbps`` MB/s (10**6 bytes/s) to emulate slow storage; None/0 = off."""
        self.native.set_bandwidth_limit_mbps(float(mbps or 0.0))

    def set_execution_order(self, layers: Sequence[LayerRef]) -> None:
        """The layer sequence of one inference (repeats allowed); drives prefetch/eviction."""
        self.native.set_execution_order([self.index(l) for l in layers])

    def index(self, layer: LayerRef) -> int:
        """Layer index from an index or (for a loader made from a Model) a layer name."""
        if isinstance(layer, str):
            try:
                return self._index_by_name[layer]
            except KeyError:
                raise KeyError(f"no layer named {layer!r}") from None
        if isinstance(layer, bool):
            raise TypeError("a layer is an index or a name")
        return int(layer)

    # -- seed API -------------------------------------------------------------------------

    def load_layer(self, layer: LayerRef) -> bool:
        """Read the layer now (blocking). False on failure; ``layer_error`` says why."""
        return self.native.load_layer(self.index(layer))

    def unload_layer(self, layer: LayerRef) -> bool:
        """Drop the layer's weights. False if it is in use, being read, or CRITICAL."""
        return self.native.unload_layer(self.index(layer))

    def get_layer_status(self, layer: LayerRef) -> LayerStatus:
        return LayerStatus(int(self.native.get_layer_status(self.index(layer))))

    def set_layer_priority(self, layer: LayerRef, priority) -> None:
        p = LayerPriority.parse(priority)
        self.native.set_layer_priority(self.index(layer), _core.LayerPriority(int(p)))

    def get_layer_priority(self, layer: LayerRef) -> LayerPriority:
        return LayerPriority(int(self.native.get_layer_priority(self.index(layer))))

    def layer_error(self, layer: LayerRef) -> str:
        """Why the layer is in status ERROR ("" otherwise)."""
        return self.native.layer_error(self.index(layer))

    def stats(self) -> dict:
        """Snapshot of the loader's counters; never waits for I/O (safe to poll from a GUI).

        Per-layer lists (``layer_status``, ``layer_priority``, ``layer_load_seconds``,
        ``layer_hits``, ``layer_misses``, ``layer_bytes``, ``layer_resident_bytes``,
        ``layer_planned_bytes``) are indexed by layer; ``storage`` says whether reads are
        throttled (emulated disk). With the adaptive window under a budget, ``plan_active``,
        ``planned_resident_bytes``, ``plan_predicted_seconds`` and ``plan_stream_all_seconds``
        describe the residency plan (which layers stay resident across inferences), and
        ``disk_mb_per_s`` the disk rate it planned with.
        """
        return loader_stats(self.native.stats())

    def reset_stats(self) -> None:
        self.native.reset_stats()

    # -- executor API ---------------------------------------------------------------------

    def acquire(self, layer: LayerRef, position: Optional[int] = None, *, copy: bool = False):
        """Block until the layer is resident and pin it until ``release``.

        ``position`` is its index in the execution order (default: its next occurrence).
        With ``copy=True`` returns a copy of the layer's bytes (a uint8 array).
        """
        return self.native.acquire(self.index(layer), position, copy)

    def release(self, layer: LayerRef) -> None:
        self.native.release(self.index(layer))

    def set_layer_pieces(self, layer: LayerRef, split_offsets: Sequence[int],
                         sequence: Optional[Sequence[int]] = None) -> None:
        """Split a layer into separately cached pieces at byte offsets within its blob.
        `sequence`: the order one use of the layer acquires its pieces in (default ascending);
        prefetch follows it."""
        self.native.set_layer_pieces(self.index(layer), [int(o) for o in split_offsets],
                                     [int(p) for p in (sequence or [])])

    def num_pieces(self, layer: LayerRef) -> int:
        return self.native.num_pieces(self.index(layer))

    def acquire_piece(self, layer: LayerRef, piece: int, position: Optional[int] = None, *,
                      copy: bool = False):
        return self.native.acquire_piece(self.index(layer), piece, position, copy)

    def release_piece(self, layer: LayerRef, piece: int) -> None:
        self.native.release_piece(self.index(layer), piece)

    def __repr__(self) -> str:
        state = "closed" if self._native is None else f"{self.num_layers} layers"
        return f"ProgressiveLoader({str(self.weights_path)!r}, {state})"
