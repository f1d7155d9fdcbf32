"""The pinned commit's LivePortraitWrapper API over mimic-head's wrapper (differences listed in README.md)."""

import torch
from mimic_head.live_portrait_wrapper import LivePortraitWrapper as MimicHeadWrapper


class LivePortraitWrapper(MimicHeadWrapper):
    def __init__(self, inference_cfg):
        if inference_cfg.flag_force_cpu:
            inference_cfg.device = "cpu"
        elif torch.backends.mps.is_available():
            inference_cfg.device = "mps"
        else:
            inference_cfg.device = f"cuda:{inference_cfg.device_id}"
        super().__init__(inference_cfg)
        self.inference_cfg = inference_cfg

    def retarget_eye(self, kp_source, eye_close_ratio):
        return super().retarget_eye(kp_source, eye_close_ratio).reshape(-1, kp_source.shape[1], 3)

    def retarget_lip(self, kp_source, lip_close_ratio):
        return super().retarget_lip(kp_source, lip_close_ratio).reshape(-1, kp_source.shape[1], 3)
