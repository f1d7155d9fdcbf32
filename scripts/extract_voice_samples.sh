#!/usr/bin/env bash
# Turn a video or a long recording into a clean ~10 s voice reference (mono 16 kHz, silences trimmed, -23 LUFS).
# Usage: scripts/extract_voice_samples.sh INPUT OUTPUT.wav [--seconds 10] [--start 0]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,3p' "$0" | sed 's/^# //' >&2
  exit 2
fi
exec .venv/bin/python -m common.media.voice_sample "$@"
