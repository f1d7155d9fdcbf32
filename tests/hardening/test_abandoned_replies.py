"""Replies their clients give up on must not cost the gpu_service memory that stays: each leaves the model's state
for its conversation, and those states are bounded (gpu_service/engines/llm/llama_states.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from common.process.launch import RunningService, run_service
from tests.process_usage import resident_mb
from tests.readiness import wait_for_language_model


@pytest.fixture(scope="module")
def gpu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("abandoned-replies")
    env = {"GPU_OUTPUT_ROOT": str(root / "out"), "GPU_LLM__PRELOAD": "true"}
    with run_service("gpu_service.app:create_app", env, root) as service:
        wait_for_language_model(service.url)
        yield service


def abandon(url: str, question: str) -> None:
    """A reply read to its first bytes (the video's start), then dropped."""
    body = {"text": question, "language": "en", "size": 128}
    with httpx.stream("POST", f"{url}/api/v1/reply", json=body, timeout=120) as reply:
        assert reply.status_code == 200, reply.read()
        next(reply.iter_bytes())


@pytest.mark.deep  # a soak: make test-deep
def test_abandoned_replies_leave_memory_bounded(gpu: RunningService) -> None:
    """Before: each abandoned reply's kept model state held 46-100 MB of logits nobody counted: ~700 MB more per 40
    replies, without end (1.2 -> 3.3 GB after 120). Now the states fill their 256 MB bound, and then little grows
    (measured: +445-455 MB for the first 40, +186-290 MB for the next 80)."""
    for number in range(3):  # the voice, the face and the model's first allocations are not what is measured
        abandon(gpu.url, f"Say hello to guest number {number}.")
    asked = (f"Tell me about river number {number}, in three sentences." for number in range(120))
    before = resident_mb(gpu.process.pid)
    for question in itertools.islice(asked, 40):  # each a conversation of its own: a state kept for each
        abandon(gpu.url, question)
    filled = resident_mb(gpu.process.pid)
    for question in asked:
        abandon(gpu.url, question)
    grown = resident_mb(gpu.process.pid) - filled
    print(f"abandoned replies: the first 40 {filled - before:+.0f} MB resident, the next 80 {grown:+.0f} MB")
    assert grown < 500, f"{grown:.0f} MB more after 80 more abandoned replies"
