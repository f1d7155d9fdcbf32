#!/usr/bin/env bash
# Build the runtime and evaluator images (the gpu_service is not containerized: it needs the host's GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1; then
  echo "no Docker daemon is reachable: start Docker (Desktop) first" >&2
  exit 1
fi
docker compose build runtime
docker compose --profile evaluator build evaluator
docker image ls 'realtime-avatar-*'
