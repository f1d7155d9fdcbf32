"""The pinned commit's InferenceConfig: mimic-head's, with the two fields only the pinned commit has."""

from dataclasses import dataclass

from mimic_head.config.inference_config import InferenceConfig as MimicHeadConfig


@dataclass(repr=False)
class InferenceConfig(MimicHeadConfig):
    flag_force_cpu: bool = False  # the pinned commit's device choice (mimic-head reads `device` instead)
    flag_do_torch_compile: bool = False  # not in mimic-head: stays off
