"""Presets: the TOML schema and loader (pure Python, no Qt) and the shipped preset files."""
from .schema import SCHEMA_VERSION, SIMD_OPS, Preset, PresetError, load_preset, preset_from_config, save_preset
from .store import PresetEntry, PresetStore, user_presets_dir
from .units import UnitError, format_size, format_speed, human_size, parse_size, parse_speed

__all__ = ["SCHEMA_VERSION", "SIMD_OPS", "Preset", "PresetEntry", "PresetError", "PresetStore",
           "UnitError", "format_size", "format_speed", "human_size", "load_preset", "parse_size",
           "parse_speed", "preset_from_config", "save_preset", "user_presets_dir"]
