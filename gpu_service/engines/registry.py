"""Engines by capability and name: each loaded once, lazily, behind a lock; each able to say why it cannot load.

Typed per capability: the TTS slots give a `TTSEngine`, the avatar slots an `AvatarEngine`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from common.errors import EngineUnavailable, Unprocessable
from contracts.gpu_service import EngineKind, EngineStatus
from gpu_service.engines.base import AvatarEngine, TTSEngine
from gpu_service.engines.llm.base import LLMEngine

if TYPE_CHECKING:
    from gpu_service.asr.transcriber import Transcriber

EngineT = TypeVar("EngineT")
log = logging.getLogger("gpu_service.engines")


class EngineLoadError(RuntimeError):
    """Raised by a factory when an engine cannot load; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class EngineSpec(Generic[EngineT]):
    name: str
    factory: Callable[[], EngineT]
    languages: frozenset[str] = frozenset()  # what a TTS engine speaks (declared once, here)
    # Cheap check run by /health without loading anything: why the engine cannot load, or None.
    precheck: Callable[[], str | None] = lambda: None
    license: str | None = None
    embedded: bool = False  # runs offline from the project's pip packages, no model download or GPU needed
    clones_voice: bool | None = None  # TTS: speaks in the reference voice itself (None: not a TTS engine)


LoadedCallback = Callable[[str, float], None]  # engine name, seconds it took to load


class EngineSlot(Generic[EngineT]):
    def __init__(self, spec: EngineSpec[EngineT], kind: EngineKind, on_loaded: LoadedCallback | None) -> None:
        self.spec = spec
        self.kind = kind
        self._on_loaded = on_loaded
        self._engine: EngineT | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    def get(self) -> EngineT:
        with self._lock:
            if self._engine is None:
                reason = self.spec.precheck()
                if reason is None:
                    try:
                        started = time.perf_counter()
                        self._engine = self.spec.factory()
                        if self._on_loaded is not None:
                            self._on_loaded(self.spec.name, time.perf_counter() - started)
                    except (EngineLoadError, ImportError, OSError) as exc:
                        reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, ImportError) else str(exc)
                self._error = reason
                if self._engine is None:
                    raise EngineUnavailable(f"engine '{self.spec.name}' is unavailable: {reason}")
            return self._engine

    def status(self, default: bool) -> EngineStatus:
        with self._lock:
            loaded, error = self._engine is not None, self._error
        reason = None if loaded else (error or self.spec.precheck())
        state = "ready" if loaded else ("unavailable" if reason else "not_loaded")
        return EngineStatus(
            name=self.spec.name,
            kind=self.kind,
            languages=sorted(self.spec.languages),
            state=state,
            default=default,
            reason=reason,
            license=self.spec.license,
            embedded=self.spec.embedded,
            clones_voice=self.spec.clones_voice,
        )


class Capability(Generic[EngineT]):
    """The engines of one kind, with the one used when a request names none."""

    def __init__(
        self, kind: EngineKind, specs: list[EngineSpec[EngineT]], default: str, on_loaded: LoadedCallback | None
    ) -> None:
        self.kind = kind
        self._slots = {spec.name: EngineSlot(spec, kind, on_loaded) for spec in specs}
        if default not in self._slots:
            raise ValueError(f"unknown {kind} engine '{default}' in settings; known: {', '.join(self._slots)}")
        self.default = default

    def names(self) -> list[str]:
        return list(self._slots)

    def get(self, name: str | None = None) -> EngineT:
        chosen = name or self.default
        slot = self._slots.get(chosen)
        if slot is None:
            raise Unprocessable(f"unknown {self.kind} engine '{chosen}'; known: {', '.join(self._slots)}")
        return slot.get()

    def preload(self) -> None:
        """Load the default engine; a failure is logged and shown by /health, not raised."""
        try:
            self.get()
        except EngineUnavailable as exc:
            log.warning("%s", exc.detail)
        except Exception:
            log.exception("loading the default %s engine failed", self.kind)

    def spec(self, name: str | None = None) -> EngineSpec[EngineT]:
        return self._slots[name or self.default].spec

    def statuses(self) -> list[EngineStatus]:
        return [slot.status(name == self.default) for name, slot in self._slots.items()]


class EngineRegistry:
    def __init__(
        self,
        tts: Capability[TTSEngine],
        avatar: Capability[AvatarEngine],
        llm: Capability[LLMEngine],
        asr: Capability[Transcriber],
    ) -> None:
        self.tts = tts
        self.avatar = avatar
        self.llm = llm
        self.asr = asr

    def statuses(self) -> list[EngineStatus]:
        return [*self.tts.statuses(), *self.avatar.statuses(), *self.llm.statuses(), *self.asr.statuses()]

    def load_defaults(self) -> list[str]:
        """Load the default speech and avatar engines now; why any could not load (the LLM loads on its own)."""
        problems = []
        for capability in (self.tts, self.avatar):
            try:
                capability.get()
            except EngineUnavailable as exc:
                problems.append(exc.detail)
        return problems
