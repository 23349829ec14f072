"""Presets: TOML round-trip, human units, shipped presets, and errors naming file, field, reason."""
import os
from dataclasses import replace

import pytest

import tinyai_workbench as tw
from tinyai_workbench.presets import (Preset, PresetError, PresetStore, format_size, load_preset,
                                      parse_size, parse_speed, save_preset)
from tinyai_workbench.presets.units import UnitError

SHIPPED = {"low-memory", "balanced", "max-speed", "slow-disk-demo"}


@pytest.mark.parametrize("text,expected", [
    ("256 MiB", 256 * 2**20), ("1.5 GiB", 3 * 2**29), ("512KiB", 512 * 1024), ("100 MB", 10**8),
    ("12 B", 12), ("unlimited", None), (4096, 4096), (0, None),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("n", [256 * 2**20, 3 * 2**29, 1000, 64, 2**30, None])
def test_format_size_round_trips(n):
    assert parse_size(format_size(n)) == n


def test_speed_units():
    assert parse_speed("50 MB/s") == 50.0
    assert parse_speed("1 GB/s") == 1000.0
    assert parse_speed("unlimited") == 0.0
    with pytest.raises(UnitError, match="MB/s"):
        parse_speed("fast")


def test_every_shipped_preset_loads():
    store = PresetStore(user_dir="/nonexistent")
    names = {e.name for e in store.entries() if e.shipped}
    assert SHIPPED <= names
    for name in SHIPPED:
        preset = store.load(name)
        tw.core_native.config.to_native(preset.config)  # the engine accepts it
        assert preset.description
    assert store.load("slow-disk-demo").emulated_disk_mbps > 0
    assert store.load("low-memory").config.memory.max_memory_budget == 64 * 2**20


def test_round_trip_keeps_every_field(tmp_path):
    cfg = tw.Config(
        memory=tw.MemoryOptimizerConfig(False, False, 0.25, 300 * 2**20),
        loader=tw.ProgressiveLoaderConfig(False, 5, True, 96 * 2**20),
        scheduler=tw.LayerSchedulerConfig(True, 0.75, True, 12345),
        cache=tw.CacheConfig(block_size=96, cache_line_size=128, enable_prefetch=False, prefetch_distance=3),
        simd_level=1, threads=2)
    preset = Preset("mine", "round trip", cfg, emulated_disk_mbps=75.5,
                    simd_ops={"matrix_mul": True, "conv": False, "activation": True, "attention": False})
    path = save_preset(preset, tmp_path / "mine.toml")
    text = path.read_text()
    assert "schema_version = 1" in text and '"300 MiB"' in text and '"75.5 MB/s"' in text
    assert load_preset(path) == preset


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = save_preset(Preset("a"), tmp_path / "a.toml")
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_preset(Preset("a", config=tw.Config(simd_level=0)), path)
    assert path.read_bytes() == before  # the old preset survives a failed save
    assert [p.name for p in tmp_path.iterdir()] == ["a.toml"]


@pytest.mark.parametrize("body,field,reason", [
    ("name = 'x'\n", "schema_version", "missing"),
    ("schema_version = 99\n", "schema_version", "newer"),
    ("schema_version = 1\n[memory]\nmax_memory_budget = 'lots'\n", "memory.max_memory_budget", "MiB"),
    ("schema_version = 1\n[memory]\nmemory_speed_tradeoff = 1.5\n", "memory.memory_speed_tradeoff", "0.0"),
    ("schema_version = 1\n[loader]\nprefetch_windw = 2\n", "loader.prefetch_windw", "unknown key"),
    ("schema_version = 1\n[loader]\nprefetch_window = -1\n", "loader.prefetch_window", "whole number"),
    ("schema_version = 1\n[loader]\nemulated_disk_speed = 'quick'\n", "loader.emulated_disk_speed", "MB/s"),
    ("schema_version = 1\n[cache]\ncache_line_size = 48\n", "cache.cache_line_size", "power of two"),
    ("schema_version = 1\n[simd]\nlevel = 7\n", "simd.level", "0 to 3"),
    ("schema_version = 1\n[simd]\nconv = 'yes'\n", "simd.conv", "true or false"),
    ("schema_version = 1\n[runtime]\nthreads = 0\n", "runtime.threads", "1 to"),
    ("schema_version = 1\nbogus = 1\n", "bogus", "unknown key"),
    ("schema_version = 1\nmemory = 3\n", "memory", "table"),
    ("schema_version = [\n", "", "not valid TOML"),
])
def test_bad_preset_names_file_field_and_reason(tmp_path, body, field, reason):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(PresetError) as info:
        load_preset(path)
    err = info.value
    assert err.path == str(path) and err.field == field and reason in err.reason
    assert str(path) in str(err) and reason in str(err)


def test_missing_file_is_a_preset_error(tmp_path):
    with pytest.raises(PresetError, match="cannot read"):
        load_preset(tmp_path / "nope.toml")


def test_store_saves_lists_and_deletes_user_presets_only(tmp_path):
    store = PresetStore(user_dir=tmp_path / "user")
    entry = store.save(Preset("My Tuned/One", config=replace(tw.Config(), simd_level=2)))
    assert entry.name == "My-Tuned-One" and not entry.shipped
    assert store.load("My-Tuned-One").config.simd_level == 2
    with pytest.raises(PresetError, match="shipped"):
        store.save(Preset("balanced"))
    with pytest.raises(PresetError, match="cannot be deleted"):
        store.delete("balanced")
    store.delete("My-Tuned-One")
    assert store.find("My-Tuned-One") is None
