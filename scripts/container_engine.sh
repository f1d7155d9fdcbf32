#!/bin/sh
# Which program builds images here: docker when its daemon answers, else podman (Debian: apt-get install podman
# buildah). Prints its name; CONTAINER_ENGINE overrides.
set -eu
if [ -n "${CONTAINER_ENGINE:-}" ]; then
    echo "$CONTAINER_ENGINE"
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    echo docker
elif command -v podman >/dev/null 2>&1; then
    echo podman
else
    echo "no docker daemon answers and there is no podman: start Docker, or apt-get install podman buildah" >&2
    exit 1
fi
