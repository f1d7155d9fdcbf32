"""Random LivePortrait weights at the real size, built from LivePortrait's own classes and `models.yaml`.

Stand-in for the real weights (huggingface.co/KwaiVGI/LivePortrait), which cannot be downloaded on this project's
machines: the same files, shapes and loading code, untrained values. Their compute cost is the real models'.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CODE = REPO / "models" / "mimic-head"  # scripts/fetch_liveportrait_code.py
ADAPTER = Path(__file__).resolve().parent / "liveportrait_on_mimic_head"


def build_random_weights(folder: Path, seed: int = 0) -> Path:
    """base_models/*.pth and retargeting_models/stitching_retargeting_module.pth, as LivePortrait ships them."""
    import torch
    import yaml

    if str(CODE) not in sys.path:
        sys.path.insert(0, str(CODE))
    from mimic_head.modules.appearance_feature_extractor import AppearanceFeatureExtractor
    from mimic_head.modules.motion_extractor import MotionExtractor
    from mimic_head.modules.spade_generator import SPADEDecoder
    from mimic_head.modules.stitching_retargeting_network import StitchingRetargetingNetwork
    from mimic_head.modules.warping_network import WarpingNetwork

    params = yaml.safe_load((CODE / "mimic_head" / "config" / "models.yaml").read_text())["model_params"]
    torch.manual_seed(seed)
    (folder / "base_models").mkdir(parents=True, exist_ok=True)
    (folder / "retargeting_models").mkdir(parents=True, exist_ok=True)
    networks = {
        "appearance_feature_extractor": AppearanceFeatureExtractor,
        "motion_extractor": MotionExtractor,
        "warping_module": WarpingNetwork,
        "spade_generator": SPADEDecoder,
    }
    for name, network in networks.items():
        torch.save(network(**params[f"{name}_params"]).state_dict(), folder / "base_models" / f"{name}.pth")
    retargeting = params["stitching_retargeting_module_params"]
    torch.save(
        {
            key: StitchingRetargetingNetwork(**retargeting[part]).state_dict()
            for key, part in (("retarget_shoulder", "stitching"), ("retarget_mouth", "lip"), ("retarget_eye", "eye"))
        },
        folder / "retargeting_models" / "stitching_retargeting_module.pth",
    )
    return folder
