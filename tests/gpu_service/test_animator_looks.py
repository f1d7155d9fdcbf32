"""What people see of the embedded animator, measured on the pixels of rendered frames (face mesh on each frame),
on a photo that shows teeth and one that shows none (tests/photos.py):

- in silence the mouth is the photo's: inner-lip gap within a pixel of the photo's;
- no dark specks around the lips: the dark pixels in a ring around them are no more than in the photo;
- a closed eyelid is skin, not eyelashes smeared over the eye;
- behind glasses, a blink changes no pixel outside the eye openings (rims and reflections stay as in the photo);
- an opened mouth on a photo without teeth shows teeth: bright pixels appear inside it;
- blinks fall at different times in different clips, the same times for the same clip.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.face import landmarks as lm
from common.face.mesh import FaceMesh
from gpu_service.assets import AssetReference
from gpu_service.engines.avatar.animator import AnimatorEngine, Rig, eye_lines, frame_vertices, render_frame
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.engines.avatar.mouth import MotionPlanner, MouthTrack
from gpu_service.engines.base import PhonemeEvent, Speech, synthesize
from gpu_service.engines.tts.espeak import EspeakEngine
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore
from tests.photos import astronaut, cameraman, with_glasses

FPS = 25
SILENCE_S = 1.0
TEXT = "Good morning. Tonight we look at how people learn new languages, and why some find it easy."


@dataclass
class Clip:
    name: str
    speech: Speech
    rig: Rig
    track: MouthTrack
    frames: list[np.ndarray]
    silent: slice  # the frames of the opening silence (before any speech)


@pytest.fixture(scope="module", params=["astronaut", "cameraman"])
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Clip:
    folder = tmp_path_factory.mktemp("looks")
    photo = folder / f"{request.param}.png"
    image = astronaut() if request.param == "astronaut" else cv2.resize(cameraman(), (1024, 1024))
    cv2.imwrite(str(photo), image)
    rig = AnimatorEngine(FaceAnalyzer(folder)).rig(AssetReference(request.param, photo), 512)
    speech = synthesize(EspeakEngine(VoiceProfileStore(folder)), TEXT, "en", None, match_voice=False)
    planner = MotionPlanner(FPS, seed=3)
    silent = int(SILENCE_S * FPS)
    tracks = [
        planner.silence(silent),
        planner.speech(speech.samples, speech.sample_rate, speech.phonemes),
        planner.silence(silent),  # after speech: the mouth must come back to rest
    ]
    track = MouthTrack(fps=FPS, **{name: np.concatenate([getattr(t, name) for t in tracks]) for name in _CURVES})
    frames = []
    for index in range(track.frames):
        canvas = rig.image.copy()
        render_frame(rig, track, index, canvas)
        frames.append(canvas)
    return Clip(request.param, speech, rig, track, frames, slice(0, silent))


_CURVES = ("jaw_open", "lip_width", "lip_round", "lip_closure", "speaking", "blink", "yaw", "pitch", "roll")


def landmarks(image: np.ndarray, mesh: FaceMesh) -> np.ndarray:
    points = mesh.landmarks(image)
    assert points is not None
    return points


def inner_gap(points: np.ndarray) -> float:
    upper = points[list(lm.UPPER_INNER_LIP[4:7])].mean(axis=0)
    lower = points[list(lm.LOWER_INNER_LIP[4:7])].mean(axis=0)
    return float(np.linalg.norm(lower - upper))


def luminance(image: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), dtype=np.float32)


def lip_ring(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Pixels 2 to 8 px outside the outer lips."""
    lips = np.zeros(shape[:2], np.uint8)
    outline = points[list(lm.UPPER_OUTER_LIP + lm.LOWER_OUTER_LIP[::-1])]
    cv2.fillPoly(lips, [np.round(outline).astype(np.int32)], 1)
    near = cv2.dilate(lips, np.ones((5, 5), np.uint8))
    far = cv2.dilate(lips, np.ones((17, 17), np.uint8))
    return np.asarray((far > 0) & (near == 0))


def test_in_silence_the_mouth_is_the_photos(clip: Clip) -> None:
    """Before speech and after it, the mouth is the photo's: pixel for pixel with the head's sway taken out, and (on
    the frontal photo, where the face mesh is steady to a pixel) the measured inner-lip gap within a pixel."""
    still = without_head_motion(clip.track)
    mouth = clip.rig.interior.box
    lips = lip_vertices(clip.rig)
    # After speech the mouth settles over a few frames (no jump): the last 0.4 s are checked.
    for index in [*range(clip.silent.stop), *range(clip.track.frames - 10, clip.track.frames)]:
        moved = frame_vertices(clip.rig, still, index)
        assert np.abs(moved[lips] - clip.rig.vertices[lips]).max() <= 0.5, f"frame {index}: lips not at rest"
        canvas = clip.rig.image.copy()
        render_frame(clip.rig, still, index, canvas)
        region = (slice(mouth[1], mouth[3]), slice(mouth[0], mouth[2]))
        difference = np.abs(canvas[region].astype(int) - clip.rig.image[region].astype(int))
        assert np.percentile(difference, 99) <= 4, f"frame {index}: the mouth's pixels are not the photo's"
    if clip.name == "astronaut":  # facing the camera (the cameraman's mesh moves by pixels when he does not)
        mesh = FaceMesh(static_images=True)
        photo_gap = inner_gap(landmarks(clip.rig.image, mesh))
        spoken = [inner_gap(landmarks(frame, mesh)) for frame in clip.frames[clip.silent.stop :: 3]]
        assert max(spoken) > photo_gap + 5, "the mouth should open while speaking"
        trailing = [inner_gap(landmarks(frame, mesh)) for frame in clip.frames[-FPS // 2 :]]
        assert max(abs(gap - photo_gap) for gap in trailing) <= 1.0, (photo_gap, trailing)


def without_head_motion(track: MouthTrack) -> MouthTrack:
    return MouthTrack(
        fps=FPS, **{name: getattr(track, name) * (0 if name in ("yaw", "pitch", "roll") else 1) for name in _CURVES}
    )


def lip_vertices(rig: Rig) -> list[int]:
    return [rig.vertex_of[i] for i in lm.UPPER_INNER_LIP + lm.LOWER_INNER_LIP + lm.LOWER_OUTER_LIP]


def test_the_lips_leave_their_rest_as_the_voice_starts_not_before(clip: Clip) -> None:
    """From rest, a segment that begins with 0.3 s of silence keeps the photo's mouth until the sound begins (a
    smiling photo's lips used to close first: the mouth moved 0.3 s before the voice in live sessions)."""
    speech, lead = clip.speech, 0.3
    samples = np.concatenate([np.zeros(int(lead * speech.sample_rate), np.float32), speech.samples])
    phonemes = [PhonemeEvent(0.0, "_"), *(PhonemeEvent(e.t + lead, e.phoneme) for e in speech.phonemes or [])]
    planner = MotionPlanner(FPS, seed=3)
    planner.silence(FPS)
    track = without_head_motion(planner.speech(samples, speech.sample_rate, phonemes))
    lips = lip_vertices(clip.rig)
    for index in range(int(lead * FPS) - 1):
        moved = frame_vertices(clip.rig, track, index)
        assert np.abs(moved[lips] - clip.rig.vertices[lips]).max() <= 0.5, f"frame {index}: moved before the voice"
    opened = [frame_vertices(clip.rig, track, index)[lips] for index in range(int(lead * FPS), track.frames)]
    assert max(np.abs(moved - clip.rig.vertices[lips]).max() for moved in opened) > 3, "the mouth should speak"


def test_no_dark_specks_appear_around_the_lips(clip: Clip) -> None:
    mesh = FaceMesh(static_images=True)
    photo_points = landmarks(clip.rig.image, mesh)
    ring = lip_ring(photo_points, clip.rig.image.shape)
    dark = float(np.percentile(luminance(clip.rig.image)[ring], 2))  # the photo's darkest 2 % in the ring
    # The ring moves with the lips over the face's own shadows: somewhat more than the photo's count is natural in a
    # frame or two. A seam of specks beside a corner (what the animator drew before) put 22 % of the cameraman's
    # frames over 1.5 times the photo's count, and one at 2.2 times.
    base = np.count_nonzero(luminance(clip.rig.image)[ring] < dark) + 0.01 * ring.sum()
    counts = []
    for frame in clip.frames[clip.silent.stop :: 2]:
        frame_ring = lip_ring(landmarks(frame, mesh), frame.shape)
        counts.append(np.count_nonzero(luminance(frame)[frame_ring] < dark))
    ratios = np.array(counts) / base
    assert ratios.max() <= 2.0 and np.mean(ratios > 1.5) <= 0.05, (base, counts)


def test_a_closed_eyelid_is_skin_not_a_smear_of_lashes(clip: Clip) -> None:
    """Closed, the eye is smooth (no stripe of lashes over eye white) and, on the frontal photo, about as bright as
    the lid above it: the animator once dragged the lashes down over the eye (closed-eye brightness 0.62-0.70 of
    the lid's; now 0.79-0.85). The cameraman's lids sit in deep shadow, so only smoothness is asked of them."""
    closed = int(np.argmax(clip.track.blink))
    assert clip.track.blink[closed] > 0.95, "the clip should blink"
    points = clip.rig.vertices  # the photo's landmarks come first in the rig's vertices
    photo, frame = luminance(clip.rig.image), luminance(clip.frames[closed])
    checked = 0
    for upper, lower in ((lm.RIGHT_UPPER_LID, lm.RIGHT_LOWER_LID), (lm.LEFT_UPPER_LID, lm.LEFT_LOWER_LID)):
        outline = points[[clip.rig.vertex_of[i] for i in list(upper) + list(lower[-2:0:-1])]]
        eye = np.zeros(photo.shape, np.uint8)
        cv2.fillPoly(eye, [np.round(outline).astype(np.int32)], 1)
        eye = cv2.erode(eye, np.ones((3, 3), np.uint8)).astype(bool)
        if eye.sum() < 50:
            continue  # an eye seen edge-on
        assert frame[eye].std() <= photo[eye].std(), (frame[eye].std(), photo[eye].std())
        if clip.name == "astronaut":
            lid = np.roll(eye, -int(1.3 * np.ptp(outline[:, 1])) - 2, axis=0)  # the lid skin above the lashes
            assert frame[eye].mean() >= 0.75 * photo[lid].mean(), (frame[eye].mean(), photo[lid].mean())
        checked += 1
    assert checked, "no eye measured"


@pytest.mark.parametrize("width", [512, 150])  # as drawn, and as small as a photo people send (150 x 150 px)
def test_a_blink_behind_glasses_changes_nothing_outside_the_eyes(tmp_path: Path, width: int) -> None:
    photo = tmp_path / "glasses.png"
    cv2.imwrite(str(photo), cv2.resize(with_glasses(astronaut()), (width, width), interpolation=cv2.INTER_AREA))
    rig = AnimatorEngine(FaceAnalyzer(tmp_path)).rig(AssetReference("glasses", photo), 512)
    track = MotionPlanner(FPS, seed=3).silence(6 * FPS)
    open_eyed = replace(track, blink=np.zeros_like(track.blink))
    blinking = np.flatnonzero(track.blink > 0)
    assert blinking.size and track.blink.max() > 0.95, "the clip should blink"
    for index in blinking:
        closing, still = rig.image.copy(), rig.image.copy()
        render_frame(rig, track, index, closing)
        render_frame(rig, open_eyed, index, still)
        eyes = np.zeros(rig.image.shape[:2], np.uint8)
        for eye in eye_lines(rig, rig.warp.unfold(frame_vertices(rig, track, index), rig.fixed)):
            cv2.fillPoly(eyes, [np.round(eye.opening * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        changed = np.any(closing != still, axis=2)
        assert not (changed & ~eyes.astype(bool)).any(), (
            f"frame {index}: {int((changed & ~eyes.astype(bool)).sum())} px"
        )
        if track.blink[index] > 0.95:
            assert changed[eyes.astype(bool)].mean() > 0.5  # and the lid does cover the eye


def test_an_opened_mouth_shows_teeth_even_when_the_photo_has_none(clip: Clip) -> None:
    widest = int(np.argmax(clip.track.jaw_open * (1 - clip.track.lip_closure)))
    mesh = FaceMesh(static_images=True)
    points = landmarks(clip.frames[widest], mesh)
    mouth = np.zeros(clip.rig.image.shape[:2], np.uint8)
    cv2.fillPoly(mouth, [np.round(points[list(lm.INNER_LIP_RING)]).astype(np.int32)], 1)
    inside = luminance(clip.frames[widest])[mouth.astype(bool)]
    lips = float(np.mean(clip.rig.interior.lip_color))
    assert np.percentile(inside, 95) > 1.15 * lips, "no teeth in the open mouth"
    assert np.percentile(inside, 10) < 0.8 * lips, "no shadow in the open mouth"


def test_blinks_differ_between_clips_and_repeat_for_the_same_clip() -> None:
    def blink_frames(seed: int) -> list[int]:
        blink = MotionPlanner(FPS, seed).silence(10 * FPS).blink
        return [int(i) for i in np.flatnonzero((blink[1:] > 0.5) & (blink[:-1] <= 0.5))]

    assert blink_frames(11) == blink_frames(11)
    assert len({tuple(blink_frames(seed)) for seed in range(8)}) == 8


def test_the_service_seeds_a_clip_by_its_audio(tmp_path: Path) -> None:
    """/api/v1/avatar without a seed derives one from the audio (see the route): checked on the route's rule."""
    from gpu_service.routes.avatar import seed_for

    a, b = np.zeros(100, np.float32), np.ones(100, np.float32)
    assert seed_for(None, a) == seed_for(None, a.copy()) != seed_for(None, b)
    assert seed_for(7, a) == 7
