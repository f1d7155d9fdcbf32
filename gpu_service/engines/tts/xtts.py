"""The `xtts` TTS engine: Coqui XTTS-v2 cloning the reference voice, on CUDA, MPS or CPU.

Needs the `xtts` extra (coqui-tts) and the model folder (config.json, model.pth, vocab.json; speakers_xtts.pth
when present). Reference audio is read with soundfile, never torchaudio.load: torchaudio's loader goes through
torchcodec, whose compiled part does not load beside a CPU-only torch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import Unprocessable
from common.media.audio import load_audio
from common.storage.files import atomic_target
from common.text.speakable import speakable
from gpu_service.assets import AssetReference
from gpu_service.engines.base import EngineLoadError, SpeechSegment
from gpu_service.engines.tts.xtts_settings import XttsSettings
from gpu_service.text import is_cjk, split_sentences

log = logging.getLogger("gpu_service.xtts")

XTTS_LANGUAGE = {"en": "en", "zh": "zh-cn", "es": "es"}
REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
HUB_MODEL = "tts_models/multilingual/multi-dataset/xtts_v2"
LICENSE = "XTTS-v2 weights: Coqui Public Model License 1.0.0 (non-commercial), https://coqui.ai/cpml"
SENTENCE_GAP_S = 0.12  # silence between sentences synthesized separately
LATENTS_VERSION = 1


def unavailable_reason(options: XttsSettings) -> str | None:
    """Why the engine cannot load, checked without loading anything (for /health and 503s)."""
    if importlib.util.find_spec("TTS") is None:
        return "coqui-tts is not installed; install the xtts extra: pip install -e '.[xtts]' (see GPU_SERVICE.md)"
    if options.model_dir is not None:
        missing = [name for name in REQUIRED_FILES if not (options.model_dir / name).is_file()]
        if missing:
            return f"the XTTS model folder (GPU_XTTS__MODEL_DIR) lacks {', '.join(missing)}"
        return None
    if not options.download:
        return (
            "no XTTS model: set GPU_XTTS__MODEL_DIR to a folder with config.json, model.pth and vocab.json, "
            "or GPU_XTTS__DOWNLOAD=true on a machine with internet (see GPU_SERVICE.md)"
        )
    if os.environ.get("COQUI_TOS_AGREED") != "1":
        return f"{LICENSE}. Set COQUI_TOS_AGREED=1 to accept it before coqui downloads the weights"
    return None


def _download(options: XttsSettings, cache_dir: Path) -> Path:
    from TTS.utils.manage import ModelManager

    model_path, _, _ = ModelManager(progress_bar=False).download_model(HUB_MODEL)
    return Path(model_path)


def sentences_for(text: str, language: str, char_limits: dict[str, int]) -> list[str]:
    """Sentences no longer than XTTS's per-language limit (it warns past it and degrades; zh: 82 characters)."""
    return split_sentences(text, max_chars=int(char_limits.get(XTTS_LANGUAGE[language].split("-")[0], 250)))


def pieces_within(
    text: str, language: str, char_limits: dict[str, int], count_tokens: Callable[[str], int], max_tokens: int
) -> list[str]:
    """`sentences_for`, each split further until its token count (as XTTS counts it: after its own number and
    symbol expansion, so "1,234,567" costs words, not digits) is under `max_tokens`. A piece that cannot be split
    (one word) and is still too long is a 422, before any audio."""
    return [
        piece
        for sentence in sentences_for(text, language, char_limits)
        for piece in _fit(sentence, count_tokens, max_tokens)
    ]


def _fit(piece: str, count_tokens: Callable[[str], int], max_tokens: int) -> list[str]:
    if count_tokens(piece) < max_tokens:
        return [piece]
    words = piece.split()
    if len(words) > 1:
        middle = len(words) // 2
        # Prefer a clause boundary near the middle, so each half is read as a phrase.
        clause_ends = [i + 1 for i, word in enumerate(words[:-1]) if word[-1] in ",;:，；：、"]
        cut = min(clause_ends, key=lambda end: abs(end - middle)) if clause_ends else middle
        cut = cut if len(words) // 4 <= cut <= len(words) - len(words) // 4 else middle
        halves = [" ".join(words[:cut]), " ".join(words[cut:])]
    elif len(piece) > 1 and any(is_cjk(char) for char in piece):
        halves = [piece[: len(piece) // 2], piece[len(piece) // 2 :]]  # no spaces between words: halve anyway
    else:
        shown = piece if len(piece) <= 60 else piece[:57] + "..."
        raise Unprocessable(
            f"'{shown}' makes {count_tokens(piece)} tokens once XTTS spells it out (numbers become words); it takes "
            f"fewer than {max_tokens} per piece and this one has no space to split at: shorten it or add spaces"
        )
    return [part for half in halves for part in _fit(half, count_tokens, max_tokens)]


def loadable_folder(model_dir: Path, cache_dir: Path) -> Path:
    """The folder coqui loads from. coqui rewrites model.pth in place when it holds a pickled config (the original
    XTTS-v2 file does), which fails on a read-only folder (a mounted volume, another user's files). Such a folder
    is loaded through a writable copy in the cache, made once per weights file: the other files linked, model.pth
    copied (coqui converts the copy the first time, later starts load the converted copy)."""
    weights = model_dir / "model.pth"
    if os.access(model_dir, os.W_OK) and os.access(weights, os.W_OK):
        return model_dir
    copy = cache_dir / "xtts-model" / weights_key(weights)[:16]
    if (copy / "model.pth").is_file():
        return copy
    log.info("XTTS folder %s is read-only: loading through a writable copy in %s (once)", model_dir, copy)
    copy.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=copy.parent, prefix=".copying-"))  # appears whole, or not at all
    try:
        for entry in model_dir.iterdir():
            if entry.name != "model.pth":
                (partial / entry.name).symlink_to(entry.resolve())
        shutil.copyfile(weights, partial / "model.pth")
        os.replace(partial, copy)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return copy


def weights_key(path: Path) -> str:
    """A digest of the whole weights file: a fine-tune that changes only the GPT (past the first megabyte) gets
    other latents. BLAKE2 reads ~1 GB/s here, a second or two for XTTS-v2, next to a load of many seconds."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "blake2b").hexdigest()[:16]


@dataclass
class Conditioning:
    gpt_latent: Any  # torch.Tensor [1, tokens, channels]
    speaker_embedding: Any  # torch.Tensor [1, 512, 1]


class LatentCache:
    """Conditioning latents per reference voice: in memory, and on disk keyed by the sample's and model's hashes."""

    def __init__(self, folder: Path, model_key: str) -> None:
        self.folder = folder
        self.model_key = model_key
        self._memory: dict[str, Conditioning] = {}
        self._lock = threading.Lock()

    def key(self, sample: Path) -> str:
        digest = hashlib.sha256(sample.read_bytes())
        digest.update(f"{self.model_key}/{LATENTS_VERSION}".encode())
        return digest.hexdigest()[:32]

    def get(self, key: str) -> Conditioning | None:
        import torch

        with self._lock:
            if key in self._memory:
                return self._memory[key]
        path = self.folder / f"{key}.pt"
        if not path.is_file():
            return None
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            found = Conditioning(stored["gpt_latent"], stored["speaker_embedding"])
        except (OSError, RuntimeError, KeyError) as error:  # a damaged cache file is rebuilt, not fatal
            log.warning("ignoring unreadable latent cache %s: %s", path, error)
            return None
        with self._lock:
            self._memory[key] = found
        return found

    def put(self, key: str, conditioning: Conditioning) -> None:
        import torch

        tensors = {
            "gpt_latent": conditioning.gpt_latent.cpu(),
            "speaker_embedding": conditioning.speaker_embedding.cpu(),
        }
        with atomic_target(self.folder / f"{key}.pt") as partial:
            torch.save(tensors, partial)
        with self._lock:
            self._memory[key] = conditioning


class XttsEngine:
    name = "xtts"
    languages = frozenset(XTTS_LANGUAGE)

    def __init__(self, options: XttsSettings, device: str, cache_dir: Path) -> None:
        reason = unavailable_reason(options)
        if reason is not None:
            raise EngineLoadError(reason)
        import torch
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts

        model_dir = options.model_dir or _download(options, cache_dir)
        started = time.perf_counter()
        try:
            model_dir = loadable_folder(model_dir, cache_dir)
        except OSError as error:
            raise EngineLoadError(
                f"the XTTS folder {model_dir} is read-only and its writable copy could not be made in "
                f"{cache_dir} (the cache under GPU_OUTPUT_ROOT): {error}"
            ) from error
        config = XttsConfig()
        config.load_json(str(model_dir / "config.json"))
        model = Xtts(config)
        try:
            model.load_checkpoint(config, checkpoint_dir=str(model_dir), eval=True, use_deepspeed=False)
        except (RuntimeError, KeyError, ValueError, OSError, EOFError, pickle.UnpicklingError) as error:
            raise EngineLoadError(f"the XTTS model (GPU_XTTS__MODEL_DIR) does not load: {error}") from error
        self._model = model.to(device)
        self._config = config
        self._torch = torch
        self._device = device
        self._fp16 = options.fp16 and device == "cuda"  # half precision pays off on CUDA only
        self._chunk_tokens = options.stream_chunk_tokens
        self.sample_rate = int(config.model_args.output_sample_rate)
        self.load_s = time.perf_counter() - started
        self._latents = LatentCache(cache_dir / "xtts-latents", weights_key(model_dir / "model.pth"))
        self._lock = threading.Lock()  # one inference at a time on the device
        log.info("XTTS loaded from %s on %s in %.1f s", model_dir, device, self.load_s)

    # -- voice ---------------------------------------------------------------------------------------------------

    def conditioning(self, voice: AssetReference) -> Conditioning:
        key = self._latents.key(voice.path)
        found = self._latents.get(key)
        if found is not None:
            return found
        samples, rate = load_audio(voice.path)
        audio = self._torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None, :]
        config = self._config
        with self._lock:
            gpt_latent = self._model.get_gpt_cond_latents(
                audio, rate, length=config.gpt_cond_len, chunk_length=config.gpt_cond_chunk_len
            )
            speaker = self._model.get_speaker_embedding(audio[:, : rate * config.max_ref_len], rate)
        conditioning = Conditioning(gpt_latent.cpu(), speaker.cpu())
        self._latents.put(key, conditioning)
        return conditioning

    # -- speech --------------------------------------------------------------------------------------------------

    def _sentences(self, text: str, language: str) -> list[str]:
        tokenizer, code = self._model.tokenizer, XTTS_LANGUAGE[language]

        def count_tokens(piece: str) -> int:  # as inference_stream encodes what is said
            return len(tokenizer.encode(speakable(piece, language).strip().lower(), lang=code))

        max_tokens = int(self._config.model_args.gpt_max_text_tokens)
        return pieces_within(text, language, tokenizer.char_limits, count_tokens, max_tokens)

    def _settings(self) -> dict[str, Any]:
        config = self._config
        return {
            "temperature": config.temperature,
            "length_penalty": config.length_penalty,
            "repetition_penalty": config.repetition_penalty,
            "top_k": config.top_k,
            "top_p": config.top_p,
        }

    def _autocast(self) -> Any:
        return self._torch.autocast("cuda", dtype=self._torch.float16) if self._fp16 else nullcontext()

    def _voice(self, voice: AssetReference | None) -> AssetReference:
        if voice is None:
            raise Unprocessable("the xtts engine clones a voice: name one (an id from /api/v1/voices or an upload)")
        return voice

    def stream(
        self, text: str, language: str, voice: AssetReference | None, *, match_voice: bool
    ) -> Iterator[SpeechSegment]:
        """Segments as XTTS produces them: a sentence's first chunk carries its text, later chunks continue it.

        `match_voice` does not apply: XTTS always speaks in the cloned voice. The device lock is held while one
        sentence streams; closing the iterator releases it (every route closes its stream when the response ends).
        """
        started = time.perf_counter()
        sentences = self._sentences(text, language)  # a text XTTS cannot take is refused before any work
        conditioning = self.conditioning(self._voice(voice))
        latents_s = time.perf_counter() - started
        gap = np.zeros(round(SENTENCE_GAP_S * self.sample_rate), np.float32)
        for number, sentence in enumerate(sentences):
            said = speakable(sentence, language)  # the segment keeps the sentence as written
            with self._lock, self._autocast():
                chunks = self._model.inference_stream(
                    said,
                    XTTS_LANGUAGE[language],
                    conditioning.gpt_latent,
                    conditioning.speaker_embedding,
                    stream_chunk_size=self._chunk_tokens,
                    **self._settings(),
                )
                first = True
                tick = time.perf_counter()
                for chunk in chunks:
                    samples = np.clip(chunk.detach().cpu().float().numpy(), -1.0, 1.0).astype(np.float32)
                    if first and number > 0:
                        samples = np.concatenate([gap, samples])  # a pause between sentences
                    seconds = time.perf_counter() - tick + (latents_s if number == 0 and first else 0.0)
                    yield SpeechSegment(
                        samples=samples,
                        sample_rate=self.sample_rate,
                        phonemes=None,  # XTTS gives no timeline: the avatar drives the mouth from the audio
                        text=sentence if first else "",
                        spoken=said if first else "",
                        voice_cloned=True,
                        seconds=seconds,
                    )
                    first = False
                    tick = time.perf_counter()
