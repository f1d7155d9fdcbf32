"""The web page in Chromium: from the click on "Say it" to the first frame on screen (the page's own figure, from
requestVideoFrameCallback), for the first sentence (engines and portrait analysis cold) and warm ones, beside the
time the streamed answer's first bytes took (Resource Timing)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from harness.stack import local_stack
from tests.web.conftest import CHROMIUM, QUIET
from tests.web.test_page import PLAYED_THIS_CLIP

SENTENCES = [
    "Hello, I am glad you are here.",
    "Good morning to you.",
    "I would like a cup of tea, please.",
    "The weather is lovely today.",
    "Thank you for listening to me.",
    "See you again soon.",
]
FIRST_BYTES = """() => performance.getEntriesByType("resource").filter((entry) => entry.name.endsWith("/generate"))
  .map((entry) => entry.responseStart - entry.startTime)"""


def run() -> list[str]:
    title = "Web page (Chromium, embedded engines): click on Say it -> first frame on screen"
    if not Path(CHROMIUM).is_file():
        return [title, f"skipped: no Chromium at {CHROMIUM} (make browser installs it)"]
    scratch = Path(tempfile.mkdtemp(prefix="bench-page-"))
    with (
        local_stack(scratch / "gpu", scratch / "data", scratch / "logs") as (_, runtime),
        sync_playwright() as driver,
    ):
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=QUIET)
        page = browser.new_page()
        page.goto(runtime.url + "/")
        page.wait_for_selector("body[data-ready=true]")
        for sentence in SENTENCES:
            page.fill("#say-text", sentence)
            page.click("#say-button")
            page.wait_for_function(PLAYED_THIS_CLIP, timeout=120_000)
            page.wait_for_function("() => document.getElementById('player').ended", timeout=120_000)
        shown: list[float] = page.evaluate("() => window.avatarMetrics.firstFrameMs")
        first_bytes: list[float] = page.evaluate(FIRST_BYTES)
        browser.close()
    warm, warm_bytes = shown[1:], first_bytes[1:]
    return [
        title,
        f"first sentence (cold): first frame {shown[0]:.0f} ms (answer's first bytes {first_bytes[0]:.0f} ms)",
        f"next {len(warm)} sentences: first frame median {statistics.median(warm):.0f} ms, max {max(warm):.0f} ms "
        f"(first bytes median {statistics.median(warm_bytes):.0f} ms); target <= 1000 ms",
    ]
