"""The attention keys and values of recent conversations, so a local model reads only what is new in a prompt.

A conversation's next prompt repeats the last one (system message, earlier turns) and adds a reply and a message:
reading it all again took SmolLM2-135M ~0.8 s at 575 tokens on two CPU cores, most of a live turn's time to its
first token. A prompt that starts like a kept sequence resumes from that sequence's cache, cut to the common part.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MIN_SHARED_TOKENS = 16  # fewer shared tokens than this (a chat template's header) are read again instead


@dataclass(frozen=True)
class Resumed:
    cache: Any  # a DynamicCache of the prompt's first `tokens` tokens, the caller's own copy, or None
    tokens: int


class PrefixCache:
    """The token sequences a model has read and written lately, each with its keys and values, the most recently
    used kept within `max_bytes` (SmolLM2-135M's take 46 KB a token: a 600-token conversation 28 MB)."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._kept: OrderedDict[int, tuple[Any, Any, int]] = OrderedDict()  # id -> (token ids, cache, bytes)
        self._next_id = 0
        self._lock = threading.Lock()

    def resume(self, input_ids: Any) -> Resumed:
        """The cache of the longest kept prefix of `input_ids` (a 1-D tensor), cut to it; at least one token of the
        prompt is left to read, as the model must compute the next token's scores from it."""
        import torch

        best: tuple[int, int] | None = None  # (shared tokens, entry)
        with self._lock:
            for key, (ids, _, _) in self._kept.items():
                length = min(len(ids), len(input_ids) - 1)
                if length <= 0:
                    continue
                differs = torch.nonzero(ids[:length] != input_ids[:length])
                shared = int(differs[0, 0]) if len(differs) else length
                if shared >= MIN_SHARED_TOKENS and (best is None or shared > best[0]):
                    best = (shared, key)
            if best is None:
                return Resumed(None, 0)
            shared, key = best
            self._kept.move_to_end(key)
            cache = copy.deepcopy(self._kept[key][1])  # generation extends it in place
        surplus = int(cache.get_seq_length()) - shared
        try:
            if surplus:
                cache.crop(-surplus)  # a negative count: tokens removed from the end
        except (ValueError, RuntimeError):  # a layer that cannot go back (a sliding window already full)
            return Resumed(None, 0)
        return Resumed(cache, shared)

    def keep(self, sequence: Any, cache: Any) -> None:
        """`sequence`: the tokens read and written (1-D); `cache`: generation's, covering the first of them."""
        covered = int(cache.get_seq_length())
        size = _bytes(cache)
        if covered < MIN_SHARED_TOKENS or not cache.is_croppable or size > self._max_bytes:
            return
        with self._lock:
            self._kept[self._next_id] = (sequence[:covered].clone(), cache, size)
            self._next_id += 1
            while sum(entry[2] for entry in self._kept.values()) > self._max_bytes:
                self._kept.popitem(last=False)


def _bytes(cache: Any) -> int:
    return sum(tensor.nbytes for layer in cache.layers for tensor in (layer.keys, layer.values) if tensor is not None)
