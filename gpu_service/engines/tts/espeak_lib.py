"""ctypes binding to the espeak-ng library bundled in the `espeakng-loader` wheel.

The library keeps global state and is not thread-safe, so one process-wide instance serializes every call.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_PHONEMES_IPA = 0x02
_PHONEMES_TIE = 0x80  # bits 8-23 then hold the tie drawn inside a multi-letter phoneme (t^ʃ)
TIE = "^"


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class EspeakError(RuntimeError):
    pass


@dataclass(frozen=True)
class RawSpeech:
    samples: np.ndarray  # int16
    phonemes: list[tuple[int, str]]  # (sample index, IPA); "_" marks a pause


class EspeakLibrary:
    """One loaded libespeak-ng. Use `EspeakLibrary.shared()`: the C library allows one instance per process."""

    _instance: EspeakLibrary | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self._lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        self._lock = threading.Lock()
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate = int(self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, options))
        if self.sample_rate <= 0:
            raise EspeakError(f"espeak_Initialize failed with data at {data_path.decode()}")
        self._chunks: list[np.ndarray] = []
        self._phonemes: list[tuple[int, str]] = []
        self._callback = _Callback(self._on_synth)  # kept on self: the C side holds only a raw pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self.version = self._read_version()

    @classmethod
    def shared(cls) -> EspeakLibrary:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _read_version(self) -> str:
        self._lib.espeak_Info.restype = ctypes.c_char_p
        info = self._lib.espeak_Info(None)
        return info.decode() if info else "unknown"

    def _on_synth(self, wav: ctypes._Pointer, count: int, events: ctypes._Pointer) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_PHONEME:
                symbol = event.id.string.decode("utf-8", errors="replace") or "_"
                self._phonemes.append((int(event.sample), symbol))
            index += 1
        return 0

    def synthesize(self, text: str, voice: str) -> RawSpeech:
        encoded = text.encode("utf-8") + b"\0"
        with self._lock:
            self._chunks, self._phonemes = [], []
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise EspeakError(f"espeak-ng has no voice '{voice}'")
            status = self._lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
            if status != 0:
                raise EspeakError(f"espeak_Synth failed with status {status}")
            chunks, phonemes = self._chunks, self._phonemes
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        return RawSpeech(samples=samples, phonemes=phonemes)

    def phonemize(self, text: str, voice: str) -> str:
        """IPA with stress marks, multi-letter phonemes tied with TIE; clauses joined by a space, punctuation
        dropped (espeak-ng reads it as clause boundaries)."""
        mode = _PHONEMES_IPA | _PHONEMES_TIE | (ord(TIE) << 8)
        clauses: list[str] = []
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise EspeakError(f"espeak-ng has no voice '{voice}'")
            cursor = ctypes.pointer(ctypes.c_char_p(text.encode("utf-8")))
            while cursor.contents.value:
                phonemes = self._lib.espeak_TextToPhonemes(cursor, _CHARS_UTF8, mode)
                clauses.append(phonemes.decode("utf-8", errors="replace").strip() if phonemes else "")
        return " ".join(clause for clause in clauses if clause)
