"""Engines by capability and name: each loaded once, lazily, behind a lock; each able to say why it cannot load;
held (reference counted) while a request uses it, and unloaded after an idle time where the settings give one.

Typed per capability: the TTS slots give a `TTSEngine`, the avatar slots an `AvatarEngine`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from common.errors import EngineUnavailable, Unprocessable
from contracts.gpu_service import EngineKind, EngineState, EngineStatus
from gpu_service.engines.base import AvatarEngine, EngineLoadError, TTSEngine
from gpu_service.engines.llm.base import LLMEngine

if TYPE_CHECKING:
    from gpu_service.engines.asr.transcriber import Transcriber

EngineT = TypeVar("EngineT")
log = logging.getLogger("gpu_service.engines")


@dataclass(frozen=True)
class EngineSpec(Generic[EngineT]):
    name: str
    factory: Callable[[], EngineT]
    languages: frozenset[str] = frozenset()  # what a TTS engine speaks or a language model writes (declared here)
    # Cheap check run by /health without loading anything: why the engine cannot load, or None.
    precheck: Callable[[], str | None] = lambda: None
    license: str | None = None
    embedded: bool = False  # runs offline from the project's pip packages, no model download or GPU needed
    clones_voice: bool | None = None  # TTS: speaks in the reference voice itself (None: not a TTS engine)


LoadedCallback = Callable[[str, float], None]  # engine name, seconds it took to load


class EngineSlot(Generic[EngineT]):
    """One engine, loaded on first use; counted while requests hold it; unloaded after `idle_unload_s` unheld."""

    def __init__(
        self,
        spec: EngineSpec[EngineT],
        kind: EngineKind,
        on_loaded: LoadedCallback | None,
        idle_unload_s: float | None = None,
    ) -> None:
        self.spec = spec
        self.kind = kind
        self.idle_unload_s = idle_unload_s
        self._on_loaded = on_loaded
        self._engine: EngineT | None = None
        self._error: str | None = None
        self._lock = threading.Lock()
        self._holders = 0
        self._last_used = time.monotonic()

    def get(self) -> EngineT:
        with self._lock:
            return self._loaded()

    def _loaded(self) -> EngineT:
        self._last_used = time.monotonic()
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

    @contextmanager
    def held(self) -> Iterator[EngineT]:
        """The engine, kept loaded until the block ends."""
        with self._lock:
            engine = self._loaded()
            self._holders += 1
        try:
            yield engine
        finally:
            with self._lock:
                self._holders -= 1
                self._last_used = time.monotonic()

    def unload_if_idle(self, now: float) -> bool:
        """Drop the engine if nobody holds it and it has not been used for its idle time; True if it went."""
        with self._lock:
            idle = self.idle_unload_s
            if self._engine is None or idle is None or self._holders or now - self._last_used < idle:
                return False
            engine, self._engine = self._engine, None
        close = getattr(engine, "close", None)
        if callable(close):
            close()
        del engine
        release_freed_memory()
        log.info("engine %s unloaded after %.0f s unused", self.spec.name, idle)
        return True

    def status(self, default: bool) -> EngineStatus:
        # Never waits for a load in progress (the lock is held through it: a GGUF converted, XTTS onto a GPU): /health
        # must answer within a health check's timeout, and it says the engine is loading.
        loading = not self._lock.acquire(blocking=False)
        loaded, error, holders = self._engine is not None, self._error, self._holders
        if not loading:
            self._lock.release()
        reason = None if loaded or loading else (error or self.spec.precheck())
        state: EngineState = "ready" if loaded else "loading" if loading else "unavailable" if reason else "not_loaded"
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
            in_use=holders,
            idle_unload_s=self.idle_unload_s,
        )


def release_freed_memory() -> None:
    """Collect what an unloaded engine left, hand the freed heap back to the system (glibc keeps it otherwise: a
    Kokoro unloaded without this gave back 47 of its 190 MB), and a GPU's cached blocks back to the driver."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (musl has no malloc_trim)
            ctypes.CDLL("libc.so.6").malloc_trim(0)
    torch = sys.modules.get("torch")  # never imported for this: an embedded service may not have loaded it
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    if torch is not None and torch.backends.mps.is_available():
        torch.mps.empty_cache()


class Capability(Generic[EngineT]):
    """The engines of one kind, with the one used when a request names none."""

    def __init__(
        self,
        kind: EngineKind,
        specs: list[EngineSpec[EngineT]],
        default: str,
        on_loaded: LoadedCallback | None,
        idle_unload_s: Mapping[str, float] | None = None,
    ) -> None:
        self.kind = kind
        idle = idle_unload_s or {}
        self._slots = {spec.name: EngineSlot(spec, kind, on_loaded, idle.get(spec.name)) for spec in specs}
        if default not in self._slots:
            raise ValueError(f"unknown {kind} engine '{default}' in settings; known: {', '.join(self._slots)}")
        self.default = default

    def names(self) -> list[str]:
        return list(self._slots)

    def get(self, name: str | None = None) -> EngineT:
        """The engine for one quick call; a request that keeps it over a stream holds it instead."""
        return self._slot(name).get()

    def hold(self, name: str | None, holder: ExitStack) -> EngineT:
        """The engine, kept loaded until `holder` closes."""
        return holder.enter_context(self._slot(name).held())

    def _slot(self, name: str | None) -> EngineSlot[EngineT]:
        chosen = name or self.default
        slot = self._slots.get(chosen)
        if slot is None:
            raise Unprocessable(f"unknown {self.kind} engine '{chosen}'; known: {', '.join(self._slots)}")
        return slot

    def slots(self) -> list[EngineSlot[EngineT]]:
        return list(self._slots.values())

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

    def unload_idle(self) -> list[str]:
        """Unload every engine idle past its time; the names of those unloaded."""
        now = time.monotonic()
        slots: list[EngineSlot[Any]] = [*self.tts.slots(), *self.avatar.slots(), *self.llm.slots(), *self.asr.slots()]
        return [slot.spec.name for slot in slots if slot.unload_if_idle(now)]

    def check_interval_s(self) -> float | None:
        """How often to look for idle engines: a quarter of the shortest idle time (None: nothing unloads)."""
        slots: list[EngineSlot[Any]] = [*self.tts.slots(), *self.avatar.slots(), *self.llm.slots(), *self.asr.slots()]
        times = [slot.idle_unload_s for slot in slots if slot.idle_unload_s is not None]
        return min(30.0, max(0.25, min(times) / 4)) if times else None

    def load_defaults(self) -> list[str]:
        """Load the default speech and avatar engines now; why any could not load (the LLM loads on its own)."""
        problems = []
        for capability in (self.tts, self.avatar):
            try:
                capability.get()
            except EngineUnavailable as exc:
                problems.append(exc.detail)
        return problems
