"""A bounded in-memory cache: the least recently used entry goes when a new one would pass the limit.

The services cache per portrait and per voice; unbounded, 150 distinct uploads held ~115 MB for good.
Not locked: each owner already holds its own lock around look-up and insertion.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError("an LRU cache holds at least one item")
        self.max_items = max_items
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
