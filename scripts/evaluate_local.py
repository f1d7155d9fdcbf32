"""`make evaluate`: start both services on loopback (embedded engines), run the evaluator against them, stop both.

Arguments go to the evaluator, e.g. `make evaluate ARGS="--suite gold --repeat 3"`. Against a runtime that is
already running, call `python -m evaluator --runtime-url URL` instead.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from evaluator.__main__ import main as evaluate
from gpu_service.config import Settings as GpuSettings
from harness.stack import local_stack
from runtime.config import Settings as RuntimeSettings


def main(argv: list[str]) -> int:
    logs = Path(tempfile.mkdtemp(prefix="avatar-eval-logs-"))
    print(f"starting gpu_service and runtime on loopback (logs in {logs}) ...", file=sys.stderr)
    with local_stack(GpuSettings().output_root, RuntimeSettings().data_dir, logs) as (_, runtime):
        return evaluate(["--runtime-url", runtime.url, *argv])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
