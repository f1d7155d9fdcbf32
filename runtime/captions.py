"""A video's captions as WebVTT: one cue per sentence, at the times it plays (a chunk that continues a sentence
lengthens its cue)."""

from __future__ import annotations

from contracts.gpu_service import SegmentTiming


def webvtt(segments: list[SegmentTiming]) -> str:
    cues: list[tuple[float, float, str]] = []
    for segment in segments:
        end = segment.start_s + segment.duration_s
        if segment.text or not cues:
            cues.append((segment.start_s, end, segment.text))
        else:
            start, _, text = cues[-1]
            cues[-1] = (start, end, text)
    said = [(start, end, text) for start, end, text in cues if text]
    return "WEBVTT\n" + "".join(
        f"\n{number}\n{_stamp(start)} --> {_stamp(end)}\n{text}\n" for number, (start, end, text) in enumerate(said, 1)
    )


def _stamp(seconds: float) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
