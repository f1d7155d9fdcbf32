"""A GGUF model run by llama.cpp (llama-cpp-python), on the CPU: the embedded SmolLM2-135M, read as it ships.

On two CPU cores it writes SmolLM2-135M's Q4_1 file at ~100-120 tokens/s, where transformers (the file dequantized
to float32) writes ~18: a live turn's first clause in ~0.5 s instead of ~1 s. The conversation's chat template is
the one in the file; decoding is the transformers engine's (greedy, its repetition penalty), except that the reply
may repeat the question's n-grams (its own are forbidden: tiny models loop; and long runs of its earlier replies) and
never writes an emoji. A model that writes English only has its first words checked: not English, the reply is
written again from an English word (gpu_service.engines.llm.opening).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from contracts.gpu_service import ChatTurn
from gpu_service.engines.base import EngineLoadError
from gpu_service.engines.llm.base import Generation
from gpu_service.engines.llm.local_model import (
    Decoding,
    Emit,
    LocalModel,
    Stopped,
    ngram_followers,
    repeated_ngram_followers,
)
from gpu_service.engines.llm.opening import OPENERS, clearly_not_english, prepare
from gpu_service.text import SentenceChunker

log = logging.getLogger("gpu_service.llm")

STATE_CACHE_BYTES = 256 * 2**20  # the latest conversations' states (~5 MB per 250 tokens): turns read only what is new
# A reply may not copy this many tokens in a row from the model's earlier replies in the conversation. Greedy, the
# small model otherwise said its first reply again to every later question (one conversation in five: five turns
# word for word). Shorter runs stay allowed: forbidding 4-grams made it contort common phrases ("I'm so much sorry").
EARLIER_REPLY_NGRAM = 6


class LlamaCppEngine:
    def __init__(
        self,
        name: str,
        gguf: Path,
        decoding: Decoding,
        window: int | None = None,
        threads: int | None = None,
        state_cache_bytes: int = STATE_CACHE_BYTES,
        english_only: bool = False,
    ) -> None:
        """`window`: the most tokens (prompt and reply) the model is given, at most its own context. `threads`:
        default one per core. `state_cache_bytes`: 0 reads every prompt whole. `english_only`: the model writes
        English only, and each reply's first words are checked to be English."""
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from gpu_service.engines.llm.llama_states import ConversationStates

        self.name = name
        self.decoding = decoding
        threads = threads or os.cpu_count() or 1
        try:
            self.model: Any = Llama(
                str(gguf),
                n_ctx=window or 0,  # 0: the model's own context
                n_threads=threads,
                n_threads_batch=threads,
                flash_attn=True,  # reads a prompt ~20 % faster on the CPU (~350 tokens/s on two cores)
                seed=0,
                verbose=False,
            )
        except ValueError as exc:  # llama-cpp-python's only word for a file it cannot read
            raise EngineLoadError(f"llama.cpp could not load {gguf.name}: not a GGUF model it reads ({exc})") from exc
        facts = self.model.metadata
        context = int(facts.get(f"{facts.get('general.architecture')}.context_length", self.model.n_ctx()))
        self.window = min(int(self.model.n_ctx()), context)
        template = self.model.metadata.get("tokenizer.chat_template")
        if not template:
            raise EngineLoadError(f"{gguf.name} has no chat template (use an instruction-tuned model)")
        eos = self._piece(self.model.token_eos())
        self._format = Jinja2ChatFormatter(template, eos_token=eos, bos_token="")
        self._format_so_far = Jinja2ChatFormatter(template, eos_token=eos, bos_token="", add_generation_prompt=False)
        pieces = [bytes(self.model.detokenize([token])) for token in range(int(self.model.n_vocab()))]
        # Emoji (and rare scripts none of the three languages needs): tokens holding a byte that starts a 4-byte UTF-8
        # character. Asked not to, the model still wrote strings of emoji, which no voice says.
        self._unspeakable = np.array(
            [token for token, piece in enumerate(pieces) if any(0xF0 <= byte <= 0xF4 for byte in piece)], dtype=int
        )
        # Where a reply written again may start (one token each), and the tokens that would go on with that word.
        openers = (self._text_tokens(word) for word in OPENERS if english_only)
        self._openers = np.array(sorted({int(tokens[0]) for tokens in openers if len(tokens) == 1}), dtype=int)
        self._word_goes_on = np.array(
            [token for token, piece in enumerate(pieces) if piece.decode("utf-8", "ignore")[:1].isalpha()], dtype=int
        )
        self.english_only = english_only
        if english_only:
            prepare()
        if state_cache_bytes:
            self.model.set_cache(ConversationStates(capacity_bytes=state_cache_bytes))
        self._local = LocalModel(name, decoding)

    def _piece(self, token: int) -> str:
        return bytes(self.model.detokenize([token], special=True)).decode("utf-8", "replace")

    def tokens(self, messages: list[ChatTurn], reply_follows: bool = True) -> list[int]:
        """The prompt's tokens; `reply_follows=False`: without the header of the model's reply (a conversation so
        far, which the next message follows)."""
        turns: Any = [{"role": turn.role, "content": turn.content} for turn in messages]
        prompt = (self._format if reply_follows else self._format_so_far)(messages=turns).prompt
        return list(self.model.tokenize(prompt.encode(), add_bos=False, special=True))

    def count_tokens(self, messages: list[ChatTurn]) -> int:
        return len(self.tokens(messages))

    def stream(self, messages: list[ChatTurn], max_tokens: int, generation: Generation) -> Generator[str, None, None]:
        prompt = self.tokens(messages)
        earlier = [self._text_tokens(turn.content) for turn in messages if turn.role == "assistant"]
        return self._local.run(
            lambda emit, stopped: self._write(prompt, earlier, max_tokens, generation, emit, stopped),
            max_tokens,
            generation,
        )

    def _text_tokens(self, text: str) -> np.ndarray:
        return np.array(self.model.tokenize(text.encode(), add_bos=False), dtype=np.intc)

    def read_ahead(self, messages: list[ChatTurn]) -> None:
        so_far = self.tokens(messages, reply_follows=False)
        self._local.read_ahead(lambda: self._read(so_far))

    def _read(self, tokens: list[int]) -> None:
        if self._reusable(tokens) >= len(tokens) - 1:
            return  # held, or kept: nothing new to read
        # One token written: llama.cpp reads the prompt and keeps its state for the prompts that start with it.
        self.model.create_completion(tokens, max_tokens=1, temperature=0.0)

    def _write(
        self,
        prompt: list[int],
        earlier: list[np.ndarray],
        max_tokens: int,
        generation: Generation,
        emit: Emit,
        stopped: Stopped,
    ) -> None:
        """`earlier`: the model's earlier replies in the conversation, which this one may not copy."""
        generation.reused_tokens = self._reusable(prompt)
        pieces = self._complete(prompt, earlier, max_tokens, generation, stopped)
        if self.english_only:
            opening = _opening(pieces)
            if stopped():
                return
            if clearly_not_english(opening):
                log.info("the model's reply opened in another language (%r): written again in English", opening)
                pieces.close()
                pieces = self._complete(prompt, earlier, max_tokens, generation, stopped, from_opener=True)
            else:
                emit(opening)
        for piece in pieces:
            emit(piece)

    def _complete(
        self,
        prompt: list[int],
        earlier: list[np.ndarray],
        max_tokens: int,
        generation: Generation,
        stopped: Stopped,
        from_opener: bool = False,
    ) -> Generator[str, None, None]:
        """The reply's text as the model writes it; `from_opener`: its first word one of OPENERS."""
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        no_repeat = self.decoding.no_repeat_ngram

        def forbid(tokens: np.ndarray, scores: np.ndarray) -> np.ndarray:
            scores[self._unspeakable] = -np.inf
            # Repeats within the reply only: over the prompt too (as transformers does) it forbids the question's own
            # words ("the capital of France") and the turns' repeated instruction, and the reply drifts into French.
            reply = tokens[len(prompt) :]
            scores[repeated_ngram_followers(reply, no_repeat)] = -np.inf
            for said in earlier:
                scores[ngram_followers(said, reply, EARLIER_REPLY_NGRAM)] = -np.inf
            if from_opener and len(reply) == 0 and self._openers.size:
                allowed = scores[self._openers]
                scores[:] = -np.inf
                scores[self._openers] = allowed
            elif from_opener and len(reply) == 1:
                scores[self._word_goes_on] = -np.inf  # the opener is the whole word ("I" may not become "Il")
            return scores

        def progress(tokens: np.ndarray, scores: np.ndarray) -> bool:
            """Counts tokens as they come, waits while speech has the cores, stops once the reader has gone."""
            generation.tokens = len(tokens) - len(prompt) + 1  # the token just chosen is not among them yet
            generation.wait_to_write()
            return stopped()

        chunks = self.model.create_completion(
            prompt,
            max_tokens=max_tokens,
            temperature=self.decoding.temperature,
            top_p=self.decoding.top_p,
            repeat_penalty=self.decoding.repetition_penalty,
            logits_processor=LogitsProcessorList([forbid]),
            stopping_criteria=StoppingCriteriaList([progress]),
            stream=True,
        )
        try:
            for chunk in chunks:
                yield chunk["choices"][0]["text"]
        finally:
            chunks.close()

    def _reusable(self, prompt: list[int]) -> int:
        """The prompt's tokens the model will not read again: those it holds now, or a kept state's."""
        held = self.model.input_ids[: self.model.n_tokens].tolist()
        shared = self.model.longest_token_prefix(held, prompt)
        if self.model.cache is not None and prompt:
            try:  # the kept state create_completion will load: the one sharing the longest start with the prompt
                kept = self.model.cache[prompt]
            except KeyError:
                return int(shared)
            shared = max(shared, self.model.longest_token_prefix(kept.input_ids.tolist(), prompt))
        return int(shared)


def _opening(pieces: Iterator[str]) -> str:
    """The reply's text up to the end of its first piece as speech will cut it (SentenceChunker: its first clause or
    first few words), or all of it if it ends sooner; read from `pieces`, which go on after it."""
    chunker = SentenceChunker(first_clause=True)
    text = ""
    for piece in pieces:
        text += piece
        if chunker.feed(piece):
            break
    return text
