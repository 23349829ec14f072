"""Session configuration: a dataclass tree mirroring the TinyAI seed structs field for field.

Sizes are bytes; ``None`` or ``0`` means unlimited. ``to_native`` converts to the core's
``SessionConfig`` after validating ranges, so a bad value is reported by field name.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Optional

from . import _core


@dataclass
class MemoryOptimizerConfig:
    enable_tensor_reuse: bool = True
    enable_in_place_ops: bool = True
    memory_speed_tradeoff: float = 0.5  # 0.0 favours memory, 1.0 favours speed
    max_memory_budget: Optional[int] = None


@dataclass
class ProgressiveLoaderConfig:
    enable_prefetch: bool = True
    prefetch_window: int = 2
    enable_adaptive_window: bool = False
    max_memory_usage: Optional[int] = None


class CheckpointStrategy(enum.IntEnum):
    """Per-layer activation checkpointing (``Session.set_layer_checkpointing_strategy``),
    honoured while ``scheduler.enable_checkpointing`` is on:

    KEEP: outputs live until their last use; with ``recompute_activations`` the planner may
    still drop and recompute them. CHECKPOINT: outputs always kept (a recompute may start from
    them), never recomputed. RECOMPUTE: outputs dropped after their first use and recomputed
    before their later uses.
    """

    KEEP = 0
    CHECKPOINT = 1
    RECOMPUTE = 2

    @classmethod
    def parse(cls, value) -> "CheckpointStrategy":
        """From itself, its value (0..2) or its name ("recompute", "KEEP")."""
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise ValueError(f"checkpoint strategy must be one of {[m.name for m in cls]}, "
                                 f"got {value!r}") from None
        if isinstance(value, bool):
            raise ValueError(f"checkpoint strategy must be a CheckpointStrategy, got {value!r}")
        try:
            return cls(int(value))
        except (ValueError, TypeError):
            raise ValueError(f"checkpoint strategy must be one of {[m.name for m in cls]}, "
                             f"got {value!r}") from None


@dataclass
class LayerSchedulerConfig:
    enable_checkpointing: bool = False
    memory_speed_tradeoff: float = 0.5
    recompute_activations: bool = False
    max_activation_memory: Optional[int] = None


@dataclass
class CacheConfig:
    # K depth of a GEMM/conv cache block in steps of 8 floats (64 -> kc = 512 floats: the
    # packed A block then fills about a third of a 1 MiB L2). See simd.recommended_cache_config()
    # for the values derived from this machine's caches.
    block_size: int = 64
    cache_line_size: int = 64
    enable_prefetch: bool = True
    prefetch_distance: int = 8  # in cache lines, ahead in the packed GEMM panels (level 3)


@dataclass
class SimdOpsConfig:
    """Per op family SIMD switches (seed: tinyaiEnableSIMD per TinyAISIMDOpType). A family
    switched off runs its scalar reference kernels whatever ``simd_level`` says."""
    matrix_mul: bool = True
    conv: bool = True
    activation: bool = True
    attention: bool = True


@dataclass
class Config:
    memory: MemoryOptimizerConfig = field(default_factory=MemoryOptimizerConfig)
    loader: ProgressiveLoaderConfig = field(default_factory=ProgressiveLoaderConfig)
    scheduler: LayerSchedulerConfig = field(default_factory=LayerSchedulerConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    simd_level: int = 3  # 0 scalar reference, 1 SSE2/NEON, 2 AVX2+FMA, 3 widest ISA + prefetch/fusion
    threads: Optional[int] = None  # None = physical cores
    simd_ops: SimdOpsConfig = field(default_factory=SimdOpsConfig)

    def as_dict(self) -> dict:
        return asdict(self)


def _bytes(name: str, value) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative number of bytes or None, got {value!r}")
    return value


def _fraction(name: str, value) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0.0 and 1.0, got {value}")
    return value


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def to_native(config: Config) -> "_core.SessionConfig":
    """Validate ``config`` and build the core's SessionConfig."""
    n = _core.SessionConfig()
    m, l, s, c = config.memory, config.loader, config.scheduler, config.cache
    mem = n.memory
    mem.enable_tensor_reuse = bool(m.enable_tensor_reuse)
    mem.enable_in_place_ops = bool(m.enable_in_place_ops)
    mem.memory_speed_tradeoff = _fraction("memory.memory_speed_tradeoff", m.memory_speed_tradeoff)
    mem.max_memory_budget = _bytes("memory.max_memory_budget", m.max_memory_budget)
    n.memory = mem
    ld = n.loader
    ld.enable_prefetch = bool(l.enable_prefetch)
    ld.prefetch_window = _positive_int("loader.prefetch_window", l.prefetch_window, 0)
    ld.enable_adaptive_window = bool(l.enable_adaptive_window)
    ld.max_memory_usage = _bytes("loader.max_memory_usage", l.max_memory_usage)
    n.loader = ld
    sc = n.scheduler
    sc.enable_checkpointing = bool(s.enable_checkpointing)
    sc.memory_speed_tradeoff = _fraction("scheduler.memory_speed_tradeoff", s.memory_speed_tradeoff)
    sc.recompute_activations = bool(s.recompute_activations)
    sc.max_activation_memory = _bytes("scheduler.max_activation_memory", s.max_activation_memory)
    n.scheduler = sc
    cc = n.cache
    cc.block_size = _positive_int("cache.block_size", c.block_size)
    cc.cache_line_size = _positive_int("cache.cache_line_size", c.cache_line_size)
    cc.enable_prefetch = bool(c.enable_prefetch)
    cc.prefetch_distance = _positive_int("cache.prefetch_distance", c.prefetch_distance, 0)
    n.cache = cc
    if isinstance(config.simd_level, bool) or config.simd_level not in (0, 1, 2, 3):
        raise ValueError(f"simd_level must be 0, 1, 2 or 3, got {config.simd_level!r}")
    n.simd_level = config.simd_level
    ops = n.simd_ops
    for name in ("matrix_mul", "conv", "activation", "attention"):
        setattr(ops, name, bool(getattr(config.simd_ops, name)))
    n.simd_ops = ops
    n.threads = 0 if config.threads is None else _positive_int("threads", config.threads)
    return n
