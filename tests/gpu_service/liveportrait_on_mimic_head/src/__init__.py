"""LivePortrait's `src` package, as the pinned commit lays it out, over mimic-head's real classes (README.md)."""

import sys
from pathlib import Path

CODE = Path(__file__).resolve().parents[4] / "models" / "mimic-head"  # scripts/fetch_liveportrait_code.py
if not (CODE / "mimic_head").is_dir():
    raise ImportError(f"LivePortrait's code is not unpacked in {CODE}: run scripts/fetch_liveportrait_code.py")
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))
