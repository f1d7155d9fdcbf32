"""Settings of the runtime, read from RUNTIME_* environment variables or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNTIME_", env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0 inside a container).")
    port: int = Field(8000, description="Port to listen on.")
    public_url: str | None = Field(
        None, description="How clients reach this runtime (e.g. https://avatar.example.com), for URLs in answers."
    )
    mode: Literal["local", "production"] = Field("local", description="local: laptop defaults; production: strict.")
    gpu_service_url: str = Field("http://127.0.0.1:8001", description="Where the gpu_service listens.")
    gpu_timeout_s: float = Field(900.0, gt=0, description="Longest wait for one gpu_service call.")
    gpu_retry_deadline_s: float = Field(
        120.0, gt=0, description="A job whose gpu_service is down waits for it this long before it fails."
    )
    fallback: Literal["auto", "local", "off"] = Field(
        "auto",
        description="gpu_service unreachable: 'local' runs the embedded engines in a local gpu_service (a child "
        "process), 'off' answers 503; "
        "'auto' is 'local' in local mode and 'off' in production.",
    )
    gpu_output_host_root: Path = Field(
        Path("/tmp/gpu-service-output"), description="The gpu_service's output root as the gpu_service sees it."
    )
    gpu_output_local_root: Path | None = Field(
        None, description="The same folder as this runtime sees it (shared volume); unset: files go over HTTP."
    )
    data_dir: Path = Field(Path("/tmp/runtime-data"), description="Jobs database, videos and uploads.")
    default_voice: str = Field("librivox_en_reader", description="Voice used when a request names none.")
    default_portrait: str = Field("astronaut", description="Portrait used when a request names none.")
    max_text_chars: int = Field(5000, gt=0, description="Longest text accepted.")
    chat_history_turns: int = Field(
        40, ge=1, description="Most recent turns of a conversation sent with each message (the model trims further)."
    )
    max_queued_jobs: int = Field(20, gt=0, description="Queued jobs beyond this get 429 with Retry-After.")
    job_workers: int = Field(1, gt=0, description="Jobs run at the same time.")
    max_voice_upload_bytes: int = Field(25_000_000, gt=0, description="Largest voice upload (audio or video).")
    max_portrait_upload_bytes: int = Field(10_000_000, gt=0, description="Largest portrait upload.")
    max_json_bytes: int = Field(262_144, gt=0, description="Largest JSON request body, in bytes.")
    fps: int = Field(25, ge=1, le=60, description="Frames per second of generated videos.")
    size: int = Field(512, ge=128, le=1024, description="Side of generated (square) videos, in pixels.")
    log_level: str = Field("info", description="uvicorn / logging level.")
    log_format: Literal["json", "text"] = Field("json", description="json: one object per line, with request ids.")
    api_keys: list[str] = Field(
        default_factory=list, description='Keys clients must send (JSON list, e.g. ["k1"]); empty: no auth.'
    )
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed to call the API.")
    gpu_shared_secret: str | None = Field(None, description="Sent to the gpu_service (its GPU_SHARED_SECRET).")
    gpu_on_demand: bool = Field(
        False,
        description="The gpu_service scales to zero when idle (Ray Serve): /health does not ask it, which would wake "
        "it; the first request that needs it waits while it starts.",
    )
    gpu_affinity_header: str | None = Field(
        None,
        description="Several gpu_service replicas behind a router without a shared volume (Ray Serve: x-session-id): "
        "each request's (and job's) calls carry its id under this header, and the router keeps them on one replica.",
    )
    rate_limit_per_minute: int = Field(60, ge=0, description="Generate/job requests per client per minute; 0: off.")
    rate_limit_burst: int = Field(10, ge=1, description="Requests a client may send at once before the rate applies.")
    retention_hours: float = Field(
        72, ge=0, description="Videos and finished jobs older than this are deleted; 0: never."
    )
    cleanup_interval_s: float = Field(600, gt=0, description="How often expired files and jobs are looked for.")
    max_voice_upload_seconds: float = Field(900, gt=0, description="Longest voice upload (audio or video), in seconds.")
    max_portrait_pixels: int = Field(40_000_000, gt=0, description="Largest portrait upload, in pixels.")
    decode_timeout_s: float = Field(60, gt=0, description="Longest time decoding one uploaded file may take.")
    decode_memory_mb: int = Field(
        1024, ge=64, description="Memory one decoding of an uploaded file may take (its child process's ceiling)."
    )
    live_sessions_per_key: int = Field(
        2, ge=1, description="Live sessions one API key may hold at once (offers not yet connected count too)."
    )
    stun_urls: list[str] = Field(
        default_factory=list, description='STUN servers for live sessions (JSON list, e.g. ["stun:turn.example.org"]).'
    )
    turn_urls: list[str] = Field(
        default_factory=list,
        description="TURN servers for live sessions across NAT and firewalls (JSON list, e.g. "
        '["turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp"]); each session\'s '
        "peers get time-limited credentials made with RUNTIME_TURN_SECRET.",
    )
    turn_secret: SecretStr | None = Field(
        None, description="The TURN server's shared secret (coturn: static-auth-secret with use-auth-secret)."
    )
    turn_credential_ttl_s: int = Field(
        3600,
        ge=60,
        le=86400,
        description="How long TURN credentials handed out work (a session outliving them "
        "keeps its allocation only while the TURN server accepts its refreshes).",
    )
    ice_transport_policy: Literal["all", "relay"] = Field(
        "all", description="relay: live sessions use TURN only (both the client's peer and the gpu_service's)."
    )
    max_event_streams: int = Field(
        16, ge=1, description="Server-sent event streams (a reply's sentences) one API key may follow at once."
    )
    fallback_idle_s: float = Field(
        300,
        gt=0,
        description="The local fallback's gpu_service stops after this long unused (its memory is returned).",
    )
    web_dir: Path | None = Field(
        Path(__file__).resolve().parent.parent / "web",
        description="The web page's files, served at / (empty: no page, the API only).",
    )

    @field_validator("web_dir", mode="before")
    @classmethod
    def _empty_means_no_page(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def fallback_enabled(self) -> bool:
        return self.fallback == "local" or (self.fallback == "auto" and self.mode == "local")

    @property
    def videos_dir(self) -> Path:
        return self.data_dir / "videos"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def jobs_db(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def conversations_db(self) -> Path:
        return self.data_dir / "conversations.sqlite3"

    @property
    def live_sessions_db(self) -> Path:
        return self.data_dir / "live_sessions.sqlite3"

    @property
    def in_process_gpu_root(self) -> Path:
        """Output root of the local gpu_service used as the fallback."""
        return self.data_dir / "gpu-local"
