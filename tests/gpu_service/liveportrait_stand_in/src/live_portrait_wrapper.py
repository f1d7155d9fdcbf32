"""STAND-IN of LivePortrait's LivePortraitWrapper (same method names and tensor shapes; trivial bodies).

Every call is recorded in CALLS. warp_decode draws a dark bar whose height follows the driving lip keypoint,
so a test can see the engine's lip targets come out in the video.
"""

import numpy as np
import torch

CALLS: list = []
KEYPOINTS = 21
LIP_KEYPOINT = 20
MOUTH_ROWS, MOUTH_COLS = (170, 230), (100, 156)  # where the bar grows, in the 256x256 crop


class LivePortraitWrapper:
    def __init__(self, inference_cfg):
        for name in ("checkpoint_F", "checkpoint_M", "checkpoint_W", "checkpoint_G", "checkpoint_S"):
            with open(getattr(inference_cfg, name), "rb"):
                pass  # the weights must be where the engine said
        self.inference_cfg = inference_cfg
        self.device = "cpu" if inference_cfg.flag_force_cpu else "cuda:0"
        CALLS.append(("init", inference_cfg))

    def prepare_source(self, img):
        assert img.shape == (256, 256, 3) and img.dtype == np.uint8
        return torch.from_numpy(img[np.newaxis].astype(np.float32) / 255.0).permute(0, 3, 1, 2)

    def get_kp_info(self, x):
        generator = torch.Generator().manual_seed(0)
        return {
            "kp": torch.rand(1, KEYPOINTS, 3, generator=generator) - 0.5,
            "exp": torch.zeros(1, KEYPOINTS, 3),
            "t": torch.zeros(1, 3),
            "scale": torch.ones(1, 1),
            "pitch": torch.full((1, 1), 2.0),
            "yaw": torch.full((1, 1), -3.0),
            "roll": torch.zeros(1, 1),
        }

    def extract_feature_3d(self, x):
        return x.clone()  # the stand-in's "feature volume" is the image itself

    def transform_keypoint(self, kp_info):
        return kp_info["kp"] * kp_info["scale"][..., None] + kp_info["exp"]

    def retarget_lip(self, kp_source, lip_close_ratio):
        CALLS.append(("retarget_lip", lip_close_ratio.clone()))
        delta = torch.zeros_like(kp_source)
        delta[:, LIP_KEYPOINT, 1] = lip_close_ratio[:, 1] - lip_close_ratio[:, 0]
        return delta

    def retarget_eye(self, kp_source, eye_close_ratio):
        CALLS.append(("retarget_eye", eye_close_ratio.clone()))
        return torch.zeros_like(kp_source)

    def stitching(self, kp_source, kp_driving):
        CALLS.append(("stitching", kp_driving.shape[0]))
        return kp_driving

    def warp_decode(self, feature_3d, kp_source, kp_driving):
        CALLS.append(("warp_decode", feature_3d.shape[0], kp_driving.clone()))
        out = feature_3d.clone()
        top, bottom = MOUTH_ROWS
        left, right = MOUTH_COLS
        for index in range(out.shape[0]):
            opening = float(kp_driving[index, LIP_KEYPOINT, 1] - kp_source[index, LIP_KEYPOINT, 1])
            rows = int(np.clip(opening, 0, 1) * (bottom - top) * 2)
            out[index, :, top : top + rows, left:right] = 0.05
        return {"out": out}

    def parse_output(self, out):
        out = np.transpose(out.data.cpu().numpy(), [0, 2, 3, 1])
        return np.clip(np.clip(out, 0, 1) * 255, 0, 255).astype(np.uint8)
