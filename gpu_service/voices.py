"""Reference voices: the bundled ones listed in assets/voices/voices.json, or a path inside an allowed folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from common.paths import PathOutsideRoots, resolve_within
from gpu_service.errors import BadPath, NotFound
from gpu_service.schemas import VoiceInfo

MANIFEST = "voices.json"


@dataclass(frozen=True)
class VoiceReference:
    name: str  # the id, or the path as the request gave it
    path: Path


class VoiceLibrary:
    def __init__(self, voices_dir: Path, roots: list[Path]) -> None:
        self._voices_dir = voices_dir
        self._roots = roots
        manifest = voices_dir / MANIFEST
        entries = json.loads(manifest.read_text()) if manifest.is_file() else []
        self._voices = {entry["id"]: VoiceInfo.model_validate(entry) for entry in entries}
        self._files = {entry["id"]: voices_dir / entry["file"] for entry in entries}

    def list(self) -> list[VoiceInfo]:
        return list(self._voices.values())

    def resolve(self, name: str) -> VoiceReference:
        if name in self._files:
            return VoiceReference(name, self._files[name])
        if not _looks_like_path(name):
            known = ", ".join(sorted(self._voices)) or "none"
            raise NotFound(f"unknown voice '{name}'; known voices: {known} (or give a file path)")
        try:
            path = resolve_within(name, self._roots)
        except PathOutsideRoots as exc:
            folders = ", ".join(str(root) for root in self._roots)
            raise BadPath(f"voice {exc}; voice files must be inside: {folders}") from exc
        if not path.is_file():
            raise NotFound(f"voice file '{name}' not found")
        return VoiceReference(name, path)


def _looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".") or Path(name).suffix != ""
