#!/usr/bin/env bash
# Create .venv and install the gpu_service with its embedded engines (espeak-ng, WORLD voice matching).
# Usage: scripts/setup_gpu_service.sh [--python python3.11] [--with-xtts] [--with-liveportrait]
#   --with-xtts          also the XTTS-v2 engine (coqui-tts); its weights are separate, see GPU_SERVICE.md
#   --with-liveportrait  clone LivePortrait at a pinned commit into third_party/ and fetch its weights (internet)
# Install torch for your device (CUDA, MPS) before the optional engines; see GPU_SERVICE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3
extras="gpu"
liveportrait=no
LIVEPORTRAIT_REPO=https://github.com/KwaiVGI/LivePortrait
LIVEPORTRAIT_COMMIT=1986663be3b6902605d32200c01f4bfd36cda83d  # pinned: the engine calls its wrapper's methods
LIVEPORTRAIT_DIR=third_party/LivePortrait
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python="$2"; shift 2 ;;
    --with-xtts) extras="$extras,xtts"; shift ;;
    --with-liveportrait) extras="$extras,liveportrait"; liveportrait=yes; shift ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[$extras]"
case "$extras" in *xtts*) .venv/bin/python scripts/torchaudio_cpu.py ;; esac
if [ "$liveportrait" = yes ]; then
  [ -d "$LIVEPORTRAIT_DIR/.git" ] || git clone --quiet "$LIVEPORTRAIT_REPO" "$LIVEPORTRAIT_DIR"
  git -C "$LIVEPORTRAIT_DIR" fetch --quiet origin "$LIVEPORTRAIT_COMMIT"
  git -C "$LIVEPORTRAIT_DIR" checkout --quiet "$LIVEPORTRAIT_COMMIT"
  # Only the human models: the adapter finds faces with MediaPipe, so InsightFace's (non-commercial) models
  # and the animal models are not fetched.
  .venv/bin/python - "$LIVEPORTRAIT_DIR/pretrained_weights" <<'PY'
import sys
from huggingface_hub import snapshot_download
snapshot_download("KwaiVGI/LivePortrait", local_dir=sys.argv[1], allow_patterns=["liveportrait/base_models/*", "liveportrait/retargeting_models/*"])
PY
  echo "LivePortrait ready: export GPU_LIVEPORTRAIT__DIR=$PWD/$LIVEPORTRAIT_DIR GPU_AVATAR_ENGINE=liveportrait"
fi
.venv/bin/python scripts/check_environment.py --service gpu
echo "ready: scripts/run_gpu_service.sh"
