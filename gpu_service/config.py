"""Settings of the gpu_service, read from GPU_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ASSETS = REPO_ROOT / "assets"


class XttsSettings(BaseModel):
    model_dir: Path | None = Field(
        None,
        description="XTTS-v2 folder: config.json, model.pth, vocab.json (+ speakers_xtts.pth). See GPU_SERVICE.md.",
    )
    download: bool = Field(
        False, description="No model_dir: let coqui download XTTS-v2 (internet; COQUI_TOS_AGREED=1 accepts CPML)."
    )
    fp16: bool = Field(True, description="Half precision on CUDA (ignored on MPS and CPU).")
    stream_chunk_tokens: int = Field(20, ge=1, description="GPT tokens per streamed chunk (~0.2 s each).")


class LivePortraitSettings(BaseModel):
    dir: Path | None = Field(
        None, description="A LivePortrait checkout (scripts/setup_gpu_service.sh --with-liveportrait makes one)."
    )
    weights_dir: Path | None = Field(
        None, description="LivePortrait weights (base_models/, retargeting_models/); default: in the checkout."
    )
    fp16: bool = Field(True, description="Half precision on CUDA.")
    batch: int = Field(8, ge=1, le=64, description="Frames rendered together.")


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
    tts_engine: str = Field("espeak", description="TTS engine used when a request names none.")
    avatar_engine: str = Field("animator", description="Avatar engine used when a request names none.")
    voice_matching: bool = Field(True, description="Match espeak's voice to the reference voice (WORLD).")
    max_text_chars: int = Field(5000, gt=0, description="Longest text accepted by /api/v1/tts.")
    max_portrait_pixels: int = Field(
        40_000_000, gt=0, description="Largest portrait, in pixels, read from its header before any decoding."
    )
    cache_items: int = Field(
        64, ge=1, description="Portraits and voices kept analysed in memory (least recently used go first)."
    )
    max_json_bytes: int = Field(1_048_576, gt=0, description="Largest JSON request body, in bytes.")
    max_input_bytes: int = Field(50_000_000, gt=0, description="Largest file accepted by PUT /api/v1/inputs.")
    xtts: XttsSettings = Field(default_factory=XttsSettings, description="The xtts engine (GPU_XTTS__*).")
    liveportrait: LivePortraitSettings = Field(
        default_factory=LivePortraitSettings, description="The liveportrait engine (GPU_LIVEPORTRAIT__*)."
    )
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
