#!/usr/bin/env bash
# A base image made from Debian's own packages, for builds that cannot pull python:3.11-slim from a registry.
# Debian 12 (bookworm) minbase with its Python 3.11, a venv on PATH so `python` and `pip` are what the Dockerfiles
# expect (as in python:3.11-slim). Needs root (debootstrap) and docker or podman.
# Usage: scripts/make_base_image.sh [TAG]        (default localhost/realtime-avatar-base:bookworm)
#   MIRROR=http://deb.debian.org/debian   where debootstrap fetches the packages
#   CA_BUNDLE=/path/ca.pem                an extra CA bundle (a TLS-signing proxy) for pip inside the image's builds
set -euo pipefail
tag="${1:-localhost/realtime-avatar-base:bookworm}"
mirror="${MIRROR:-http://deb.debian.org/debian}"
engine="$(sh "$(dirname "$0")/container_engine.sh")"
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "no debootstrap: apt-get install debootstrap" >&2; exit 1; }

root="$(mktemp -d /tmp/realtime-avatar-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
# python3-venv brings ensurepip's wheels; passwd the useradd the Dockerfiles call.
packages=python3,python3-venv,ca-certificates,passwd
echo "debootstrap bookworm into $root (about a minute)"
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
# Debian's Python refuses system-wide pip installs (PEP 668): the images install into this venv instead.
chroot "$root" /usr/bin/python3 -m venv /opt/python
chroot "$root" /opt/python/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

path=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
tar -C "$root" -c . | "$engine" import --change "ENV PATH=$path" --change "ENV LANG=C.UTF-8" \
  --change 'CMD ["python3"]' - "$tag" >/dev/null
echo "built $tag: pass it as BASE_IMAGE (make images BASE_IMAGE=$tag)"
