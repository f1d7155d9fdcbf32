"""Rebuild the bundled portraits in assets/images/ from the public-domain NASA photo inside scikit-image's wheel.

- astronaut_full.png: the photo as shipped (512x512): Eileen Collins, NASA, public domain.
- astronaut.png: a head-and-shoulders crop of it.

Usage: pip install scikit-image && python scripts/build_portrait_assets.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import skimage.data

IMAGES = Path(__file__).resolve().parent.parent / "assets" / "images"
# Face spans about x 179-271, y 71-177 in the photo; this square keeps hair, neck and shoulders.
HEAD_AND_SHOULDERS = (slice(16, 336), slice(65, 385))


def main() -> None:
    photo = skimage.data.astronaut()  # type: ignore[no-untyped-call]  # RGB
    IMAGES.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(IMAGES / "astronaut_full.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    crop = photo[HEAD_AND_SHOULDERS]
    cv2.imwrite(str(IMAGES / "astronaut.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    print(f"portraits written to {IMAGES}")


if __name__ == "__main__":
    main()
