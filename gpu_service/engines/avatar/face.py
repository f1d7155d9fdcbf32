"""Face analysis, once per portrait: MediaPipe face mesh (478 landmarks), a head-and-shoulders crop at render size.

Results are cached in memory and on disk, keyed by the portrait file's content and the render size.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.errors import Unprocessable
from common.face_mesh import FaceMesh
from common.images import check_pixels
from common.lru import LruCache
from gpu_service.assets import AssetReference

MAX_SIDE = 2048  # larger photos are scaled down first: detection does not need more, memory does
CROP_FACE_HEIGHTS = 2.6  # square crop side, in face heights: hair, neck and shoulders stay in frame
CROP_CENTER_DROP = 0.2  # crop centre sits this many face heights below the face centre (shoulders, not sky)
CACHE_VERSION = 1
DEFAULT_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class FaceGeometry:
    image: np.ndarray  # RGB uint8, the framed portrait at render size
    landmarks: np.ndarray  # (478, 2) float32 pixel coordinates in `image`


def read_portrait(path: Path, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """RGB uint8, scaled so that its longer side is at most MAX_SIDE; the header's size is checked first."""
    check_pixels(path, name, max_pixels, "GPU_MAX_PORTRAIT_PIXELS")
    data = np.fromfile(path, dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise Unprocessable(f"{name} is not a readable image (JPEG or PNG expected)")
    longest = max(bgr.shape[:2])
    if longest > MAX_SIDE:
        scale = MAX_SIDE / longest
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def crop_box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int]:
    """(x0, y0, side) of a square head-and-shoulders crop that stays inside the image."""
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    face_height = float(high[1] - low[1])
    side = int(min(CROP_FACE_HEIGHTS * face_height, width, height))
    center_x = (low[0] + high[0]) / 2
    center_y = (low[1] + high[1]) / 2 + CROP_CENTER_DROP * face_height
    x0 = int(np.clip(round(center_x - side / 2), 0, width - side))
    y0 = int(np.clip(round(center_y - side / 2), 0, height - side))
    return x0, y0, side


def frame(image: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    x0, y0, side = box
    crop = image[y0 : y0 + side, x0 : x0 + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=interpolation))


class FaceAnalyzer:
    def __init__(self, cache_dir: Path, max_pixels: int = DEFAULT_MAX_PIXELS, memory_items: int = 64) -> None:
        self._dir = cache_dir / "faces"
        self._mesh: FaceMesh | None = None
        self._max_pixels = max_pixels
        self._memory: LruCache[str, FaceGeometry] = LruCache(memory_items)
        self._lock = threading.Lock()

    def _face_mesh(self) -> FaceMesh:
        if self._mesh is None:
            self._mesh = FaceMesh(static_images=True)
        return self._mesh

    def analyze(self, portrait: AssetReference, size: int) -> FaceGeometry:
        key = f"{hashlib.sha256(portrait.path.read_bytes()).hexdigest()[:32]}-{size}-v{CACHE_VERSION}"
        with self._lock:
            known = self._memory.get(key)
            if known is not None:
                return known
            image = read_portrait(portrait.path, portrait.name, self._max_pixels)
            cached = self._dir / f"{key}.npz"
            if cached.is_file():
                with np.load(cached) as arrays:
                    box = (int(arrays["box"][0]), int(arrays["box"][1]), int(arrays["box"][2]))
                    geometry = FaceGeometry(frame(image, box, size), arrays["landmarks"])
            else:
                geometry, box = self._detect(image, portrait.name, size)
                self._dir.mkdir(parents=True, exist_ok=True)
                part = cached.with_suffix(".part.npz")
                np.savez(part, box=np.array(box), landmarks=geometry.landmarks)
                part.replace(cached)
            self._memory.put(key, geometry)
            return geometry

    def _detect(self, image: np.ndarray, name: str, size: int) -> tuple[FaceGeometry, tuple[int, int, int]]:
        mesh = self._face_mesh()
        found = mesh.landmarks(image)
        if found is None:
            raise Unprocessable(f"no face found in {name}")
        box = crop_box(found, image.shape[1], image.shape[0])
        framed = frame(image, box, size)
        # A second pass on the framed face is more precise than scaling the first pass's points.
        refined = mesh.landmarks(framed)
        if refined is None:
            x0, y0, side = box
            refined = np.asarray((found - np.array([x0, y0], np.float32)) * (size / side), dtype=np.float32)
        return FaceGeometry(framed, refined), box
