"""Scenario suites: TOML data files in evaluator/scenarios, read into checked models."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from common.storage.paths import PathOutsideRoots, resolve_within
from contracts.gpu_service import Language
from contracts.runtime import RequestLanguage

SUITES_DIR = Path(__file__).resolve().parent / "scenarios"


class SuiteError(ValueError):
    """A suite file that is missing or malformed; the message names the file and the problem."""


class Turn(BaseModel):
    language: RequestLanguage
    expect: Language | None = Field(None, description="Language the clip must be in; defaults to `language`.")
    text: str | None = None
    text_file: str | None = Field(None, description="Text read from this file, relative to the assets folder.")

    @model_validator(mode="after")
    def _one_text(self) -> Turn:
        if (self.text is None) == (self.text_file is None):
            raise ValueError("give exactly one of text and text_file")
        if self.language == "auto" and self.expect is None:
            raise ValueError("a turn with language 'auto' needs 'expect'")
        return self

    @property
    def expected_language(self) -> Language:
        expected = self.expect or self.language
        assert expected != "auto"  # ruled out by the validator
        return expected


class Scenario(BaseModel):
    """A clip per turn; in a conversation suite, each turn is a user message and the clip is the avatar's reply."""

    id: str
    persona_name: str | None = Field(None, description="Conversation suites: the persona's name.")
    system_prompt: str | None = Field(None, description="Conversation suites: the persona's instructions.")
    voice: str | None = Field(None, description="Voice id; the runtime's default if omitted.")
    portrait: str | None = None
    reference: str | None = Field(
        None, description="Recording to score the voice against (relative to assets); default: the voice's reference."
    )
    turns: list[Turn] = Field(min_length=1)


class Suite(BaseModel):
    name: str
    description: str = ""
    kind: Literal["generate", "conversation"] = Field(
        "generate", description="generate: each turn's text is spoken; conversation: each turn is answered."
    )
    scenarios: list[Scenario] = Field(min_length=1)


def available_suites() -> list[str]:
    return sorted(path.stem for path in SUITES_DIR.glob("*.toml"))


def load_suite(name: str) -> Suite:
    path = SUITES_DIR / f"{name}.toml"
    if not path.is_file():
        raise SuiteError(f"no suite named {name!r}; available: {', '.join(available_suites())}")
    try:
        return Suite.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as error:
        raise SuiteError(f"{path}: {error}") from error


def select(suite: Suite, only: list[str]) -> list[Scenario]:
    """Scenarios whose id matches any of the glob patterns in `only` (all of them when it is empty)."""
    if not only:
        return list(suite.scenarios)
    return [s for s in suite.scenarios if any(fnmatch.fnmatchcase(s.id, pattern) for pattern in only)]


def asset_path(assets_dir: Path, relative: str) -> Path:
    """A file named by a suite, which must stay inside the assets folder."""
    try:
        return resolve_within(assets_dir / relative, [assets_dir])
    except PathOutsideRoots as error:
        raise SuiteError(f"{relative!r} is outside the assets folder {assets_dir}") from error


def turn_text(turn: Turn, assets_dir: Path) -> str:
    if turn.text is not None:
        return turn.text
    assert turn.text_file is not None
    return asset_path(assets_dir, turn.text_file).read_text(encoding="utf-8").strip()
