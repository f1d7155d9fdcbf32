"""STAND-IN of LivePortrait's InferenceConfig: only the fields the engine sets."""

from dataclasses import dataclass


@dataclass
class InferenceConfig:
    checkpoint_F: str = ""
    checkpoint_M: str = ""
    checkpoint_G: str = ""
    checkpoint_W: str = ""
    checkpoint_S: str = ""
    flag_use_half_precision: bool = True
    flag_force_cpu: bool = False
    device_id: int = 0
