"""The microphone's receive buffer of a live session (listening.PacketByPacket): each packet reaches the listener as
it arrives, where aiortc's buffer holds one back until the next has come."""

from __future__ import annotations

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from gpu_service.sessions.listening import PacketByPacket


def arriving(buffer: JitterBuffer, sequence: list[int]) -> list[int | None]:
    """For each packet as it arrives: the timestamp of the frame passed on then (None: nothing yet)."""
    passed: list[int | None] = []
    for number in sequence:
        packet = RtpPacket(payload_type=111, sequence_number=number % 65536, timestamp=number * 960)
        packet._data = bytes([number % 256])  # type: ignore[attr-defined]  # what aiortc's depayloading leaves
        frame = buffer.add(packet)[1]
        passed.append(None if frame is None else frame.timestamp)
    return passed


def test_each_packet_is_passed_on_as_it_arrives_and_a_late_one_is_dropped() -> None:
    in_order = [65534, 65535, 0, 1]  # across the sequence numbers' wrap
    assert arriving(PacketByPacket(16), in_order) == [n * 960 for n in in_order]
    assert arriving(JitterBuffer(16, prefetch=1), in_order) == [None, 65534 * 960, 65535 * 960, 0]  # one behind

    late_and_repeated = [10, 11, 13, 12, 13, 14]
    assert arriving(PacketByPacket(16), late_and_repeated) == [10 * 960, 11 * 960, 13 * 960, None, None, 14 * 960]

    restarted = [5000, 5001, 40, 41]  # a sender that numbers its packets anew is heard, not taken for a late one
    assert arriving(PacketByPacket(16), restarted) == [n * 960 for n in restarted]
