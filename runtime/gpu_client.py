"""Async HTTP client of the gpu_service, speaking the gpu_service's own wire schemas.

Connection failures are retried (the request never reached the service); anything else is not, because the
service may have done the work. Errors the service reports keep their status and message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from common.errors import (
    BadGateway,
    BadPath,
    Misconfigured,
    NotFound,
    ServiceError,
    ServiceUnavailable,
    TooLarge,
    TooManyRequests,
    Unprocessable,
)
from common.http import sse
from common.http.observability import REQUEST_ID, REQUEST_ID_HEADER
from common.storage.files import atomic_target
from contracts.avatar_stream import PATH as AVATAR_STREAM_PATH
from contracts.gpu_service import (
    SPEAK_ID_HEADER,
    AvatarRequest,
    AvatarResponse,
    HealthResponse,
    PortraitCheckRequest,
    PortraitCheckResponse,
    PortraitsResponse,
    PublicHealth,
    ReplyRequest,
    SessionAnswer,
    SessionInfo,
    SessionOffer,
    SessionTurn,
    SpeakEvent,
    SpeakRequest,
    SpeakResult,
    StoredInput,
    TranscribeResponse,
    TTSRequest,
    TTSResponse,
    VoicesResponse,
)

ModelT = TypeVar("ModelT", bound=BaseModel)
CONNECT_ATTEMPTS = 3
RETRY_DELAYS_S = (0.2, 0.6)
ERROR_CLASSES: dict[int, type[ServiceError]] = {
    400: BadPath,
    404: NotFound,
    413: TooLarge,
    422: Unprocessable,
    429: TooManyRequests,
    503: ServiceUnavailable,
}


class GpuUnreachable(Exception):
    """The gpu_service could not be reached, or the connection broke during a request."""


@dataclass
class SpeakStream:
    """A /speak answer whose headers have arrived: its id, and its bytes as they come."""

    speak_id: str
    chunks: AsyncIterator[bytes]


class GpuClient:
    def __init__(
        self,
        base_url: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        secret: str | None = None,
        affinity_header: str | None = None,
    ) -> None:
        """`affinity_header`: also send the request id under this name, so a router in front of several
        gpu_service replicas keeps the calls made for one request (or job) on one replica (Ray Serve: x-session-id)."""
        self.base_url = base_url
        timeout = httpx.Timeout(timeout_s, connect=5.0)
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        self._auth = headers
        hooks = [_pass_request_id] if affinity_header is None else [_pass_request_id, _keep_together(affinity_header)]
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, headers=headers, event_hooks={"request": hooks}
        )
        self.in_flight = 0  # calls under way, streams being read included

    @asynccontextmanager
    async def _counted(self) -> AsyncIterator[None]:
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        async with self._counted():
            return await self._send_once_connected(method, path, **kwargs)

    async def _send_once_connected(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                response = await self._http.request(method, path, **kwargs)  # type: ignore[arg-type]
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise GpuUnreachable(f"cannot connect to {self.base_url} ({exc})") from exc
                await asyncio.sleep(RETRY_DELAYS_S[attempt])
            except httpx.TransportError as exc:
                raise GpuUnreachable(f"connection to {self.base_url} lost during {path} ({exc!r})") from exc
        _raise_for_status(response)
        return response

    async def _call(self, method: str, path: str, answer: type[ModelT], body: BaseModel | None = None) -> ModelT:
        payload = body.model_dump(mode="json", exclude_none=True) if body is not None else None
        response = await self._send(method, path, json=payload)
        return answer.model_validate(response.json())

    async def health(self) -> HealthResponse | PublicHealth:
        """The full answer; only the status when the service holds a secret this runtime does not send."""
        response = await self._send("GET", "/health")
        body = response.json()
        return HealthResponse.model_validate(body) if "engines" in body else PublicHealth.model_validate(body)

    async def voices(self) -> VoicesResponse:
        return await self._call("GET", "/api/v1/voices", VoicesResponse)

    async def portraits(self) -> PortraitsResponse:
        return await self._call("GET", "/api/v1/portraits", PortraitsResponse)

    async def bundled_file(self, kind: Literal["voices", "portraits"], asset_id: str) -> tuple[bytes, str]:
        """A bundled voice's or portrait's file (for previews) and its media type."""
        response = await self._send("GET", f"/api/v1/{kind}/{quote(asset_id, safe='')}/file")
        return response.content, response.headers.get("content-type", "application/octet-stream")

    async def open_session(self, offer: SessionOffer) -> SessionAnswer:
        return await self._call("POST", "/api/v1/sessions", SessionAnswer, offer)

    async def session_info(self, session_id: str) -> SessionInfo:
        return await self._call("GET", f"/api/v1/sessions/{quote(session_id, safe='')}", SessionInfo)

    async def close_session(self, session_id: str) -> None:
        await self._send("DELETE", f"/api/v1/sessions/{quote(session_id, safe='')}")

    @asynccontextmanager
    async def avatar_stream(self) -> AsyncIterator[ClientConnection]:
        """A connection to the gpu_service's avatar stream (the start message not yet sent); its refusal (503 when
        its sessions are all taken) raised as the service gave it."""
        url = self.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/")
        try:
            connection = await connect(  # no per-message deflate: the stream is video
                url + AVATAR_STREAM_PATH, additional_headers=self._auth, max_size=None, compression=None
            )
        except InvalidStatus as exc:
            answer = exc.response
            body = bytes(answer.body or b"")
            _raise_for_status(httpx.Response(answer.status_code, headers=dict(answer.headers), content=body))
            raise BadGateway(f"gpu_service refused the avatar stream ({answer.status_code})") from None
        except OSError as exc:
            raise GpuUnreachable(f"gpu_service unreachable at {self.base_url}: {exc}") from exc
        async with self._counted(), connection:
            yield connection

    async def tts(self, request: TTSRequest) -> TTSResponse:
        return await self._call("POST", "/api/v1/tts", TTSResponse, request)

    async def avatar(self, request: AvatarRequest) -> AvatarResponse:
        return await self._call("POST", "/api/v1/avatar", AvatarResponse, request)

    def speak(self, request: SpeakRequest) -> AbstractAsyncContextManager[SpeakStream]:
        """Open a /speak stream; leaving the context closes the connection (the service then stops its work)."""
        return self._video("/api/v1/speak", request)

    def reply(self, request: ReplyRequest) -> AbstractAsyncContextManager[SpeakStream]:
        """Open a /reply stream (the model's reply, spoken as it is written); closing works as for speak()."""
        return self._video("/api/v1/reply", request)

    @asynccontextmanager
    async def _video(self, path: str, request: BaseModel) -> AsyncIterator[SpeakStream]:
        payload = request.model_dump(mode="json", exclude_none=True)
        try:
            async with self._counted(), self._http.stream("POST", path, json=payload) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_status(response)
                yield SpeakStream(response.headers[SPEAK_ID_HEADER], self._stream_bytes(response))
        except httpx.TransportError as exc:
            raise GpuUnreachable(f"connection to {self.base_url} lost while speaking ({exc!r})") from exc

    async def _stream_bytes(self, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.TransportError as exc:  # the service died, or ended the stream early because it failed
            raise GpuUnreachable(f"the video stream from {self.base_url} broke off ({exc!r})") from exc

    async def speak_result(self, speak_id: str) -> SpeakResult:
        return await self._call("GET", f"/api/v1/speak/{speak_id}", SpeakResult)

    async def speak_events(self, speak_id: str) -> AsyncIterator[SpeakEvent]:
        """A /speak or /reply stream's events as they happen, until its `end`."""
        async for data in self._events(f"/api/v1/speak/{quote(speak_id, safe='')}/events", {}):
            yield SpeakEvent.model_validate_json(data)

    async def session_turns(self, session_id: str, start: int) -> AsyncIterator[SessionTurn]:
        """A live session's turns from index `start` on, each as it ends, until the session ends."""
        async for data in self._events(f"/api/v1/sessions/{quote(session_id, safe='')}/turns", {"start": start}):
            yield SessionTurn.model_validate_json(data)

    async def _events(self, path: str, params: dict[str, int]) -> AsyncIterator[str]:
        timeout = httpx.Timeout(None, connect=5.0)  # an event may be a long time coming
        try:
            async with self._counted(), self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_status(response)
                async for data in sse.data_of(response.aiter_lines()):
                    yield data
        except httpx.TransportError as exc:
            raise GpuUnreachable(f"the events from {self.base_url} broke off ({exc!r})") from exc

    async def check_portrait(self, portrait: str, face: int = 0) -> PortraitCheckResponse:
        return await self._call(
            "POST", "/api/v1/portraits/check", PortraitCheckResponse, PortraitCheckRequest(portrait=portrait, face=face)
        )

    async def transcribe(self, source: Path, name: str) -> TranscribeResponse:
        with source.open("rb") as stream:
            response = await self._send("POST", "/api/v1/transcribe", files={"file": (name, stream)})
        return TranscribeResponse.model_validate(response.json())

    async def put_input(self, kind: str, name: str, source: Path) -> StoredInput:
        response = await self._send("PUT", f"/api/v1/inputs/{kind}/{name}", content=_file_chunks(source))
        return StoredInput.model_validate(response.json())

    async def download(self, host_path: str, destination: Path) -> None:
        """Stream a result file to `destination`, which appears only once complete."""
        try:
            async with self._counted():
                await self._download(host_path, destination)
        except httpx.TransportError as exc:
            raise GpuUnreachable(f"download from {self.base_url} failed ({exc!r})") from exc

    async def _download(self, host_path: str, destination: Path) -> None:
        with atomic_target(destination) as partial, partial.open("wb") as sink:
            async with self._http.stream("GET", "/api/v1/files", params={"path": host_path}) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for_status(response)
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)


async def _pass_request_id(request: httpx.Request) -> None:
    """The runtime's request id goes with every call it makes, so both services' logs line up."""
    request.headers[REQUEST_ID_HEADER] = REQUEST_ID.get()


def _keep_together(header: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """The files a call leaves on a replica (inputs put, a video's result) are read by the next calls made for the
    same request, so they must reach the same replica: the router pins each request id to one."""

    async def pin(request: httpx.Request) -> None:
        if (request_id := REQUEST_ID.get()) != "-":
            request.headers[header] = request_id

    return pin


async def _file_chunks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        detail = str(response.json().get("detail", response.text))
    except ValueError:
        detail = response.text or response.reason_phrase
    if response.status_code == 401:  # the runtime's credentials, not the caller's: an operator's problem
        raise Misconfigured(
            f"gpu_service refused the runtime's credentials ({detail}); RUNTIME_GPU_SHARED_SECRET must equal "
            "the gpu_service's GPU_SHARED_SECRET"
        )
    # Retry-After (a 429 or 503's advice) reaches the runtime's caller as the gpu_service gave it.
    headers = {"Retry-After": retry} if (retry := response.headers.get("retry-after")) else None
    known = ERROR_CLASSES.get(response.status_code)
    if known is not None:  # the caller's mistake (or an engine's absence) stays what it is
        raise known(detail, headers=headers)
    if response.status_code < 500:
        error = ServiceError(detail)
        error.status_code = response.status_code
        raise error
    raise BadGateway(f"gpu_service failed ({response.status_code}): {detail}")
