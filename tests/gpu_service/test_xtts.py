"""The xtts engine on a tiny random checkpoint: the real loading, cloning, synthesis and streaming code path.

STAND-IN: real XTTS-v2 weights cannot be downloaded on this project's machines. `tiny_xtts.build_tiny_xtts`
writes a 2-layer, 64-channel XTTS with random weights in the same file layout, loaded exactly as real weights
are. Its speech is noise-like (untrained), so the tests measure shape, duration, loudness and plumbing, not words.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from common.media.audio import load_audio, rms_dbfs
from common.process.launch import RunningService, run_service
from contracts.gpu_service import AvatarResponse, HealthResponse, SpeakResult, TTSResponse
from contracts.runtime import GenerateResult
from evaluator.media import probe
from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.base import synthesize
from gpu_service.engines.tts.xtts import (
    XTTS_LANGUAGE,
    XttsEngine,
    sentences_for,
    unavailable_reason,
    weights_key,
)
from gpu_service.engines.tts.xtts_settings import XttsSettings
from harness.stack import local_stack
from tests.gpu_service.tiny_xtts import build_tiny_xtts
from tests.media_stream import decode
from tests.runtime.conftest import in_private_mounts, namespaces_available

pytestmark = pytest.mark.deep  # make test-deep

VOICE = AssetReference("librivox_en_reader", DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav")
TEXTS = {
    "en": "Hello there, how are you today?",
    "es": "Hola, ¿qué tal estás hoy?",
    "zh": "你好，今天天气很好。",
}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_xtts(tmp_path_factory.mktemp("tiny-xtts"))


def options(model_dir: Path | None, download: bool = False) -> XttsSettings:
    return XttsSettings(model_dir=model_dir, download=download, fp16=True, stream_chunk_tokens=5)


@pytest.fixture(scope="module")
def engine(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> XttsEngine:
    return XttsEngine(options(tiny_model), "cpu", tmp_path_factory.mktemp("xtts-cache"))


def test_latents_are_computed_once_and_cached_on_disk(
    engine: XttsEngine, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = engine.conditioning(VOICE)
    assert tuple(first.speaker_embedding.shape) == (1, 512, 1)
    assert first.gpt_latent.shape[0] == 1 and first.gpt_latent.shape[2] == 64
    assert engine.conditioning(VOICE) is first  # memory
    cached = list((engine._latents.folder).glob("*.pt"))
    assert len(cached) == 1
    # A fresh engine (a restarted service) reads the latents from disk instead of recomputing them.
    again = XttsEngine(options(tiny_model), "cpu", engine._latents.folder.parent)
    reloaded = again.conditioning(VOICE)
    assert np.allclose(reloaded.gpt_latent.numpy(), first.gpt_latent.numpy())
    assert np.allclose(reloaded.speaker_embedding.numpy(), first.speaker_embedding.numpy())


@pytest.mark.parametrize("language", ["en", "es", "zh"])
def test_synthesizes_each_language_in_the_cloned_voice(engine: XttsEngine, language: str) -> None:
    speech = synthesize(engine, TEXTS[language], language, VOICE, match_voice=False)
    assert speech.sample_rate == 24_000
    assert speech.voice_cloned and not speech.voice_matched
    assert speech.phonemes is None  # no timeline: the avatar follows the audio
    assert 0.2 < speech.duration_s < 10
    assert np.isfinite(speech.samples).all() and np.abs(speech.samples).max() <= 1.0
    assert rms_dbfs(speech.samples) > -70  # not silence (random weights still make sound)
    assert speech.synth_s > 0


def test_streams_chunks_as_they_come(engine: XttsEngine) -> None:
    started = time.perf_counter()
    stream = engine.stream(TEXTS["en"], "en", VOICE, match_voice=False)
    first = next(stream)
    first_chunk_s = time.perf_counter() - started
    rest = list(stream)
    total = sum(len(segment.samples) for segment in [first, *rest])
    assert len(rest) >= 1, "one chunk per 5 GPT tokens: a sentence gives several"
    assert first.samples.dtype == np.float32 and len(first.samples) > 0
    assert first.text and first.phonemes is None  # a sentence's first chunk names it; no timeline
    assert total / engine.sample_rate > 0.2
    whole = time.perf_counter() - started
    assert first_chunk_s < whole


def test_long_text_is_split_under_the_language_limits() -> None:
    limits = {"en": 250, "es": 239, "zh": 82}
    chinese = "今天天气很好，我们去公园散步吧。" * 12  # 192 characters
    pieces = sentences_for(chinese, "zh", limits)
    assert all(len(piece) <= 82 for piece in pieces) and "".join(pieces) == chinese
    english = "This sentence goes on and on, " * 20
    assert all(len(piece) <= 250 for piece in sentences_for(english, "en", limits))
    assert XTTS_LANGUAGE == {"en": "en", "zh": "zh-cn", "es": "es"}


NUMBERS = (
    "The budget rose from 1,234,567 dollars in 2019 to 98,765,432 dollars in 2023, while 4,567,890 people paid "
    "12,345 each and 6,789,012 paid 3,456,789 and 7,654,321 more."
)  # 160 characters, under the character limit; over 400 tokens once the numbers are spelled out


def test_text_is_split_by_the_models_token_count(engine: XttsEngine) -> None:
    tokenizer = engine._model.tokenizer
    limit = engine._config.model_args.gpt_max_text_tokens
    assert len(tokenizer.encode(NUMBERS.lower(), lang="en")) >= limit  # what used to fail XTTS's assertion (a 500)
    pieces = engine._sentences(NUMBERS, "en")
    assert len(pieces) >= 2 and " ".join(pieces).split() == NUMBERS.split()  # nothing lost, nothing reordered
    assert all(len(tokenizer.encode(piece.lower(), lang="en")) < limit for piece in pieces)
    speech = synthesize(engine, NUMBERS, "en", VOICE, match_voice=False)
    assert speech.duration_s > 0.2


def test_too_many_tokens_in_one_word_is_a_422_with_the_reason(
    xtts_service: tuple[RunningService, RunningService],
) -> None:
    gpu, _ = xtts_service
    long_number = "1234567890" * 5
    for path in ("/api/v1/tts", "/api/v1/tts/stream"):
        body = {"text": f"Call {long_number} now.", "language": "en", "voice": "librivox_en_reader"}
        response = httpx.post(f"{gpu.url}{path}", json=body, timeout=300)
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert long_number in detail and "tokens" in detail and "split" in detail
    spelled = httpx.post(
        f"{gpu.url}/api/v1/tts", json={"text": NUMBERS, "language": "en", "voice": "librivox_en_reader"}, timeout=300
    )
    assert spelled.status_code == 200, spelled.text


def test_xtts_needs_a_voice(engine: XttsEngine) -> None:
    from common.errors import Unprocessable

    with pytest.raises(Unprocessable, match="clones a voice"):
        synthesize(engine, "Hello.", "en", None, match_voice=False)


def test_unavailable_reasons_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incomplete = tmp_path / "model"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    reason = unavailable_reason(options(incomplete))
    assert reason is not None and "model.pth" in reason and "vocab.json" in reason
    reason = unavailable_reason(options(None))
    assert reason is not None and "GPU_XTTS__MODEL_DIR" in reason
    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    reason = unavailable_reason(options(None, download=True))
    assert reason is not None and "COQUI_TOS_AGREED=1" in reason and "non-commercial" in reason


def test_a_broken_checkpoint_is_a_clear_load_error(tmp_path: Path, tiny_model: Path) -> None:
    from gpu_service.engines.base import EngineLoadError

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "vocab.json"):
        (broken / name).write_bytes((tiny_model / name).read_bytes())
    (broken / "model.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(EngineLoadError, match="does not load"):
        XttsEngine(options(broken), "cpu", tmp_path)


# --- over HTTP ------------------------------------------------------------------------------------------------------

READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


def legacy_checkpoint(tiny_model: Path, folder: Path) -> Path:
    """The tiny model saved as the original XTTS-v2 file is: its config pickled beside the weights, its classes
    named by their old module (as coqui's own legacy loader expects them)."""
    import torch
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import _legacy_safe_globals

    folder.mkdir()
    for name in ("config.json", "vocab.json"):
        (folder / name).write_bytes((tiny_model / name).read_bytes())
    config = XttsConfig()
    config.load_json(str(tiny_model / "config.json"))
    weights = torch.load(tiny_model / "model.pth", map_location="cpu", weights_only=True)["model"]
    with _legacy_safe_globals():
        torch.save({"model": weights, "config": config}, folder / "model.pth")
    return folder


@pytest.mark.skipif(not namespaces_available(), reason="needs mount namespaces to mount a folder read-only")
def test_a_read_only_original_checkpoint_loads_through_a_cached_copy(tiny_model: Path, tmp_path: Path) -> None:
    original = legacy_checkpoint(tiny_model, tmp_path / "xtts-v2")
    before = hashlib.sha256((original / "model.pth").read_bytes()).hexdigest()
    env = {"GPU_XTTS__MODEL_DIR": str(original), "GPU_TTS_ENGINE": "xtts", "GPU_OUTPUT_ROOT": str(tmp_path / "out")}
    body = {"text": "Hello there.", "language": "en", "voice": "librivox_en_reader"}

    def read_only(command: list[str]) -> list[str]:
        return in_private_mounts(READ_ONLY, str(original), *command)

    for start in range(2):
        logs = tmp_path / f"logs{start}"
        logs.mkdir()
        with run_service("gpu_service.app:create_app", env, logs, wrap=read_only) as gpu:
            response = httpx.post(f"{gpu.url}/api/v1/tts", json=body, timeout=300)
            assert response.status_code == 200, response.text
        copies = list((tmp_path / "out" / "cache" / "xtts-model").iterdir())
        assert [copy.name for copy in copies if not copy.name.startswith(".")] == [copies[0].name]
        if start == 0:
            converted = (copies[0] / "model.pth").stat().st_mtime_ns
    assert (copies[0] / "model.pth").stat().st_mtime_ns == converted  # the second start loaded the copy as it was
    assert hashlib.sha256((original / "model.pth").read_bytes()).hexdigest() == before  # the original untouched


@pytest.fixture(scope="module")
def xtts_service(
    tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningService, RunningService]]:
    base = tmp_path_factory.mktemp("xtts-stack")
    env = {"GPU_XTTS__MODEL_DIR": str(tiny_model), "GPU_TTS_ENGINE": "xtts"}
    with local_stack(base / "gpu", base / "data", base / "logs", gpu_env=env) as (gpu, runtime):
        yield gpu, runtime


def test_health_reports_xtts_ready_with_its_license(xtts_service: tuple[RunningService, RunningService]) -> None:
    gpu, _ = xtts_service
    health = HealthResponse.model_validate(httpx.get(f"{gpu.url}/health").json())
    xtts = next(engine for engine in health.engines if engine.name == "xtts")
    assert xtts.state == "ready" and xtts.default and xtts.license and "Coqui Public Model License" in xtts.license


def test_tts_and_avatar_combine_over_http(xtts_service: tuple[RunningService, RunningService]) -> None:
    gpu, _ = xtts_service
    body = {"text": TEXTS["es"], "language": "es", "voice": "librivox_en_reader"}
    response = httpx.post(f"{gpu.url}/api/v1/tts", json=body, timeout=300)
    assert response.status_code == 200, response.text
    speech = TTSResponse.model_validate(response.json())
    assert speech.engine == "xtts" and speech.voice_cloned and speech.phonemes == []
    samples, rate = load_audio(Path(speech.audio_path))
    assert rate == 24_000 and len(samples) / rate == pytest.approx(speech.duration_s, abs=0.01)
    # No phoneme timeline: the animator drives the mouth from the audio itself.
    avatar = httpx.post(f"{gpu.url}/api/v1/avatar", json={"audio_path": speech.audio_path}, timeout=300)
    assert avatar.status_code == 200, avatar.text
    video = AvatarResponse.model_validate(avatar.json())
    info = probe(Path(video.video_path))
    assert abs(info.duration_s - speech.duration_s) <= 1 / 25 + 1e-6


def test_streaming_endpoint_sends_a_playable_wav(xtts_service: tuple[RunningService, RunningService]) -> None:
    gpu, _ = xtts_service
    body = {"text": TEXTS["en"], "language": "en", "voice": "librivox_en_reader"}
    chunks = []
    with httpx.stream("POST", f"{gpu.url}/api/v1/tts/stream", json=body, timeout=300) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/wav"
        assert response.headers["x-engine"] == "xtts" and response.headers["x-sample-rate"] == "24000"
        assert float(response.headers["x-first-chunk-seconds"]) > 0
        chunks = list(response.iter_raw())
    data = b"".join(chunks)
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and data[36:40] == b"data"
    pcm = np.frombuffer(data[44:], "<i2")
    assert len(pcm) / 24_000 > 0.2


def test_speak_streams_xtts_chunks_as_video(xtts_service: tuple[RunningService, RunningService]) -> None:
    """XTTS streams inside a sentence: each chunk becomes a segment; audio stays aligned across chunk edges."""
    gpu, _ = xtts_service
    body = {"text": TEXTS["en"], "language": "en", "voice": "librivox_en_reader"}
    with httpx.stream("POST", f"{gpu.url}/api/v1/speak", json=body, timeout=300) as response:
        assert response.status_code == 200 and response.headers["x-tts-engine"] == "xtts"
        data = b"".join(response.iter_bytes())
    result = SpeakResult.model_validate(httpx.get(f"{gpu.url}/api/v1/speak/{response.headers['x-speak-id']}").json())
    assert result.status == "done" and result.voice_cloned
    assert result.segments[0].text and any(not segment.text for segment in result.segments[1:]), "chunks continue it"
    clip = decode(data)
    assert len(clip.frames) == result.frames
    assert clip.synced_within(1 / 25)
    starts = [segment.start_s for segment in result.segments]
    assert starts == sorted(starts)
    ends = [segment.start_s + segment.duration_s for segment in result.segments]
    assert all(abs(end - start) < 1e-6 for end, start in zip(ends, starts[1:], strict=False)), "no gaps, no overlaps"


@pytest.mark.parametrize(
    ("path", "leave_after_bytes"), [("/api/v1/tts/stream", 1), ("/api/v1/speak", 1), ("/api/v1/speak", 200_000)]
)
def test_an_abandoned_xtts_stream_releases_the_engine(
    xtts_service: tuple[RunningService, RunningService], path: str, leave_after_bytes: int
) -> None:
    """Before, the engine's lock stayed with an abandoned generator until garbage collection (later calls hung)."""
    gpu, _ = xtts_service
    long_text = " ".join([TEXTS["en"]] * 6)
    body = {"text": long_text, "language": "en", "voice": "librivox_en_reader"}
    received = 0
    with httpx.stream("POST", f"{gpu.url}{path}", json=body, timeout=300) as response:
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received >= leave_after_bytes:
                break
    started = time.perf_counter()
    short = {"text": "Next.", "language": "en", "voice": "librivox_en_reader"}
    answer = httpx.post(f"{gpu.url}/api/v1/tts", json=short, timeout=120)
    assert answer.status_code == 200, answer.text
    # At most the chunk in hand is finished first; six sentences of it would take far longer.
    assert time.perf_counter() - started < 30


def test_generate_through_the_runtime_with_xtts(xtts_service: tuple[RunningService, RunningService]) -> None:
    _, runtime = xtts_service
    body = {"text": TEXTS["en"], "language": "en", "voice": "librivox_en_reader"}
    response = httpx.post(f"{runtime.url}/api/v1/generate", json=body, timeout=600)
    assert response.status_code == 200, response.text
    result = GenerateResult.model_validate(response.json())
    assert result.engines.tts == "xtts" and result.engines.avatar == "animator"
    video = httpx.get(result.video_url, timeout=60)
    assert video.status_code == 200 and len(video.content) > 10_000


def test_without_weights_health_says_why_and_requests_get_503(gpu_service: RunningService) -> None:
    health = HealthResponse.model_validate(httpx.get(f"{gpu_service.url}/health").json())
    xtts = next(engine for engine in health.engines if engine.name == "xtts")
    assert xtts.state == "unavailable" and xtts.reason and "GPU_XTTS__MODEL_DIR" in xtts.reason
    body = {"text": "Hello.", "language": "en", "voice": "librivox_en_reader", "engine": "xtts"}
    for path in ("/api/v1/tts", "/api/v1/tts/stream"):
        response = httpx.post(f"{gpu_service.url}{path}", json=body, timeout=60)
        assert response.status_code == 503
        assert "GPU_XTTS__MODEL_DIR" in response.json()["detail"]


def test_latents_are_keyed_on_the_whole_weights_file(tmp_path: Path) -> None:
    """Two files alike in their first megabytes (a GPT-only fine-tune) must not share conditioning latents."""
    base = np.random.default_rng(0).bytes(3 << 20)
    first, second = tmp_path / "a.pth", tmp_path / "b.pth"
    first.write_bytes(base)
    second.write_bytes(base[:-1] + bytes([base[-1] ^ 1]))
    assert weights_key(first) != weights_key(second)
    assert weights_key(first) == weights_key(first)
