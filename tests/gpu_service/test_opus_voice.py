"""A live session's voice as Opus packets made by the session (gpu_service/media/opus_voice.py), decoded by
libopus as a browser's would be: speech comes back as it was, silence costs no encoder."""

from __future__ import annotations

import fractions

import av
import numpy as np
import soxr

from common.media.audio import load_audio
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.media.opus_voice import FRAME_SAMPLES, RATE, OpusVoice, silent_packet

LOOK_AHEAD = 312  # libopus's delay at 48 kHz: decoded speech comes this many samples late


def decode(packets: list[bytes]) -> np.ndarray:
    decoder = av.CodecContext.create("libopus", "r")
    decoded = []
    for index, payload in enumerate(packets):
        packet = av.Packet(payload)
        packet.pts, packet.time_base = index * FRAME_SAMPLES, fractions.Fraction(1, RATE)
        for frame in decoder.decode(packet):
            decoded.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
    return np.asarray(np.concatenate(decoded), np.float32) / 32768


def frames_of(samples: np.ndarray) -> list[np.ndarray]:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    pcm = np.pad(pcm, (0, -len(pcm) % FRAME_SAMPLES))
    return list(pcm.reshape(-1, FRAME_SAMPLES))


def send(voice: OpusVoice, frames: list[np.ndarray]) -> tuple[list[bytes], int]:
    """Packets as the audio track makes them, and how many needed the encoder."""
    packets, encoded = [], 0
    for pcm in frames:
        payload = voice.cheap(pcm)
        if payload is None:
            payload, encoded = voice.encode(pcm), encoded + 1
        packets.append(payload)
    return packets, encoded


def test_speech_between_silences_decodes_as_it_was_said_and_silence_needs_no_encoder() -> None:
    audio, rate = load_audio(DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav")
    speech = soxr.resample(audio[: 3 * rate], rate, RATE).astype(np.float32)
    silence = np.zeros(RATE, np.float32)
    timeline = np.concatenate([silence, speech, silence, speech, silence])
    voice = OpusVoice()
    packets, encoded = send(voice, frames_of(timeline))

    speech_frames = -(-len(speech) // FRAME_SAMPLES)
    # Each speech run and one silent frame after it (the flush) went through the encoder; nothing else did.
    assert encoded <= 2 * (speech_frames + 2)
    assert sum(payload == silent_packet() for payload in packets) >= len(packets) - encoded
    assert len(silent_packet()) <= 4

    heard = decode(packets)[LOOK_AHEAD:]  # the timeline but its last LOOK_AHEAD samples, on the timeline's clock
    assert len(heard) == len(timeline) - LOOK_AHEAD
    for start in (len(silence), 2 * len(silence) + len(speech)):
        said, back = timeline[start : start + len(speech)], heard[start : start + len(speech)]
        assert np.corrcoef(said, back)[0, 1] > 0.98  # the waveform itself, at its level
        assert abs(np.sqrt(np.mean(back**2)) / np.sqrt(np.mean(said**2)) - 1) < 0.05
    for start in (0, len(silence) + len(speech) + FRAME_SAMPLES, len(timeline) - len(silence) + FRAME_SAMPLES):
        assert np.abs(heard[start : start + len(silence) - 2 * FRAME_SAMPLES]).max() < 1e-3  # silence stays silent
