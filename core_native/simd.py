"""SIMD acceleration and cache optimization (the TinyAI seed's "Performance Optimization" API).

- ``simd_capabilities()``: instruction sets found by cpuid (and enabled by the OS), the widest
  vector width, the ISA each optimization level runs, cache sizes, core counts.
- ``enable_simd(session, SimdOp.CONV, False)`` / ``set_simd_optimization_level(session, 2)``:
  change the session's configuration (applied at the next run, never mid-run).
- ``cache_stats()``: L1 / LLC references and misses, ``source`` = "perf" (hardware counters
  via perf_event_open) or "model" (an estimate from the GEMM tiling, when the kernel refuses
  hardware events, e.g. in a VM without a PMU).
- ``optimize_memory_layout(session)``: cache-friendly settings for the session's weights
  (blocking from the detected caches, prefetch and fused epilogues at level 3).

Optimization levels: 0 scalar reference (plain loops, libm), 1 baseline 128-bit vectors
(SSE2 / NEON) with fast vectorised exp/erf/tanh, 2 AVX2 + FMA, 3 the widest ISA present
(AVX-512F here) with software prefetch and bias/activation fused into the GEMM store.
"""
from __future__ import annotations

import enum
from dataclasses import replace
from typing import Dict, Optional

from . import _core
from .config import CacheConfig, Config

__all__ = ["SimdOp", "simd_capabilities", "enable_simd", "set_simd_optimization_level",
           "cache_stats", "reset_cache_stats", "recommended_cache_config",
           "optimize_memory_layout"]


class SimdOp(enum.IntEnum):
    """Op families with SIMD kernels (seed: TinyAISIMDOpType)."""
    MATRIX_MUL = 0
    CONV = 1
    ACTIVATION = 2
    ATTENTION = 3

    @property
    def field(self) -> str:
        return self.name.lower()


def simd_capabilities() -> Dict[str, object]:
    """What this CPU offers, detected once per process (cpuid + xgetbv, sysfs caches)."""
    return dict(_core.simd_capabilities())


def _as_op(op_type) -> SimdOp:
    if isinstance(op_type, SimdOp):
        return op_type
    if isinstance(op_type, str):
        try:
            return SimdOp[op_type.upper()]
        except KeyError:
            raise ValueError(f"unknown SIMD op family {op_type!r}; use one of "
                             f"{', '.join(m.name for m in SimdOp)}") from None
    return SimdOp(int(op_type))


def with_simd_enabled(config: Config, op_type, enable: bool) -> Config:
    """`config` with one op family's SIMD switched on or off."""
    op = _as_op(op_type)
    return replace(config, simd_ops=replace(config.simd_ops, **{op.field: bool(enable)}))


def with_simd_level(config: Config, level: int) -> Config:
    if isinstance(level, bool) or level not in (0, 1, 2, 3):
        raise ValueError(f"SIMD optimization level must be 0, 1, 2 or 3, got {level!r}")
    return replace(config, simd_level=int(level))


def enable_simd(session, op_type, enable: bool) -> bool:
    """Switch SIMD for one op family of `session` (seed: tinyaiEnableSIMD); next run."""
    session.set_config(with_simd_enabled(session.config, op_type, enable))
    return True


def set_simd_optimization_level(session, level: int) -> None:
    """0 scalar reference .. 3 widest ISA with prefetch and fusion; next run."""
    session.set_config(with_simd_level(session.config, level))


def cache_stats(session=None) -> Dict[str, object]:
    """CPU cache references/misses since the last reset_cache_stats() (process-wide: the
    kernels of every session count). Keys: source ("perf" | "model"), detail, l1_references,
    l1_misses, l1_hit_rate, llc_references, llc_misses, llc_hit_rate, hit_rate (= L1),
    gemm_calls, gemm_flops."""
    return dict(_core.cache_stats())


def reset_cache_stats() -> None:
    _core.reset_cache_stats()


def recommended_cache_config() -> CacheConfig:
    """CacheConfig derived from this machine's caches: the GEMM's K block (block_size, in
    8-float steps) sized so a packed A block of ~12 register tiles fills a third of L2, the
    detected line size, prefetch on at 8 lines."""
    caps = simd_capabilities()
    l2 = int(caps["l2_bytes"])
    rows = 168  # about 12 register tiles of 14 rows (AVX-512) or 28 of 6 (AVX2)
    kc = max(64, min(1024, l2 // 3 // (rows * 4)))
    kc = 1 << (kc.bit_length() - 1)  # a power of two
    return CacheConfig(block_size=max(8, kc // 8), cache_line_size=int(caps["cache_line_bytes"]),
                       enable_prefetch=True, prefetch_distance=8)


def optimize_memory_layout(session) -> Dict[str, object]:
    """Cache-optimize `session` (seed: tinyaiOptimizeMemoryLayout): blocking from the detected
    caches, prefetch on, level 3. Weights are packed into the blocked panel layout by the GEMM
    as it runs, in per-node scratch (counted in stats()["scratch_bytes"] while a node runs);
    returns the settings applied."""
    cfg = session.config
    cache = recommended_cache_config()
    session.set_config(replace(cfg, cache=cache, simd_level=3))
    return {"cache": cache, "simd_level": 3, "packed_weights": "scratch"}
