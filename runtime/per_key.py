"""At most so many of one thing per API key at once (live sessions, event streams): a place is taken before the
work starts and given back when it ends, however it ends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from common.errors import TooManyRequests


class PerKeyLimit:
    def __init__(self, limit: int, refusal: Callable[[int], str], retry_after_s: int) -> None:
        """`refusal(held)` says in words why one more is refused."""
        self._limit = limit
        self._refusal = refusal
        self._retry_after = str(retry_after_s)
        self._held: Counter[str] = Counter()

    def take(self, owner: str, force: bool = False) -> Callable[[], None]:
        """A place for `owner` (429 when they hold the limit already, unless `force`: a place held before a
        restart). Call what it returns to give it back; calling it again does nothing."""
        if not force and self._held[owner] >= self._limit:
            raise TooManyRequests(self._refusal(self._held[owner]), headers={"Retry-After": self._retry_after})
        self._held[owner] += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                self._held[owner] -= 1
                if not self._held[owner]:
                    del self._held[owner]

        return give_back
