#!/usr/bin/env bash
# Everything on this machine, no Docker: .venv with the gpu_service and the runtime, then an environment check.
# Afterwards: scripts/run_gpu_service.sh & .venv/bin/python -m runtime   (or simply: make demo)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[gpu,runtime]"
[ -f .env ] || { cp .env.example .env; echo "wrote .env from .env.example"; }
.venv/bin/python scripts/check_environment.py
