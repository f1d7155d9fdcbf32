#!/usr/bin/env python3
"""GPU check: XTTS-v2 and LivePortrait through the gpu_service, as a table: time to first chunk, real-time factor,
time to first video fragment, frames per second and memory, for short and long texts in en, zh and es.

On a GPU host with the weights:
    .venv/bin/python scripts/gpu_check.py --xtts-dir ~/models/xtts-v2 --liveportrait-dir third_party/LivePortrait
Where weights cannot be downloaded: random weights at the real models' full size (XTTS-v2's published config,
LivePortrait's models.yaml) and LivePortrait's code from the mimic-head wheel. The compute, and so the speed and
the memory, are the real models'; the sound and the picture are noise:
    .venv/bin/python scripts/gpu_check.py --random-weights ~/gpu-check-weights

It starts its own gpu_service on a free loopback port (GPU_DEVICE: CUDA, then MPS, then CPU) and stops it after.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.media.mp4_boxes import BoxReader  # noqa: E402
from common.process.launch import run_service  # noqa: E402
from contracts.gpu_service import SPEAK_ID_HEADER, HealthResponse, SpeakResult  # noqa: E402

TEXTS = {
    ("en", "short"): "Hello! It is good to see you today.",
    ("en", "long"): (
        "Welcome to the museum. The exhibition on the second floor shows paintings from three centuries. "
        "Please keep your voice low in the reading room, and ask at the desk if you need a guide. "
        "We close at six in the evening, and the cafe stays open until seven."
    ),
    ("zh", "short"): "你好！今天很高兴见到你。",
    ("zh", "long"): (
        "欢迎来到博物馆。二楼的展览展出了三个世纪的绘画作品。请在阅览室里保持安静，如果需要导游，请到服务台咨询。"
        "我们晚上六点闭馆，咖啡馆开到七点。"
    ),
    ("es", "short"): "¡Hola! Me alegra verte hoy.",
    ("es", "long"): (
        "Bienvenidos al museo. La exposición del segundo piso muestra pinturas de tres siglos. "
        "Por favor, hablen en voz baja en la sala de lectura y pregunten en el mostrador si necesitan un guía. "
        "Cerramos a las seis de la tarde, y la cafetería abre hasta las siete."
    ),
}
WAV_HEADER = 44


@dataclass
class Row:
    language: str
    length: str
    chars: int
    tts_first_chunk_s: float
    audio_s: float
    tts_rtf: float  # synthesis time / audio length: below 1 is faster than real time
    speak_first_fragment_s: float
    frames: int
    render_fps: float
    resident_peak_gb: float
    device_peak_gb: float  # NaN on the CPU


def measure_tts(client: httpx.Client, text: str, language: str, voice: str) -> tuple[float, float, float]:
    """(first chunk s, audio s, total s) of a streamed XTTS synthesis."""
    body = {"text": text, "language": language, "voice": voice, "engine": "xtts"}
    started = time.perf_counter()
    first, size = 0.0, 0
    with client.stream("POST", "/api/v1/tts/stream", json=body) as response:
        _raise(response)
        rate = int(response.headers["x-sample-rate"])
        for chunk in response.iter_bytes():
            size += len(chunk)
            if not first and size > WAV_HEADER:
                first = time.perf_counter() - started
    return first, (size - WAV_HEADER) / 2 / rate, time.perf_counter() - started


def measure_speak(
    client: httpx.Client, text: str, language: str, voice: str, fps: int, size: int
) -> tuple[float, int, float]:
    """(first fragment s, frames, total s) of XTTS speech rendered by LivePortrait, streamed as fMP4."""
    body = {
        "text": text,
        "language": language,
        "voice": voice,
        "engine": "xtts",
        "avatar_engine": "liveportrait",
        "fps": fps,
        "size": size,
    }
    started = time.perf_counter()
    reader, first = BoxReader(), 0.0
    with client.stream("POST", "/api/v1/speak", json=body) as response:
        _raise(response)
        speak_id = response.headers[SPEAK_ID_HEADER]
        for chunk in response.iter_bytes():
            if not first and any(box.kind == "mdat" for box in reader.feed(chunk)):
                first = time.perf_counter() - started
    total = time.perf_counter() - started
    result = SpeakResult.model_validate(client.get(f"/api/v1/speak/{speak_id}").json())
    return first, result.frames, total


def memory(client: httpx.Client) -> tuple[float, float]:
    """(resident peak GB, device peak GB) from the service's /metrics."""
    text = client.get("/metrics").text

    def gauge(name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) / 1e9 if match else math.nan

    return gauge("gpu_service_resident_memory_peak_bytes"), gauge("gpu_service_device_memory_peak_bytes")


def _raise(response: httpx.Response) -> None:
    if response.status_code >= 400:
        response.read()
        raise SystemExit(f"{response.request.url.path} answered {response.status_code}: {response.text}")


def random_weights(folder: Path) -> tuple[Path, Path, Path]:
    """Full-size random XTTS-v2 and LivePortrait weights (built once into `folder`), and LivePortrait's code."""
    from tests.gpu_service.liveportrait_weights import ADAPTER, build_random_weights
    from tests.gpu_service.tiny_xtts import build_random_xtts

    subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_liveportrait_code.py")], check=True)
    xtts, liveportrait = folder / "xtts-v2", folder / "liveportrait"
    if not (xtts / "model.pth").is_file():
        print(f"building random XTTS-v2 weights at full size in {xtts} (1.9 GB, once) ...", flush=True)
        build_random_xtts(xtts, full_size=True)
    if not (liveportrait / "base_models" / "spade_generator.pth").is_file():
        print(f"building random LivePortrait weights at full size in {liveportrait} (0.5 GB, once) ...", flush=True)
        build_random_weights(liveportrait)
    return xtts, ADAPTER, liveportrait


def table(rows: list[Row]) -> str:
    head = (
        f"{'lang':<4} {'text':<5} {'chars':>5} {'1st chunk':>9} {'audio s':>7} {'TTS RTF':>7} "
        f"{'1st frag':>8} {'frames':>6} {'fps':>6} {'RSS GB':>6} {'GPU GB':>6}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(
            f"{row.language:<4} {row.length:<5} {row.chars:>5} {row.tts_first_chunk_s:>8.2f}s {row.audio_s:>7.1f} "
            f"{row.tts_rtf:>7.2f} {row.speak_first_fragment_s:>7.2f}s {row.frames:>6} {row.render_fps:>6.1f} "
            f"{row.resident_peak_gb:>6.2f} {row.device_peak_gb:>6.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument("--random-weights", type=Path, help="build (once) and use full-size random weights here")
    weights.add_argument("--xtts-dir", type=Path, help="XTTS-v2 model folder (config.json, model.pth, vocab.json)")
    parser.add_argument("--liveportrait-dir", type=Path, help="LivePortrait checkout (with --xtts-dir)")
    parser.add_argument("--liveportrait-weights", type=Path, help="its weights (default: in the checkout)")
    parser.add_argument("--languages", default="en,zh,es")
    parser.add_argument("--lengths", default="short,long")
    parser.add_argument("--voice", default="librivox_en_reader", help="reference voice to clone")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--device", default="auto", help="GPU_DEVICE: auto, cuda, mps or cpu")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    if args.random_weights:
        xtts_dir, checkout, lp_weights = random_weights(args.random_weights)
    elif args.liveportrait_dir is None:
        parser.error("--xtts-dir needs --liveportrait-dir")
    else:
        xtts_dir, checkout, lp_weights = args.xtts_dir, args.liveportrait_dir, args.liveportrait_weights

    scratch = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    env = {
        "GPU_OUTPUT_ROOT": str(scratch / "output"),
        "GPU_DEVICE": args.device,
        "GPU_XTTS__MODEL_DIR": str(xtts_dir),
        "GPU_LIVEPORTRAIT__DIR": str(checkout),
        "GPU_LIVEPORTRAIT__MAX_RENDER_S": "1e9",  # measure, never refuse
        "GPU_LLM__PRELOAD": "false",
        "GPU_SHARED_SECRET": "",
    }
    if lp_weights is not None:
        env["GPU_LIVEPORTRAIT__WEIGHTS_DIR"] = str(lp_weights)
    print(f"starting the gpu_service (log in {scratch}) ...", flush=True)
    rows = []
    with (
        run_service("gpu_service.app:create_app", env, scratch) as service,
        httpx.Client(base_url=service.url, timeout=3600) as client,
    ):
        # One warm-up pass loads both engines and the voice's latents; its figures are not in the table.
        measure_speak(client, "Hi.", "en", args.voice, args.fps, args.size)
        health = HealthResponse.model_validate(client.get("/health").json())
        loads = re.findall(
            r'^gpu_service_engine_load_seconds\{engine="(\w+)"\} (\S+)$', client.get("/metrics").text, re.M
        )
        for language in args.languages.split(","):
            for length in args.lengths.split(","):
                text = TEXTS[(language, length)]
                first_chunk, audio_s, tts_s = measure_tts(client, text, language, args.voice)
                first_fragment, frames, speak_s = measure_speak(client, text, language, args.voice, args.fps, args.size)
                resident, device = memory(client)
                rows.append(
                    Row(
                        language,
                        length,
                        len(text),
                        first_chunk,
                        audio_s,
                        tts_s / audio_s,
                        first_fragment,
                        frames,
                        frames / speak_s,
                        resident,
                        device,
                    )
                )
    kind = (
        "random weights at full size (speed and memory only)"
        if args.random_weights
        else f"weights from {xtts_dir} and {lp_weights or checkout}"
    )
    print(f"\ndevice: {health.device} ({health.device_reason}); {kind}; video {args.size}px at {args.fps} fps")
    print("engines loaded in: " + ", ".join(f"{name} {float(seconds):.1f} s" for name, seconds in loads))
    print(table(rows))
    print("1st chunk: first XTTS audio; TTS RTF: synthesis time / audio length; 1st frag: first playable video")
    print("fragment of /speak (XTTS + LivePortrait); fps: frames / /speak's whole time; memory: peaks so far.")
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
