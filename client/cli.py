"""`realtime-avatar`: the runtime's public API from a shell.

    realtime-avatar say "Hello there!" -o hello.mp4                 # wait, then save the MP4
    realtime-avatar say "Hello there!" --stream -o - | ffplay -     # watch it while it is made
    realtime-avatar health

REALTIME_AVATAR_URL (default http://127.0.0.1:8000) and REALTIME_AVATAR_API_KEY come from the environment.
Exit codes: 0 done, 1 refused or failed (the service's message is printed), 2 the runtime could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import httpx

from common.media.mp4_boxes import BoxReader
from contracts.gpu_service import SUPPORTED_LANGUAGES
from contracts.runtime import VIDEO_ID_HEADER, VIDEO_URL_HEADER, GenerateRequest, GenerateResult

DEFAULT_URL = "http://127.0.0.1:8000"


class CliError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _client(args: argparse.Namespace) -> httpx.Client:
    key = os.environ.get("REALTIME_AVATAR_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=args.url.rstrip("/"), headers=headers, timeout=args.timeout)


def _refusal(response: httpx.Response) -> CliError:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text or response.reason_phrase
    return CliError(f"refused ({response.status_code}): {detail}")


def _request(args: argparse.Namespace, stream: bool) -> dict[str, object]:
    request = GenerateRequest(
        text=args.text, language=args.language, voice=args.voice, portrait=args.portrait, face=args.face, stream=stream
    )
    return request.model_dump(exclude_none=True)


def say(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.stream:
            return _say_streaming(client, args)
        response = client.post("/api/v1/generate", json=_request(args, stream=False))
        if response.status_code != 200:
            raise _refusal(response)
        result = GenerateResult.model_validate(response.json())
        target = Path(args.output or f"{result.video_id}.mp4")
        with client.stream("GET", result.video_url) as download, target.open("wb") as sink:
            if download.status_code != 200:
                download.read()
                raise _refusal(download)
            for chunk in download.iter_bytes():
                sink.write(chunk)
    print(
        f"{target}: {result.duration_s:.2f} s, {result.language}, voice {result.voice}, portrait {result.portrait}, "
        f"made in {result.timings.total_s:.2f} s (RTF {result.rtf:.2f})",
        file=sys.stderr,
    )
    for notice in result.notices:
        print(f"note: {notice}", file=sys.stderr)
    return 0


def _say_streaming(client: httpx.Client, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    reader, first = BoxReader(), 0.0
    to_stdout = args.output == "-"
    with client.stream("POST", "/api/v1/generate", json=_request(args, stream=True)) as response:
        if response.status_code != 200:
            response.read()
            raise _refusal(response)
        video_id = response.headers[VIDEO_ID_HEADER]
        target = None if to_stdout else Path(args.output or f"{video_id}.mp4")
        sink: BinaryIO = sys.stdout.buffer if target is None else target.open("wb")
        try:
            for chunk in response.iter_bytes():
                sink.write(chunk)
                sink.flush()
                if not first and any(box.kind == "mdat" for box in reader.feed(chunk)):
                    first = time.perf_counter() - started
        except httpx.TransportError as exc:  # the documented signal of a stream that failed midway
            raise CliError(f"the stream broke off before the end ({exc}); nothing was stored") from exc
        finally:
            if target is not None:
                sink.close()
    where = "stdout" if target is None else str(target)
    print(
        f"{where}: first playable fragment after {first:.2f} s, whole stream {time.perf_counter() - started:.2f} s; "
        f"stored as {args.url.rstrip('/')}{response.headers[VIDEO_URL_HEADER]}",
        file=sys.stderr,
    )
    return 0


def health(args: argparse.Namespace) -> int:
    with _client(args) as client:
        response = client.get("/health")
    print(json.dumps(response.json(), indent=2))
    return 0 if response.status_code == 200 and response.json().get("status") == "ok" else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="realtime-avatar", description="Talk to a Realtime Avatar runtime.")
    top.add_argument("--url", default=os.environ.get("REALTIME_AVATAR_URL", DEFAULT_URL), help="the runtime")
    top.add_argument("--timeout", type=float, default=900, help="seconds to wait for an answer")
    commands = top.add_subparsers(dest="command", required=True)
    speak = commands.add_parser("say", help="text to a talking-head video")
    speak.add_argument("text")
    speak.add_argument("-o", "--output", help="file to write ('-': stdout, with --stream); default <video id>.mp4")
    speak.add_argument("--stream", action="store_true", help="write the video while it is made")
    speak.add_argument("--language", default="auto", choices=["auto", *SUPPORTED_LANGUAGES])
    speak.add_argument("--voice", help="a voice id (bundled or uploaded)")
    speak.add_argument("--portrait", help="a portrait id (bundled or uploaded)")
    speak.add_argument("--face", type=int, default=0, help="with several people in the photo: which face, by size")
    speak.set_defaults(run=say)
    commands.add_parser("health", help="the runtime's /health").set_defaults(run=health)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except CliError as error:
        print(f"realtime-avatar: {error}", file=sys.stderr)
        return error.code
    except httpx.TransportError as error:
        print(f"realtime-avatar: cannot reach the runtime at {args.url} ({error})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
