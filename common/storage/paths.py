"""Resolve user-supplied paths so that nothing outside the configured roots is ever read or written."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

MAX_PATH_BYTES = 4096  # PATH_MAX on Linux
MAX_NAME_BYTES = 255  # NAME_MAX: the longest single file or folder name


class PathOutsideRoots(ValueError):
    """A path resolved (after following symlinks) to a place outside every allowed root."""

    def __init__(self, given: str) -> None:
        super().__init__(f"path '{given}' is outside the allowed folders")
        self.given = given


def resolve_within(given: str | Path, roots: Iterable[Path]) -> Path:
    """Return the real path of `given` if it lies inside one of `roots`.

    Relative paths are taken relative to each root in turn. Symlinks are followed before the check,
    so a link pointing out of a root is refused as well. The file need not exist.
    """
    name = str(given)
    # No file system takes these; Path.resolve or stat would raise instead of answering.
    if "\x00" in name or len(name.encode()) > MAX_PATH_BYTES:
        raise PathOutsideRoots(name.replace("\x00", "\\0")[:200])
    candidate = Path(given)
    if any(len(part.encode()) > MAX_NAME_BYTES for part in candidate.parts):
        raise PathOutsideRoots(name[:200])
    inside: list[Path] = []
    for root in roots:
        real_root = root.resolve()
        resolved = (candidate if candidate.is_absolute() else real_root / candidate).resolve()
        if resolved.is_relative_to(real_root):
            inside.append(resolved)
    if not inside:
        raise PathOutsideRoots(str(given))
    # A relative name may fit several roots: prefer the one where the file exists.
    return next((path for path in inside if _exists(path)), inside[0])


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a component that is a file, or a loop: not there for our purposes
        return False
