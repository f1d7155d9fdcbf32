"""Settings of the evaluator, read from EVAL_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent


class EvalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVAL_", env_file=".env", extra="ignore")

    runtime_url: str = Field("http://127.0.0.1:8000", description="The runtime under test.")
    outputs_dir: Path = Field(PACKAGE_DIR / "outputs", description="Each run writes a folder of reports here.")
    assets_dir: Path = Field(
        PACKAGE_DIR.parent / "assets", description="Bundled assets: reference voices the scores compare against."
    )
    thresholds_file: Path = Field(PACKAGE_DIR / "thresholds.toml", description="Pass/fail limit of each metric.")
    whisper_model_dir: Path = Field(
        PACKAGE_DIR.parent / "models" / "whisper-base",
        description="faster-whisper (CTranslate2) model folder; scripts/fetch_whisper_model.py fills it offline.",
    )
    api_key: str | None = Field(None, description="The runtime's API key, when it requires one.")
    request_timeout_s: float = Field(900.0, gt=0, description="Longest wait for one generate call.")
