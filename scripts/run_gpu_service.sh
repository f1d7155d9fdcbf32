#!/usr/bin/env bash
# Run the gpu_service natively (so it can use CUDA or Apple's MPS). Settings come from GPU_* variables or .env.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "no .venv yet: run scripts/setup_gpu_service.sh first" >&2
  exit 1
fi
exec .venv/bin/python -m gpu_service "$@"
