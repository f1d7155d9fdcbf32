#!/usr/bin/env python3
"""Make torchaudio importable beside a CPU-only torch.

PyPI's torchaudio for Linux x86_64 is built against CUDA torch; beside the CPU build of torch its compiled
extension cannot load (libc10_cuda.so is missing) and `import torchaudio` fails, which takes `import TTS` with it.
XTTS needs only torchaudio's pure-Python parts (mel spectrogram, resampling), which work without the extension.
When, and only when, torch is a CPU build and the extension fails to load, this moves the extension's libraries
into a `disabled-cuda-extension` folder beside them (undo: move them back). Anywhere else it changes nothing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

PROBE = "import torchaudio"


def imports_cleanly() -> tuple[bool, str]:
    """Whether `import torchaudio` works in a fresh interpreter, and its error output if not."""
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    return result.returncode == 0, result.stderr.strip()


def main() -> int:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        print("torchaudio not installed: nothing to do")
        return 0
    ok, error = imports_cleanly()
    if ok:
        print("torchaudio imports cleanly: nothing to do")
        return 0
    import torch

    if torch.version.cuda is not None or "cuda" not in error.lower():
        print(f"torchaudio fails to import for another reason; not touching it:\n{error}", file=sys.stderr)
        return 1
    lib = Path(spec.origin).parent / "lib"
    disabled = lib / "disabled-cuda-extension"
    disabled.mkdir(exist_ok=True)
    for library in lib.glob("*.so"):
        library.rename(disabled / library.name)
    ok, error = imports_cleanly()
    if not ok:
        print(f"torchaudio still fails to import:\n{error}", file=sys.stderr)
        return 1
    print(f"torchaudio: CUDA extension disabled beside CPU torch (moved to {disabled}); pure-Python parts in use")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
