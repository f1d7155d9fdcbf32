"""Face analysis, once per portrait: every face found (MediaPipe's full-range detector, on tiles too, so a small face
in a full-body shot counts), each confirmed by the face mesh (478 landmarks found in a crop around it, as tall as the
detector's box, and seen as a face again when framed by them: the tiled detector alone finds faces in headlights,
coins and galaxies), the chosen one (the largest unless a request names another) framed head-and-shoulders at
render size.

Results are cached in memory and on disk, keyed by the portrait file's content, the face chosen and the render size.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.concurrency.lru import LruCache
from common.errors import NotFound, Unprocessable
from common.face.detect import FaceBox, FaceDetector
from common.face.mesh import FaceMesh
from common.media.images import check_pixels
from gpu_service.assets import AssetReference

MAX_SIDE = 2048  # larger photos are scaled down first: detection does not need more, memory does
CROP_FACE_HEIGHTS = 2.6  # square crop side, in face heights: hair, neck and shoulders stay in frame
CROP_CENTER_DROP = 0.2  # crop centre sits this many face heights below the face centre (shoulders, not sky)
CACHE_VERSION = 3
DEFAULT_MAX_PIXELS = 40_000_000
MESH_CROP_FACES = 3.0  # the mesh looks for the chosen face in a square this many face sizes wide around it
MESH_INPUT_PX = 512  # ... scaled to this side: the mesh's detector wants a face that fills a good part of its input
MESH_TO_BOX_HEIGHT = (0.5, 2.0)  # a real face's mesh is about as tall as the detector's box (0.8-1.2 measured)
# The detector looks again at a candidate framed by its mesh: squares this many mesh heights wide, centred on it or
# shifted sideways by a tenth of its height. Measured on real faces (blurred, rotated 35 degrees, 27 px tall, JPEG
# quality 15, grey): a face in one view or more (best 0.61-0.96); on the phantoms that the mesh itself took for faces
# (headlights, coins, 17 of them): none in any view scores 0.05. One view alone is fragile (the cameraman is seen
# in 3 of the 15), so all are tried until one sees a face.
CONFIRM_FRAMINGS = (2.2, 1.4, 1.8, 2.6, 3.0)
CONFIRM_SHIFTS = (0.0, -0.1, 0.1)
CONFIRM_PX = 256
# A face shorter than this (brow to chin) is accepted with a notice: a 512 px video enlarges it 2.5 times or more.
SMALL_FACE_PX = 80
NO_FACE_ADVICE = (
    "use a photo in which one face is clearly visible, facing the camera, at least about 100 pixels tall, "
    "well lit and not covered (sunglasses, a mask, hair over the eyes)"
)


@dataclass(frozen=True)
class FaceGeometry:
    image: np.ndarray  # RGB uint8, the framed portrait at render size
    landmarks: np.ndarray  # (478, 2) float32 pixel coordinates in `image`
    faces: int = 1  # faces found in the photo and confirmed by the mesh
    face: int = 0  # the one animated: 0 is the largest
    face_px: int = 0  # its height in the photo, in pixels

    def notices(self) -> list[str]:
        """What the person who chose this photo should know about how it is used."""
        said = []
        if self.faces > 1:
            which = "the largest" if self.face == 0 else f"face {self.face} (by size; 0 is the largest)"
            said.append(
                f"{self.faces} faces found in the photo: {which} is animated; "
                f"choose another with face=0..{self.faces - 1}"
            )
        if 0 < self.face_px < SMALL_FACE_PX:
            said.append(
                f"the face in the photo is only {self.face_px} pixels tall: the video is enlarged from it and looks "
                f"soft; a photo in which the face is at least {SMALL_FACE_PX} pixels tall looks sharper"
            )
        return said


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
        self._detector: FaceDetector | None = None
        self._max_pixels = max_pixels
        self._memory: LruCache[str, FaceGeometry] = LruCache(memory_items)
        self._lock = threading.Lock()

    def _face_mesh(self) -> FaceMesh:
        if self._mesh is None:
            self._mesh = FaceMesh(static_images=True)
        return self._mesh

    def _face_detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector()
        return self._detector

    def analyze(self, portrait: AssetReference, size: int) -> FaceGeometry:
        digest = hashlib.sha256(portrait.path.read_bytes()).hexdigest()[:32]
        key = f"{digest}-{portrait.face}-{size}-v{CACHE_VERSION}"
        with self._lock:
            known = self._memory.get(key)
            if known is not None:
                return known
            image = read_portrait(portrait.path, portrait.name, self._max_pixels)
            cached = self._dir / f"{key}.npz"
            if cached.is_file():
                with np.load(cached) as arrays:
                    box = (int(arrays["box"][0]), int(arrays["box"][1]), int(arrays["box"][2]))
                    faces, face_px = (int(value) for value in arrays["found"])
                    geometry = FaceGeometry(frame(image, box, size), arrays["landmarks"], faces, portrait.face, face_px)
            else:
                geometry, box = self._detect(image, portrait, size)
                self._dir.mkdir(parents=True, exist_ok=True)
                part = cached.with_suffix(".part.npz")
                found = np.array([geometry.faces, geometry.face_px])
                np.savez(part, box=np.array(box), landmarks=geometry.landmarks, found=found)
                part.replace(cached)
            self._memory.put(key, geometry)
            return geometry

    def _detect(
        self, image: np.ndarray, portrait: AssetReference, size: int
    ) -> tuple[FaceGeometry, tuple[int, int, int]]:
        mesh = self._face_mesh()
        name = portrait.name
        candidates = [self._confirmed(image, box) for box in self._face_detector().faces(image)]
        faces = [points for points in candidates if points is not None]
        if not faces:  # a close-up can fill the frame past what the detector takes for a face; the mesh finds it
            whole = mesh.landmarks(image)
            faces = [whole] if whole is not None and self._framed_as_face(image, whole) else []
        if not faces:
            raise Unprocessable(f"no face found in {name}: {NO_FACE_ADVICE}")
        if portrait.face >= len(faces):
            raise NotFound(
                f"{name} has {len(faces)} face(s) that can be told apart; face {portrait.face} does not exist "
                "(faces are numbered by size, 0 the largest)"
            )
        found = faces[portrait.face]
        box = crop_box(found, image.shape[1], image.shape[0])
        framed = frame(image, box, size)
        # A second pass on the framed face is more precise than scaling the first pass's points.
        refined = mesh.landmarks(framed)
        if refined is None:
            x0, y0, side = box
            refined = np.asarray((found - np.array([x0, y0], np.float32)) * (size / side), dtype=np.float32)
        face_px = round(float(np.ptp(found[:, 1])))
        return FaceGeometry(framed, refined, len(faces), portrait.face, face_px), box

    def _confirmed(self, image: np.ndarray, face: FaceBox) -> np.ndarray | None:
        """The mesh of a candidate face in photo pixels, or None when it is not a face after all."""
        points = self._mesh_in(image, face)
        if points is None:
            return None
        low, high = MESH_TO_BOX_HEIGHT
        if not low <= float(np.ptp(points[:, 1])) / face.height <= high:
            return None
        return points if self._framed_as_face(image, points) else None

    def _framed_as_face(self, image: np.ndarray, points: np.ndarray) -> bool:
        """Whether the detector, shown the photo framed around a mesh as a portrait would be, sees a face in it."""
        center_x, center_y = points.mean(axis=0)
        height = max(float(np.ptp(points[:, 1])), 1.0)
        middle = CONFIRM_PX / 2
        for framing in CONFIRM_FRAMINGS:
            scale = CONFIRM_PX / (framing * height)
            for shift in CONFIRM_SHIFTS:
                left = middle - scale * (center_x + shift * height)
                warp = np.array([[scale, 0, left], [0, scale, middle - scale * center_y]])
                view = cv2.warpAffine(image, warp, (CONFIRM_PX, CONFIRM_PX), borderMode=cv2.BORDER_REFLECT)
                if self._face_detector().sees_centred_face(view):
                    return True
        return False

    def _mesh_in(self, image: np.ndarray, face: FaceBox) -> np.ndarray | None:
        """The mesh of the face in `face`, found in a crop around it scaled to the mesh's liking; photo pixels."""
        center_x, center_y = face.center
        side = max(face.width, face.height) * MESH_CROP_FACES
        x0, y0 = int(max(0, center_x - side / 2)), int(max(0, center_y - side / 2))
        crop = image[y0 : int(center_y + side / 2), x0 : int(center_x + side / 2)]
        scale = MESH_INPUT_PX / max(crop.shape[:2])
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        points = self._face_mesh().landmarks(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=interpolation))
        if points is None:
            return None
        points = np.asarray(points / scale + np.array([x0, y0], np.float32), dtype=np.float32)
        mesh_x, mesh_y = points.mean(axis=0)
        inside = face.x <= mesh_x <= face.x + face.width and face.y <= mesh_y <= face.y + face.height * 1.3
        return points if inside else None  # the mesh found a neighbour's face, not this one
