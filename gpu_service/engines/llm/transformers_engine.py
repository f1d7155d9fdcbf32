"""A local causal language model through Hugging Face transformers: a model folder, or a GGUF file converted once.

GGUF files are dequantized by transformers on load (~16 s for SmolLM2-135M on a CPU); the result is kept under the
cache folder, keyed by the file's hash, so later starts load it in under a second.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

from common.storage.wheels import sha256_of
from contracts.gpu_service import ChatTurn
from gpu_service.engines.base import EngineLoadError
from gpu_service.engines.llm.base import Generation
from gpu_service.engines.llm.local_model import Decoding, Emit, LocalModel, Stopped
from gpu_service.engines.llm.prefix_cache import PrefixCache

log = logging.getLogger("gpu_service.llm")
CONVERTED_MARKER = ".converted"
PREFIX_CACHE_BYTES = 256 * 2**20  # a few conversations' keys and values, so each turn reads only its new tokens


def model_folder(source: Path, converted_dir: Path) -> Path:
    """A folder transformers loads without conversion: `source` itself, or its GGUF converted into the cache."""
    if source.is_dir():
        return source
    if source.suffix != ".gguf" or not source.is_file():
        raise EngineLoadError(f"{source.name} is neither a model folder nor a .gguf file")
    target = converted_dir / f"{source.stem}-{sha256_of(source)[:16]}"
    if (target / CONVERTED_MARKER).is_file():
        return target
    log.info("converting %s once (dequantizing; later starts load the result)", source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        _convert_gguf(source, scratch)
        (scratch / CONVERTED_MARKER).write_text(source.name + "\n")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _convert_gguf(source: Path, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model: Any = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    # Dequantized weights are plain tensors: saved without the GGUF marker they load as an ordinary model.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


class TransformersEngine:
    def __init__(
        self,
        name: str,
        folder: Path,
        device: str,
        decoding: Decoding,
        window: int | None = None,
        prefix_cache_bytes: int = PREFIX_CACHE_BYTES,
    ) -> None:
        """`window`: the most tokens (prompt and reply) the model is given, at most its own context: what it reads
        in time on this device (a longer prompt loses its oldest turns). `prefix_cache_bytes`: 0 reads every prompt
        whole."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = name
        self.decoding = decoding
        self.device = device
        self.tokenizer: Any = AutoTokenizer.from_pretrained(folder)
        if self.tokenizer.chat_template is None:
            raise EngineLoadError(f"the model in {folder.name} has no chat template (use an instruction-tuned model)")
        dtype = torch.float16 if device == "cuda" else torch.float32
        model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        self.model: Any = model.to(device).eval()
        context = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self.window = context if window is None else min(window, context)
        self._local = LocalModel(name, decoding)
        self._prefixes = PrefixCache(prefix_cache_bytes)

    def _prompt(self, messages: list[ChatTurn], reply_follows: bool = True) -> Any:
        """`reply_follows=False`: without the header of the model's reply (a conversation so far)."""
        turns = [{"role": turn.role, "content": turn.content} for turn in messages]
        return self.tokenizer.apply_chat_template(
            turns, add_generation_prompt=reply_follows, return_tensors="pt", return_dict=True
        )

    def count_tokens(self, messages: list[ChatTurn]) -> int:
        return int(self._prompt(messages)["input_ids"].shape[-1])

    def stream(self, messages: list[ChatTurn], max_tokens: int, generation: Generation) -> Generator[str, None, None]:
        inputs = self._prompt(messages).to(self.device)
        return self._local.run(
            lambda emit, stopped: self._write(inputs, max_tokens, generation, emit, stopped), max_tokens, generation
        )

    @property
    def _pad_token(self) -> int:
        return int(self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)

    def read_ahead(self, messages: list[ChatTurn]) -> None:
        inputs = self._prompt(messages, reply_follows=False).to(self.device)
        self._local.read_ahead(lambda: self._read(inputs))

    def _read(self, inputs: Any) -> None:
        tokens = inputs["input_ids"][0]
        resumed = self._prefixes.resume(tokens)
        if resumed.tokens >= len(tokens) - 1:
            return  # kept: nothing new to read
        # One token written: the prompt's keys and values are kept for the prompts that start with it.
        written = self.model.generate(
            **inputs,
            max_new_tokens=1,
            do_sample=False,
            return_dict_in_generate=True,
            pad_token_id=self._pad_token,
            past_key_values=resumed.cache,
        )
        self._prefixes.keep(written.sequences[0], written.past_key_values)

    def _write(self, inputs: Any, max_tokens: int, generation: Generation, emit: Emit, stopped: Stopped) -> None:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextStreamer

        prompt_length = int(inputs["input_ids"].shape[-1])

        class Progress(StoppingCriteria):
            """Counts tokens as they come, waits while speech has the cores, stops once the reader has gone."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                generation.tokens = int(input_ids.shape[-1]) - prompt_length
                generation.wait_to_write()
                return stopped()

        class Emitting(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                emit(text)

        sampling = self.decoding.temperature > 0
        options: dict[str, Any] = {
            **inputs,
            "return_dict_in_generate": True,
            "streamer": Emitting(self.tokenizer, skip_prompt=True, skip_special_tokens=True),
            "max_new_tokens": max_tokens,
            "do_sample": sampling,
            "repetition_penalty": self.decoding.repetition_penalty,
            "no_repeat_ngram_size": self.decoding.no_repeat_ngram,
            "stopping_criteria": StoppingCriteriaList([Progress()]),
            "pad_token_id": self._pad_token,
        }
        if sampling:
            options |= {"temperature": self.decoding.temperature, "top_p": self.decoding.top_p}
        resumed = self._prefixes.resume(inputs["input_ids"][0])
        generation.reused_tokens = resumed.tokens
        written = self.model.generate(**options, past_key_values=resumed.cache)
        self._prefixes.keep(written.sequences[0], written.past_key_values)
