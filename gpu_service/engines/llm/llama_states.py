"""The llama.cpp engine's kept model states: a few conversations' keys and values, so each turn reads only its new
tokens, within a bound on what they really take.

llama-cpp-python's `LlamaRAMCache` counts a state as its keys and values only (~22 KB a token for SmolLM2-135M),
but each state also carries a copy of the logits of up to 512 prompt tokens (49,152 floats each: 46 MB for a
200-token prompt, 8x the counted bytes). Bounded at 256 MB it kept ~50 such states: a service taking abandoned
replies grew ~590 MB per 40 of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_cpp.llama import LlamaState
from llama_cpp.llama_cache import LlamaRAMCache


def state_bytes(state: LlamaState) -> int:
    return int(state.llama_state_size) + int(state.scores.nbytes) + int(state.input_ids.nbytes)


class ConversationStates(LlamaRAMCache):
    """Least recently used states first out, counted by all they hold."""

    @property
    def cache_size(self) -> int:
        return sum(state_bytes(state) for state in self.cache_state.values())

    def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
        # With logits for the last token only (the engine's setting), no kept logit is ever sampled from: a loaded
        # state's prompt has its last token read again. One row stays because loading writes it over the rows.
        value.scores = value.scores[-1:].copy()
        super().__setitem__(key, value)
