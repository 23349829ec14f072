"""Human units for sizes and speeds in presets: "256 MiB", "1.5 GiB", "50 MB/s", "unlimited".

Binary prefixes (KiB, MiB, GiB) are powers of 1024, decimal ones (kB, MB, GB) powers of 1000,
so "256 MiB" means exactly what the memory plot shows.
"""
from __future__ import annotations

import re
from typing import Optional

_SIZE_FACTORS = {
    "b": 1, "": 1,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}
_SPEED_FACTORS = {"b/s": 1e-6, "kb/s": 1e-3, "mb/s": 1.0, "gb/s": 1e3,
                  "kib/s": 2**10 / 1e6, "mib/s": 2**20 / 1e6, "gib/s": 2**30 / 1e6}
_UNLIMITED = ("unlimited", "none", "off", "auto")
_NUMBER_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z/]*)\s*$")


class UnitError(ValueError):
    """A value that is not a size/speed; the message says what would be accepted."""


def parse_size(value) -> Optional[int]:
    """Bytes from an int, or a string like "256 MiB"; None for "unlimited" (or 0)."""
    if isinstance(value, bool):
        raise UnitError(f"expected a size like \"256 MiB\" or \"unlimited\", got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"a size cannot be negative, got {value}")
        return value or None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value) or None
    if not isinstance(value, str):
        raise UnitError(f"expected a size like \"256 MiB\" or \"unlimited\", got {value!r}")
    if value.strip().lower() in _UNLIMITED:
        return None
    m = _NUMBER_UNIT.match(value)
    unit = m.group(2).lower() if m else None
    if not m or unit not in _SIZE_FACTORS:
        raise UnitError(f"cannot read {value!r} as a size; use e.g. \"256 MiB\", \"1.5 GiB\", "
                        f"\"500 MB\", a number of bytes, or \"unlimited\"")
    n = float(m.group(1)) * _SIZE_FACTORS[unit]
    return int(round(n)) or None


def format_size(n: Optional[int]) -> str:
    """The shortest exact binary-unit spelling: 268435456 -> "256 MiB"; None -> "unlimited"."""
    if not n:
        return "unlimited"
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n % factor == 0:
            return f"{n // factor} {unit}"
        if n >= factor and (n * 1000) % factor == 0:  # e.g. 1.5 GiB, exact to three decimals
            return f"{n / factor:g} {unit}"
    return f"{n} B"


def human_size(n: Optional[float]) -> str:
    """Approximate, for display: 113830048 -> "108.6 MiB"."""
    if n is None:
        return "n/a"
    n = float(n)
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n:.0f} B"


def parse_speed(value) -> float:
    """MB/s (decimal megabytes per second) from "50 MB/s" or a number; 0.0 for "unlimited"."""
    if isinstance(value, bool):
        raise UnitError(f"expected a speed like \"50 MB/s\" or \"unlimited\", got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise UnitError(f"a speed cannot be negative, got {value}")
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a speed like \"50 MB/s\" or \"unlimited\", got {value!r}")
    if value.strip().lower() in _UNLIMITED:
        return 0.0
    m = _NUMBER_UNIT.match(value)
    unit = m.group(2).lower() if m else None
    if not m or unit not in _SPEED_FACTORS:
        raise UnitError(f"cannot read {value!r} as a speed; use e.g. \"50 MB/s\", \"1 GB/s\" or \"unlimited\"")
    return float(m.group(1)) * _SPEED_FACTORS[unit]


def format_speed(mbps: float) -> str:
    if not mbps:
        return "unlimited"
    return f"{mbps:g} MB/s"
