"""Files that appear whole or not at all: readers (another service, a player) never see a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_target(path: Path, suffix: str = ".part") -> Iterator[Path]:
    """A temporary file beside `path` to write; it becomes `path` when the block succeeds, and is removed if not.

    The result is made world-readable (mkstemp makes it private): results are meant for other processes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=suffix)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
