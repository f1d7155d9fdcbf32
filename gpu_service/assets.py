"""Bundled assets (voices, portraits) listed in a manifest, or a path inside an allowed folder.

One resolver serves both kinds, so the path checks are the same everywhere a request names a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

from common.errors import BadPath, NotFound
from common.storage.paths import PathOutsideRoots, resolve_within

InfoT = TypeVar("InfoT", bound=BaseModel)


@dataclass(frozen=True)
class AssetReference:
    name: str  # the id, or the path as the request gave it
    path: Path
    face: int = 0  # a portrait's face to animate, by size (0: the largest); unused for voices


class AssetLibrary(Generic[InfoT]):
    def __init__(self, kind: str, folder: Path, manifest: str, info: type[InfoT], roots: list[Path]) -> None:
        self._kind = kind
        self._roots = roots
        manifest_path = folder / manifest
        entries = json.loads(manifest_path.read_text()) if manifest_path.is_file() else []
        self._infos = {entry["id"]: info.model_validate(entry) for entry in entries}
        self._files: dict[str, Path] = {entry["id"]: folder / entry["file"] for entry in entries}

    def list(self) -> list[InfoT]:
        return list(self._infos.values())

    def bundled_file(self, asset_id: str) -> Path:
        """A bundled asset's file by its id alone (never a path): what previews serve."""
        if asset_id not in self._files:
            known = ", ".join(sorted(self._infos)) or "none"
            raise NotFound(f"no bundled {self._kind} '{asset_id}'; bundled {self._kind}s: {known}")
        return self._files[asset_id]

    def resolve(self, name: str, face: int = 0) -> AssetReference:
        if name in self._files:
            return AssetReference(name, self._files[name], face)
        if not _looks_like_path(name):
            known = ", ".join(sorted(self._infos)) or "none"
            raise NotFound(f"unknown {self._kind} '{name}'; known {self._kind}s: {known} (or give a file path)")
        return AssetReference(name, resolve_file(name, self._roots, self._kind), face)


def resolve_file(name: str, roots: list[Path], what: str) -> Path:
    """A file named by a request: 400 if it resolves outside `roots`, 404 if it is not there."""
    try:
        path = resolve_within(name, roots)
    except PathOutsideRoots as exc:
        # The folders are named by their settings: their paths are the host's business, not the caller's.
        raise BadPath(
            f"{what} '{name}' is outside the folders this service reads from "
            "(GPU_OUTPUT_ROOT, GPU_ASSETS_DIR, GPU_EXTRA_INPUT_ROOTS); nothing was read"
        ) from exc
    if not path.is_file():
        raise NotFound(f"{what} file '{name}' not found")
    return path


def _looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".") or Path(name).suffix != ""
