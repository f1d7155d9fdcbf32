#!/usr/bin/env bash
# Create .venv and install the gpu_service with its embedded engines (espeak-ng, WORLD voice matching).
# Usage: scripts/setup_gpu_service.sh [--python python3.11] [--with-xtts]
#   --with-xtts  also the XTTS-v2 engine (coqui-tts); weights are separate, see GPU_SERVICE.md
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3
extras="gpu"
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python="$2"; shift 2 ;;
    --with-xtts) extras="gpu,xtts"; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[$extras]"
[ "$extras" = "gpu" ] || .venv/bin/python scripts/torchaudio_cpu.py
.venv/bin/python scripts/check_environment.py --service gpu
echo "ready: scripts/run_gpu_service.sh"
