"""Ratios measured on face-mesh landmarks; shared by the renderers (targets) and the evaluator (measurements)."""

from __future__ import annotations

import numpy as np

from common.face import landmarks as lm


def eye_open_ratios(points: np.ndarray) -> tuple[float, float]:
    """Per eye (right, left in the subject's terms): mean lid gap over eye width, the eye aspect ratio."""
    ratios = []
    for upper, lower in ((lm.RIGHT_UPPER_LID, lm.RIGHT_LOWER_LID), (lm.LEFT_UPPER_LID, lm.LEFT_LOWER_LID)):
        gap = np.linalg.norm(points[list(upper[2:7])] - points[list(lower[2:7])], axis=1).mean()
        width = float(np.linalg.norm(points[upper[0]] - points[upper[-1]]))
        ratios.append(float(gap / max(width, 1e-6)))
    return ratios[0], ratios[1]


def lip_open_ratio(points: np.ndarray) -> float:
    """Inner-lip gap at the middle over mouth width (corner to corner), LivePortrait's lip-open convention."""
    upper = points[list(lm.UPPER_INNER_LIP[4:7])].mean(axis=0)
    lower = points[list(lm.LOWER_INNER_LIP[4:7])].mean(axis=0)
    width = float(np.linalg.norm(points[lm.MOUTH_CORNERS[0]] - points[lm.MOUTH_CORNERS[1]]))
    return float(np.linalg.norm(lower - upper) / max(width, 1e-6))
