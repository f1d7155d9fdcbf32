"""Live sessions and audio-driven avatar streams share one count: each draws frames in real time for as long as it
lasts, so together they are what the machine can keep up with (GPU_SESSIONS__MAX)."""

from __future__ import annotations

from collections.abc import Callable

from common.errors import EngineUnavailable

RETRY_AFTER_S = 30


class SessionSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0

    def take(self) -> Callable[[], None]:
        """A place (503 with Retry-After when none is left); call what it returns to give it back (once)."""
        if self.taken >= self.limit:
            raise EngineUnavailable(
                f"{self.taken} live sessions and avatar streams already run, the most this service takes "
                f"(GPU_SESSIONS__MAX={self.limit}); try again when one ends",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        self.taken += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self.taken -= 1

        return give_back
