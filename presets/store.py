"""Where presets live: the shipped ones beside this file (read-only) and the user's own in
the user data directory (TINYAI_PRESETS_DIR overrides, e.g. for tests)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from .schema import Preset, PresetError, load_preset, save_preset

SHIPPED_DIR = Path(__file__).resolve().parent


def user_presets_dir() -> Path:
    override = os.environ.get("TINYAI_PRESETS_DIR")
    if override:
        return Path(override)
    import platformdirs
    return Path(platformdirs.user_data_dir("tinyai-workbench")) / "presets"


@dataclass(frozen=True)
class PresetEntry:
    name: str
    path: Path
    shipped: bool


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.")
    if not slug:
        raise PresetError(None, "name", "a preset needs a name with at least one letter or digit")
    return slug


class PresetStore:
    def __init__(self, user_dir: Optional[Path] = None, shipped_dir: Path = SHIPPED_DIR):
        self.user_dir = Path(user_dir) if user_dir else user_presets_dir()
        self.shipped_dir = shipped_dir

    def entries(self) -> List[PresetEntry]:
        """Shipped presets first, then the user's; a user preset never hides a shipped one."""
        shipped = [PresetEntry(p.stem, p, True) for p in sorted(self.shipped_dir.glob("*.toml"))]
        user = [PresetEntry(p.stem, p, False) for p in sorted(self.user_dir.glob("*.toml"))] \
            if self.user_dir.is_dir() else []
        return shipped + user

    def find(self, name: str) -> Optional[PresetEntry]:
        return next((e for e in self.entries() if e.name == name), None)

    def load(self, name: str) -> Preset:
        entry = self.find(name)
        if entry is None:
            raise PresetError(name, "", "no such preset")
        return load_preset(entry.path)

    def save(self, preset: Preset) -> PresetEntry:
        slug = _slug(preset.name)
        shipped = self.shipped_dir / f"{slug}.toml"
        if shipped.exists():
            raise PresetError(shipped, "name", f"'{slug}' is a shipped preset; save under another name")
        path = save_preset(preset, self.user_dir / f"{slug}.toml")
        return PresetEntry(slug, path, False)

    def delete(self, name: str) -> None:
        entry = self.find(name)
        if entry is None:
            raise PresetError(name, "", "no such preset")
        if entry.shipped:
            raise PresetError(entry.path, "", "shipped presets cannot be deleted")
        entry.path.unlink()
