"""What the runtime asks of the gpu_service, made in one place from a public request or a persona: the text checked,
the language chosen (one rule), the voice and portrait resolved for the backend that will do the work (an upload is
put there first), and the runtime's frame settings."""

from __future__ import annotations

from common.errors import TooLarge
from contracts.gpu_service import HistoryTurn, Language, ReplyRequest, SessionOffer, SpeakRequest, VideoOptions
from contracts.runtime import GenerateRequest, LiveSessionRequest, Persona, RequestLanguage
from runtime.config import Settings
from runtime.gpu_gateway import GpuBackend
from runtime.language import resolve_language
from runtime.turn import ice_servers
from runtime.uploads import UploadStore


def check_text(text: str, settings: Settings, what: str = "text") -> None:
    """Refused before any work (and before a job is queued, so a queued job cannot fail for it later)."""
    if len(text) > settings.max_text_chars:
        raise TooLarge(
            f"the {what} has {len(text)} characters; the limit is {settings.max_text_chars} (RUNTIME_MAX_TEXT_CHARS)"
        )


def spoken_language(requested: RequestLanguage, text: str | None) -> tuple[Language, bool]:
    """The language to speak, and whether it was detected: "auto" follows the text; with no text yet (a live
    session opening) it starts in English and each heard utterance is transcribed in it."""
    if text is None:
        return ("en" if requested == "auto" else requested), False
    return resolve_language(requested, text)


async def video_options(
    voice: str | None,
    portrait: str | None,
    face: int,
    language: Language,
    backend: GpuBackend,
    uploads: UploadStore,
    settings: Settings,
    owner: str,
) -> VideoOptions:
    """Who speaks and whose face, as the gpu_service that does the work knows them; the defaults where not named."""
    return VideoOptions(
        language=language,
        voice=await uploads.resolve_voice(voice or settings.default_voice, backend, owner),
        portrait=await uploads.resolve_portrait(portrait or settings.default_portrait, backend, owner),
        face=face,
        fps=settings.fps,
        size=settings.size,
    )


async def speak_request(
    request: GenerateRequest,
    language: Language,
    backend: GpuBackend,
    uploads: UploadStore,
    settings: Settings,
    owner: str,
) -> SpeakRequest:
    options = await video_options(
        request.voice, request.portrait, request.face, language, backend, uploads, settings, owner
    )
    # A stream is watched as it is made: its first clause is voiced on its own, so it starts sooner.
    return SpeakRequest(**options.model_dump(exclude_none=True), text=request.text, first_clause=request.stream)


async def reply_request(
    persona: Persona,
    text: str,
    history: list[HistoryTurn],
    language: Language,
    backend: GpuBackend,
    uploads: UploadStore,
    settings: Settings,
    owner: str,
) -> ReplyRequest:
    options = await video_options(persona.voice, persona.portrait, 0, language, backend, uploads, settings, owner)
    return ReplyRequest(
        **options.model_dump(exclude_none=True), text=text, system=persona.instructions, history=history
    )


async def session_offer(
    body: LiveSessionRequest, backend: GpuBackend, uploads: UploadStore, settings: Settings, owner: str
) -> SessionOffer:
    persona = body.persona
    language, _ = spoken_language(persona.language, None)
    options = await video_options(persona.voice, persona.portrait, 0, language, backend, uploads, settings, owner)
    ice = ice_servers(settings, owner)  # the gpu_service's peer gets TURN credentials of its own
    return SessionOffer(
        **options.model_dump(exclude_none=True),
        sdp=body.sdp,
        type=body.type,
        system=persona.instructions,
        ice_servers=ice.ice_servers,
        ice_transport_policy=ice.ice_transport_policy,
    )
