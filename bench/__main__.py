"""`make bench`: every benchmark, one after the other, in one process run."""

from __future__ import annotations

import platform

from bench import asr, avatar, avatar_stream, chat, e2e, live, page, ray_serve, tts, voice_matching, xtts


def main() -> None:
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    for section in (
        tts.run,
        voice_matching.run,
        avatar.run,
        e2e.run,
        page.run,
        chat.run,
        asr.run,
        live.run,
        avatar_stream.run,
        ray_serve.run,
        xtts.run,
    ):
        print()
        print("\n".join(section()))


if __name__ == "__main__":
    main()
