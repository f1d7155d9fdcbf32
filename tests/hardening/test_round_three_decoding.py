"""Recordings that lie about themselves (round three): a length voided in the header, a FLAC that declares no
samples. Decoding follows the limits, not the header, and runs under a memory ceiling."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
import soundfile as sf

from common.errors import TooLarge
from common.media.audio import decode_audio, load_audio
from common.media.bounded import run_bounded
from common.process.launch import RunningService
from gpu_service.config import DEFAULT_ASSETS
from tests.runtime.conftest import Stack

EBML_DURATION = b"\x44\x89\x88"  # the Segment Info's Duration element: its ID, then a size of 8 (a double)
EBML_VOID = 0xEC


def silent_webm_without_duration(seconds: int) -> bytes:
    """Opus in WebM, as a browser records it, of `seconds` of silence; its Duration element overwritten by a Void
    element of the same size, so nothing in the file says how long it is."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        stream.bit_rate = 6_000
        silence = np.zeros((1, 960), np.float32)
        for number in range(seconds * 50):
            frame = av.AudioFrame.from_ndarray(silence, format="flt", layout="mono")
            frame.sample_rate, frame.pts = 48_000, number * 960
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = bytearray(buffer.getvalue())
    at = data.find(EBML_DURATION)
    assert at > 0, "no Duration element written"
    data[at : at + 11] = bytes([EBML_VOID, 0x80 | 9]) + bytes(9)  # Void, 9 bytes of nothing: 11 bytes as before
    return bytes(data)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "silence.webm"
    path.write_bytes(silent_webm_without_duration(16 * 60))  # past the runtime's 900 s for a voice too
    with av.open(str(path)) as container:
        assert container.duration is None, "the header still says how long it is"
    return path


def test_decoding_stops_at_the_limit_whatever_the_header_says(bomb: Path) -> None:
    """Before: every decoded chunk was gathered before the length was checked (an hour of Opus silence: 2-3 GB)."""
    tracemalloc.start()
    try:
        decoded = decode_audio(bomb, sample_rate=16_000, max_seconds=30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded.cut and len(decoded.samples) == 30 * 16_000
    # 30 s at 48 kHz (decoded) and 16 kHz (resampled) in float32: ~8 MB; all 16 minutes took ~560 MB before.
    assert peak < 40e6, f"{peak / 1e6:.0f} MB held while decoding 30 s of a 16-minute file"


def test_a_file_without_its_length_is_refused_while_it_decodes(gpu_service: RunningService, bomb: Path) -> None:
    started = time.monotonic()
    answer = httpx.post(
        f"{gpu_service.url}/api/v1/transcribe", files={"file": ("quiet.webm", bomb.read_bytes())}, timeout=120
    )
    assert answer.status_code == 413 and "GPU_ASR__MAX_SECONDS" in answer.json()["detail"], answer.text
    print(f"refused after {time.monotonic() - started:.1f} s")


def test_a_voice_upload_without_its_length_is_refused_too(stack: Stack, bomb: Path) -> None:
    answer = httpx.post(
        f"{stack.runtime.url}/api/v1/voices", files={"file": ("quiet.webm", bomb.read_bytes())}, timeout=120
    )
    assert answer.status_code == 413, answer.text


def allocate(megabytes: int) -> int:
    """Runs in the decoding child: asks for more memory than its ceiling allows."""
    block = np.ones(megabytes * 2**20, np.uint8)
    return int(block[-1])


def test_the_decoding_child_has_a_memory_ceiling() -> None:
    """Before: only time bounded the decoding child (two bombs at once took the service's processes to 6.1 GB)."""
    assert run_bounded(allocate, 64, timeout_s=30, what="a small file", memory_mb=256) == 1
    with pytest.raises(TooLarge, match="needs more than 256 MB"):
        run_bounded(allocate, 2048, timeout_s=30, what="a large file", memory_mb=256)


def flac_declaring_no_samples() -> bytes:
    """The bundled LibriVox clip as FLAC, with STREAMINFO's total-samples field 0 ("unknown"), as streaming
    encoders write it."""
    samples, rate = load_audio(DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav")
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="FLAC")
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # the first metadata block is STREAMINFO
    info = 8  # after "fLaC" and the block's 4-byte header
    data[info + 13] &= 0xF0  # total samples: the low 4 bits of byte 13 and bytes 14-17 (36 bits)
    data[info + 14 : info + 18] = bytes(4)
    return bytes(data)


def test_a_flac_that_declares_no_samples_is_heard(gpu_service: RunningService, stack: Stack) -> None:
    """Before: soundfile's ValueError ('array is too big') answered a plain-text 500 on /transcribe."""
    data = flac_declaring_no_samples()
    answer = httpx.post(f"{gpu_service.url}/api/v1/transcribe", files={"file": ("clip.flac", data)}, timeout=120)
    assert answer.status_code == 200, answer.text
    assert "dashwood" in answer.json()["text"].lower() and abs(answer.json()["duration_s"] - 10.0) < 0.1
    voice = httpx.post(f"{stack.runtime.url}/api/v1/voices", files={"file": ("clip.flac", data)}, timeout=120)
    assert voice.status_code == 201, voice.text
