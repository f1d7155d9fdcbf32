#!/usr/bin/env bash
# Build the runtime, gpu_service (CPU) and evaluator images: with docker when its daemon answers, else podman.
# Usage: scripts/build_images.sh [runtime gpu_service evaluator]   (default: all three)
# Settings (environment):
#   BASE_IMAGE       the Python 3.11 base (default python:3.11-slim); with no registry reachable, make one from
#                    Debian's packages: scripts/make_base_image.sh, then BASE_IMAGE=localhost/realtime-avatar-base:bookworm
#   TORCH_INDEX_URL  where torch's CPU build comes from (default download.pytorch.org's CPU index); empty: PyPI and
#                    the wheels below only
#   WHEELS_DIR       a folder of wheels offered before any index (e.g. torch's CPU build on disk)
#   CA_BUNDLE        an extra CA bundle for pip inside the builds (a proxy that signs TLS), given as a build secret
#   IMAGE_TAG        default latest; NO_CACHE=1 builds every layer again (for build times)
# Prints each image's build time and size, and writes them to test-artifacts/images.json.
set -euo pipefail
cd "$(dirname "$0")/.."
engine="$(sh scripts/container_engine.sh)"
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(runtime gpu_service evaluator)
tag="${IMAGE_TAG:-latest}"

args=(--build-arg "BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}")
if [ -n "${TORCH_INDEX_URL+set}" ]; then
  args+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
fi
[ "${NO_CACHE:-}" != 1 ] || args+=(--no-cache)
if [ -n "${CA_BUNDLE:-}" ]; then
  [ -s "$CA_BUNDLE" ] || { echo "CA_BUNDLE=$CA_BUNDLE is not a file" >&2; exit 1; }
  args+=(--secret "id=ca_bundle,src=$CA_BUNDLE")
fi
if [ "$engine" = podman ]; then
  # chroot isolation and the host's network: what builds where cgroups or network namespaces are not allowed
  # (containers inside containers); PODMAN_BUILD_FLAGS replaces them.
  read -r -a extra <<<"${PODMAN_BUILD_FLAGS:---isolation chroot --cgroup-manager=cgroupfs --network host}"
  args+=(--format docker)  # keeps HEALTHCHECK (the OCI format has none)
  args+=("${extra[@]}")
fi

linked=()
cleanup() { [ ${#linked[@]} -eq 0 ] || rm -f "${linked[@]}"; }
trap cleanup EXIT
if [ -n "${WHEELS_DIR:-}" ]; then
  for wheel in "$WHEELS_DIR"/*.whl; do
    [ -e "$wheel" ] || { echo "no wheels in WHEELS_DIR=$WHEELS_DIR" >&2; exit 1; }
    target="deploy/wheels/$(basename "$wheel")"
    [ -e "$target" ] && continue
    ln "$wheel" "$target" 2>/dev/null || cp "$wheel" "$target"  # a hard link costs nothing on the same disk
    linked+=("$target")
  done
fi

mkdir -p test-artifacts
report=test-artifacts/images.json
echo "{" >"$report.part"
first=yes
for service in "${services[@]}"; do
  case "$service" in
    runtime | gpu_service | evaluator) ;;
    *) echo "unknown image: $service (runtime, gpu_service, evaluator)" >&2; exit 2 ;;
  esac
  image="realtime-avatar-${service//_/-}:$tag"
  echo "building $image with $engine ..."
  started=$(date +%s)
  "$engine" build "${args[@]}" --target "$service" -t "$image" . >"test-artifacts/build-$service.log" 2>&1 \
    || { tail -30 "test-artifacts/build-$service.log" >&2; echo "building $image failed (log above)" >&2; exit 1; }
  seconds=$(($(date +%s) - started))
  bytes=$("$engine" image inspect --format '{{.Size}}' "$image")
  printf '%s %s built in %d s, %d MB\n' "$service" "$image" "$seconds" $((bytes / 1000000))
  [ $first = yes ] || echo "," >>"$report.part"
  first=no
  printf '  "%s": {"image": "%s", "build_s": %d, "size_bytes": %d}' "$service" "$image" "$seconds" "$bytes" \
    >>"$report.part"
done
printf '\n}\n' >>"$report.part"
mv "$report.part" "$report"
