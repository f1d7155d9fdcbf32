#!/usr/bin/env python3
"""Unpack LivePortrait's model code from the `mimic-head` wheel (pinned by hash) into models/mimic-head/.

The tests build random weights from these real classes and run the liveportrait engine on them (the weights
themselves cannot be downloaded here). Nothing is installed: the package folder is only put on sys.path by the
tests. Run again any time: a verified folder is left as it is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.storage.wheels import download_wheels, sha256_of  # noqa: E402

REQUIREMENTS = ROOT / "tests" / "gpu_service" / "mimic-head.txt"
DEFAULT_DEST = ROOT / "models" / "mimic-head"
PACKAGE = "mimic_head"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="folder to hold the mimic_head package")
    target: Path = parser.parse_args(argv).dest.resolve()
    marker = target / ".verified"
    pinned = REQUIREMENTS.read_text()
    if marker.is_file() and marker.read_text() in pinned and (target / PACKAGE / "live_portrait_wrapper.py").is_file():
        print(f"LivePortrait code ready: {target / PACKAGE}")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".mimic-head-") as temporary:
        scratch = Path(temporary)
        print("downloading mimic-head (LivePortrait's model code, 73 KB, pinned by hash) ...", flush=True)
        (wheel,) = download_wheels(REQUIREMENTS, scratch / "wheels")
        unpacked = scratch / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked, [name for name in archive.namelist() if name.startswith(f"{PACKAGE}/")])
        (unpacked / ".verified").write_text(sha256_of(wheel))  # pip checked it against the pinned hash
        shutil.rmtree(target, ignore_errors=True)
        os.replace(unpacked, target)
    print(f"LivePortrait code ready: {target / PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
