"""Where LivePortrait is and how it renders: the settings (GPU_LIVEPORTRAIT__*) are the engine's own options,
declared once."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class LivePortraitSettings(BaseModel):
    dir: Path | None = Field(
        None, description="A LivePortrait checkout (scripts/setup_gpu_service.sh --with-liveportrait makes one)."
    )
    weights_dir: Path | None = Field(
        None, description="LivePortrait weights (base_models/, retargeting_models/); default: in the checkout."
    )
    fp16: bool = Field(True, description="Half precision on CUDA.")
    batch: int = Field(8, ge=1, le=64, description="Frames rendered together.")
    max_render_s: float = Field(
        900,
        gt=0,
        description="Video that would take longer to render (at the measured speed) is refused with 422; "
        "keep it at or under the runtime's RUNTIME_GPU_TIMEOUT_S.",
    )
    cpu_seconds_per_frame: float = Field(
        5.0, gt=0, description="On a CPU, the speed assumed until the first frames are measured (512 px, measured)."
    )

    @property
    def weights(self) -> Path | None:
        """weights_dir, else the weights inside the checkout."""
        if self.weights_dir is not None:
            return self.weights_dir
        return None if self.dir is None else self.dir / "pretrained_weights" / "liveportrait"
