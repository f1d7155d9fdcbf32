"""WebVTT from a video's segments: a cue per sentence; a chunk that continues a sentence (XTTS streams them)
lengthens its cue rather than adding an empty one."""

from __future__ import annotations

from contracts.gpu_service import SegmentTiming
from runtime.captions import webvtt


def test_one_cue_per_sentence_with_continuations_folded_in() -> None:
    segments = [
        SegmentTiming(text="Hello there.", start_s=0.0, duration_s=1.2),
        SegmentTiming(text="", start_s=1.2, duration_s=0.8),
        SegmentTiming(text="It is 3 o'clock.", start_s=2.04, duration_s=3661.5),
    ]
    assert webvtt(segments) == (
        "WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.000\nHello there.\n\n"
        "2\n00:00:02.040 --> 01:01:03.540\nIt is 3 o'clock.\n"
    )


def test_no_segments_make_an_empty_but_valid_file() -> None:
    assert webvtt([]) == "WEBVTT\n"
