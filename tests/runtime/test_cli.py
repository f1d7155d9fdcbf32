"""The command-line client, run as a user runs it, against the real runtime."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from common.process.launch import free_port
from tests.media_stream import decode
from tests.runtime.conftest import Stack


def cli(stack_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "REALTIME_AVATAR_URL": stack_url}
    return subprocess.run([sys.executable, "-m", "client.cli", *args], capture_output=True, env=env, timeout=300)


def test_say_saves_a_video(stack: Stack, tmp_path: Path) -> None:
    target = tmp_path / "hello.mp4"
    done = cli(stack.runtime.url, "say", "Hello from the command line.", "-o", str(target), "--language", "en")
    assert done.returncode == 0, done.stderr
    clip = decode(target.read_bytes())
    assert clip.video_s > 1 and clip.audio_s > 1
    assert b"hello.mp4" in done.stderr and b"RTF" in done.stderr


def test_say_streams_to_stdout(stack: Stack) -> None:
    done = cli(stack.runtime.url, "say", "Streamed to a pipe. Two sentences.", "--stream", "-o", "-")
    assert done.returncode == 0, done.stderr
    assert done.stdout[4:8] == b"ftyp" and len(decode(done.stdout).frames) > 25
    assert b"first playable fragment after" in done.stderr


def test_refusals_and_an_unreachable_runtime_are_explained(stack: Stack) -> None:
    refused = cli(stack.runtime.url, "say", "Hello", "--voice", "nobody")
    assert refused.returncode == 1 and b"refused (404)" in refused.stderr and b"nobody" in refused.stderr
    down = cli(f"http://127.0.0.1:{free_port()}", "say", "Hello")
    assert down.returncode == 2 and b"cannot reach the runtime" in down.stderr
