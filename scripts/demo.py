"""`make demo`: start the services on loopback, produce a clip per language, print where the files are, stop.

Runs entirely on the embedded engines (espeak-ng + voice matching), offline.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import httpx

from common.launch import run_service
from gpu_service.config import Settings as GpuSettings
from gpu_service.schemas import AvatarResponse, TTSResponse

SENTENCES = {
    "en": "Hello! I am your realtime avatar, and this is my voice speaking English.",
    "zh": "你好！我是你的实时虚拟形象，现在我在说中文。",
    "es": "¡Hola! Soy tu avatar en tiempo real y ahora estoy hablando en español.",
}
VOICE = "librivox_en_reader"
PORTRAIT = "astronaut"


def main() -> int:
    output_root = GpuSettings().output_root
    logs = Path(tempfile.mkdtemp(prefix="avatar-demo-logs-"))
    print(f"starting gpu_service (output root {output_root}, logs {logs}) ...")
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(output_root)}, logs) as gpu:
        for language, text in SENTENCES.items():
            body = {"text": text, "language": language, "voice": VOICE}
            response = httpx.post(f"{gpu.url}/api/v1/tts", json=body, timeout=300)
            if response.status_code != 200:
                print(f"{language}: HTTP {response.status_code}: {response.text}", file=sys.stderr)
                return 1
            speech = TTSResponse.model_validate(response.json())
            body = {"audio_path": speech.audio_path, "portrait": PORTRAIT, "phonemes": speech.model_dump()["phonemes"]}
            response = httpx.post(f"{gpu.url}/api/v1/avatar", json=body, timeout=600)
            if response.status_code != 200:
                print(f"{language}: HTTP {response.status_code}: {response.text}", file=sys.stderr)
                return 1
            video = AvatarResponse.model_validate(response.json())
            print(f"{language}: {video.video_path}")
            print(
                f"    {video.duration_s:.2f} s clip; speech {speech.timings.total_s:.2f} s "
                f"(voice matched to {VOICE}: {speech.voice_matched}), video {video.timings.total_s:.2f} s"
            )
    print("done; the services are stopped.")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
