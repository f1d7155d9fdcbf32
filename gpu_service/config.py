"""Settings of the gpu_service, read from GPU_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, PositiveFloat
from pydantic_settings import BaseSettings, SettingsConfigDict

from gpu_service.engines.avatar.liveportrait_settings import LivePortraitSettings
from gpu_service.engines.tts.kokoro_settings import KokoroSettings
from gpu_service.engines.tts.match_parts import MatchPart
from gpu_service.engines.tts.xtts_settings import XttsSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ASSETS = REPO_ROOT / "assets"


class SessionSettings(BaseModel):
    max: int = Field(4, ge=0, description="Live sessions at once; an offer beyond gets 503.")
    idle_s: float = Field(600, gt=0, description="A session with no message for this long ends.")
    ice_servers: list[str] = Field(
        default_factory=list,
        description='STUN/TURN URLs offered to peers (JSON list, e.g. ["stun:stun.example.org"]); none by default: '
        "nothing is contacted that the operator did not configure.",
    )
    connect_timeout_s: float = Field(
        15, gt=0, description="A peer that has not connected by then is dropped (its place is free again)."
    )
    media_addresses: list[str] = Field(
        default_factory=list,
        description="Addresses the sessions' media (UDP) may use, as a JSON list; default: GPU_HOST's address, or "
        "every interface's when GPU_HOST is 0.0.0.0 or ::.",
    )
    max_queued: int = Field(
        4, ge=1, description="say and chat messages a session holds waiting their turn; more are refused in an event."
    )


class LlmSettings(BaseModel):
    preload: bool = Field(True, description="Load the default model in the background at start (else: on first use).")
    smollm2_gguf: Path = Field(
        REPO_ROOT / "models" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf",
        description="The embedded model (scripts/fetch_llm_model.py puts it here).",
    )
    model: Path | None = Field(
        None, description="The transformers engine: an instruction-tuned model folder or a .gguf file."
    )
    converted_dir: Path | None = Field(
        None, description="Where GGUF models are kept once converted; default: cache/llm under the output root."
    )
    openai_base_url: str | None = Field(
        None, description="The openai engine: an OpenAI-compatible server, up to /v1 (http://127.0.0.1:11434/v1)."
    )
    openai_model: str = Field("default", description="Model name sent to the openai engine's server.")
    openai_api_key: str | None = Field(None, description="Bearer key for the openai engine's server, if it needs one.")
    openai_window: int = Field(8192, ge=256, description="Context window of the openai engine's model, in tokens.")
    max_tokens: int = Field(160, ge=1, le=4096, description="Longest reply, in tokens, unless a request asks less.")
    max_sentences: int = Field(4, ge=0, description="Replies stop after this many sentences; 0: no limit.")
    embedded_max_tokens: int = Field(
        72, ge=1, le=4096, description="The embedded model (SmolLM2-135M), whose long replies wander, stops sooner."
    )
    embedded_max_sentences: int = Field(3, ge=0, description="... and after fewer sentences (0: no limit of its own).")
    say_unspoken_language: bool = Field(
        True,
        description="A reply asked in a language the model does not write (the embedded model writes English only) "
        "is a fixed sentence saying so in that language, not the model's attempt; false: the model tries anyway.",
    )
    timeout_s: float = Field(60, gt=0, description="Longest time a reply may take to write.")
    stall_s: float = Field(30, gt=0, description="Longest wait for the model's next token, once it writes.")
    queue_s: float = Field(
        60, gt=0, description="Longest wait for a local model busy with other replies; then 503 with Retry-After."
    )
    local_window: int = Field(
        2560,
        ge=256,
        description="Tokens (prompt and reply) a local model is given at most: older turns are left out beyond it, "
        "so it reads the prompt in a few seconds (SmolLM2-135M on 2 CPU cores: ~300 tokens/s).",
    )
    threads: int | None = Field(
        None, ge=1, description="CPU threads of the embedded model (llama.cpp); default: one per core."
    )
    temperature: float = Field(0.0, ge=0, le=2, description="0: greedy (the same question, the same reply).")
    repetition_penalty: float = Field(1.2, ge=1, description="Local models: discourages loops.")
    no_repeat_ngram: int = Field(4, ge=0, description="Local models: no n-gram twice (tiny models loop); 0: off.")


class AsrSettings(BaseModel):
    model_dir: Path = Field(
        REPO_ROOT / "models" / "whisper-base",
        description="A faster-whisper (CTranslate2) model folder: Whisper base by default "
        "(scripts/fetch_whisper_model.py); large-v3 or turbo on GPU hosts.",
    )
    beam_size: int = Field(1, ge=1, le=10, description="1 is fastest (live use); 5 is what the evaluator uses.")
    threads: int | None = Field(None, ge=1, description="CPU threads per transcription; default: one per core.")
    max_seconds: float = Field(120, gt=0, description="Longest recording accepted, in seconds.")
    max_bytes: int = Field(25_000_000, gt=0, description="Largest recording accepted, in bytes.")
    min_speech_s: float = Field(0.2, ge=0, description="Less speech than this (after silence removal) is refused.")
    end_silence_s: float = Field(0.5, gt=0, description="Live audio: silence that ends an utterance.")
    pause_s: float = Field(
        0.2,
        gt=0,
        description="Live audio: a pause this long starts transcribing early (kept if the utterance ends); a finished "
        "sentence ends the turn as soon as its transcript is back.",
    )
    continue_s: float = Field(
        1.5,
        gt=0,
        description="Live audio: silence waited for after words that leave a sentence open ('and', 'because', a "
        "cut-off word) before the turn ends; if the user goes on, both parts are one turn.",
    )
    decode_timeout_s: float = Field(60, gt=0, description="Longest time decoding one file may take.")
    decode_memory_mb: int = Field(
        1024, ge=64, description="Memory decoding one file may take (the decoding child's ceiling)."
    )


class Settings(BaseSettings):
    # Engine settings are nested: GPU_XTTS__MODEL_DIR sets xtts.model_dir.
    model_config = SettingsConfigDict(env_prefix="GPU_", env_file=".env", extra="ignore", env_nested_delimiter="__")

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8001, description="Port to listen on.")
    output_root: Path = Field(Path("/tmp/gpu-service-output"), description="Where results are written.")
    assets_dir: Path = Field(DEFAULT_ASSETS, description="Bundled voices and portraits (read only).")
    extra_input_roots: list[Path] = Field(
        default_factory=list, description="More folders voice and portrait paths may point into (e.g. uploads)."
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto: CUDA, then MPS, then CPU.")
    tts_engine: str = Field(
        "kokoro", description="TTS engine used when a request names none: kokoro (neural), espeak (instant), xtts."
    )
    avatar_engine: str = Field("animator", description="Avatar engine used when a request names none.")
    llm_engine: str = Field("smollm2", description="Language model used when a reply request names none.")
    voice_matching: bool = Field(True, description="Move the embedded engines' voice toward the reference (WORLD).")
    warm_voices: bool = Field(
        True, description="At start, fit the bundled voices' matching profiles in the background (~1 s each)."
    )
    espeak_match_parts: list[MatchPart] = Field(
        [],
        description="What voice matching applies to espeak's speech (f0, eq, warp): none by default, as each raised "
        "Whisper's WER on unseen voices (GPU_SERVICE.md, 'Voice matching, measured').",
    )
    max_text_chars: int = Field(5000, gt=0, description="Longest text accepted by /api/v1/tts.")
    max_portrait_pixels: int = Field(
        40_000_000, gt=0, description="Largest portrait, in pixels, read from its header before any decoding."
    )
    cache_items: int = Field(
        64, ge=1, description="Portraits and voices kept analysed in memory (least recently used go first)."
    )
    max_json_bytes: int = Field(1_048_576, gt=0, description="Largest JSON request body, in bytes.")
    max_input_bytes: int = Field(50_000_000, gt=0, description="Largest file accepted by PUT /api/v1/inputs.")
    idle_unload_s: dict[str, PositiveFloat] = Field(
        {"xtts": 1800, "liveportrait": 1800, "transformers": 1800},
        description="Engines unloaded after this many seconds unused, by name (JSON); they load again on the next "
        "request. The embedded engines stay loaded unless named here.",
    )
    kokoro: KokoroSettings = Field(default_factory=KokoroSettings, description="The kokoro engine (GPU_KOKORO__*).")
    xtts: XttsSettings = Field(default_factory=XttsSettings, description="The xtts engine (GPU_XTTS__*).")
    sessions: SessionSettings = Field(
        default_factory=SessionSettings, description="Live WebRTC sessions (GPU_SESSIONS__*)."
    )
    liveportrait: LivePortraitSettings = Field(
        default_factory=LivePortraitSettings, description="The liveportrait engine (GPU_LIVEPORTRAIT__*)."
    )
    asr: AsrSettings = Field(default_factory=AsrSettings, description="Speech recognition (GPU_ASR__*).")
    llm: LlmSettings = Field(default_factory=LlmSettings, description="Language models (GPU_LLM__*).")
    log_level: str = Field("info", description="uvicorn / logging level.")
    log_format: Literal["json", "text"] = Field("json", description="json: one object per line, with request ids.")
    shared_secret: str | None = Field(
        None, description="If set, every call but /health must bring it (as a bearer key)."
    )
    retention_hours: float = Field(
        24, ge=0, description="Results (tts/, video/, inputs/) older than this are deleted; 0: never."
    )
    cleanup_interval_s: float = Field(600, gt=0, description="How often expired results are looked for.")

    @property
    def voices_dir(self) -> Path:
        return self.assets_dir / "voices"

    @property
    def portraits_dir(self) -> Path:
        return self.assets_dir / "images"

    @property
    def portrait_roots(self) -> list[Path]:
        """Folders a portrait path in a request may resolve into."""
        return [self.portraits_dir, self.output_root, *self.extra_input_roots]

    @property
    def cache_dir(self) -> Path:
        """Derived data (voice profiles) that can be rebuilt at any time."""
        return self.output_root / "cache"

    @property
    def voice_roots(self) -> list[Path]:
        """Folders a voice path in a request may resolve into."""
        return [self.voices_dir, self.output_root, *self.extra_input_roots]
