"""Suite files are data: every bundled one loads, and a malformed or escaping one is refused with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.suites import Suite, SuiteError, available_suites, load_suite, select, turn_text
from evaluator.thresholds import load_thresholds
from gpu_service.config import DEFAULT_ASSETS

THRESHOLDS = Path(__file__).resolve().parents[2] / "evaluator" / "thresholds.toml"


def test_bundled_suites_load_and_their_files_exist() -> None:
    assert {"phase1", "language", "gold"} <= set(available_suites())
    for name in available_suites():
        suite = load_suite(name)
        for scenario in suite.scenarios:
            for turn in scenario.turns:
                assert turn_text(turn, DEFAULT_ASSETS).strip()
            if scenario.reference:
                assert (DEFAULT_ASSETS / scenario.reference).is_file()
    phase1 = load_suite("phase1")
    assert {turn.expected_language for s in phase1.scenarios for turn in s.turns} == {"en", "zh", "es"}


def test_only_selects_by_glob() -> None:
    phase1 = load_suite("phase1")
    assert [s.id for s in select(phase1, ["*-short"])] == ["en-short", "zh-short", "es-short"]
    assert [s.id for s in select(phase1, ["zh-*", "es-medium"])] == ["zh-short", "zh-medium", "es-medium"]
    assert select(phase1, ["nothing"]) == []


def test_unknown_suite_names_the_available_ones() -> None:
    with pytest.raises(SuiteError, match=r"available: .*phase1"):
        load_suite("nope")


def test_text_file_outside_assets_is_refused() -> None:
    suite = Suite.model_validate(
        {"name": "x", "scenarios": [{"id": "a", "turns": [{"language": "en", "text_file": "../../etc/passwd"}]}]}
    )
    with pytest.raises(SuiteError, match="outside the assets folder"):
        turn_text(suite.scenarios[0].turns[0], DEFAULT_ASSETS)


@pytest.mark.parametrize(
    "turn",
    [
        {"language": "en"},  # no text
        {"language": "en", "text": "a", "text_file": "b"},  # both
        {"language": "auto", "text": "hello"},  # auto without the expected language
        {"language": "fr", "text": "bonjour"},
    ],
)
def test_malformed_turns_are_refused(turn: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Suite.model_validate({"name": "x", "scenarios": [{"id": "a", "turns": [turn]}]})


def test_thresholds_file_loads_and_a_broken_one_says_where(tmp_path: Path) -> None:
    limits = load_thresholds(THRESHOLDS)
    assert limits.intelligibility.limit("zh")[0] == "cer"
    assert limits.intelligibility.limit("en")[0] == "wer"
    broken = tmp_path / "t.toml"
    broken.write_text("[latency]\nrtf_max = -1\n")
    with pytest.raises(ValueError, match=str(broken)):
        load_thresholds(broken)
