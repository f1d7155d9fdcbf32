"""Engines by name: each loaded once, lazily, behind a lock; each able to say why it cannot load."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common.errors import EngineUnavailable, Unprocessable
from gpu_service.schemas import EngineKind, EngineStatus


class EngineLoadError(RuntimeError):
    """Raised by a factory when an engine cannot load; the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class EngineSpec:
    name: str
    kind: EngineKind
    languages: frozenset[str]
    factory: Callable[[], Any]
    # Cheap check run by /health without loading anything: why the engine cannot load, or None.
    precheck: Callable[[], str | None] = lambda: None
    license: str | None = None


LoadedCallback = Callable[[str, float], None]  # engine name, seconds it took to load


class EngineSlot:
    def __init__(self, spec: EngineSpec, on_loaded: LoadedCallback | None = None) -> None:
        self.spec = spec
        self._on_loaded = on_loaded
        self._engine: Any = None
        self._error: str | None = None
        self._lock = threading.Lock()

    def get(self) -> Any:
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
                if reason is not None:
                    raise EngineUnavailable(f"engine '{self.spec.name}' is unavailable: {reason}")
            return self._engine

    def status(self, default: bool) -> EngineStatus:
        with self._lock:
            loaded, error = self._engine is not None, self._error
        reason = None if loaded else (error or self.spec.precheck())
        state = "ready" if loaded else ("unavailable" if reason else "not_loaded")
        return EngineStatus(
            name=self.spec.name,
            kind=self.spec.kind,
            languages=sorted(self.spec.languages),
            state=state,
            default=default,
            reason=reason,
            license=self.spec.license,
        )


class EngineRegistry:
    def __init__(
        self, specs: list[EngineSpec], defaults: dict[EngineKind, str], on_loaded: LoadedCallback | None = None
    ) -> None:
        self._slots = {spec.name: EngineSlot(spec, on_loaded) for spec in specs}
        for kind, name in defaults.items():
            if name not in self._slots or self._slots[name].spec.kind != kind:
                known = ", ".join(self.names(kind))
                raise ValueError(f"unknown {kind} engine '{name}' in settings; known: {known}")
        self._defaults = defaults

    def names(self, kind: EngineKind) -> list[str]:
        return [name for name, slot in self._slots.items() if slot.spec.kind == kind]

    def get(self, kind: EngineKind, name: str | None) -> Any:
        chosen = name or self._defaults[kind]
        slot = self._slots.get(chosen)
        if slot is None or slot.spec.kind != kind:
            raise Unprocessable(f"unknown {kind} engine '{chosen}'; known: {', '.join(self.names(kind))}")
        return slot.get()

    def default(self, kind: EngineKind) -> str:
        return self._defaults[kind]

    def statuses(self) -> list[EngineStatus]:
        return [slot.status(self._defaults.get(slot.spec.kind) == name) for name, slot in self._slots.items()]
