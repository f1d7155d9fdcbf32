"""Resolve user-supplied paths so that nothing outside the configured roots is ever read or written."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


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
    if "\x00" in str(given):  # no file system takes it; Path.resolve would raise ValueError
        raise PathOutsideRoots(str(given).replace("\x00", "\\0"))
    candidate = Path(given)
    inside: list[Path] = []
    for root in roots:
        real_root = root.resolve()
        resolved = (candidate if candidate.is_absolute() else real_root / candidate).resolve()
        if resolved.is_relative_to(real_root):
            inside.append(resolved)
    if not inside:
        raise PathOutsideRoots(str(given))
    # A relative name may fit several roots: prefer the one where the file exists.
    return next((path for path in inside if path.exists()), inside[0])
