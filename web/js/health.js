// Health at a glance: which engines run (embedded or real) on which device, and a banner when the gpu_service is
// down (the runtime's in-process fallback serves, or nothing does) or when the service refuses work (503).

import { health } from "./api.js";

const POLL_MS = 10000;
const KINDS = { tts: "Voice", avatar: "Face", llm: "Chat", asr: "Listening" };
const LANGUAGES = { en: "English", zh: "Mandarin", es: "Spanish" };

// What a user should know of an engine: embedded or real, and for a chat model that does not speak every language
// the page offers, which it does and where a real one is set up.
function engineNote(engine) {
  const kind = engine.embedded ? "embedded" : "real model";
  const offered = Object.keys(LANGUAGES);
  if (engine.kind !== "llm" || offered.every((code) => engine.languages.includes(code))) return kind;
  const speaks = engine.languages.map((code) => LANGUAGES[code] || code).join(", ");
  return `${kind}, replies in ${speaks} only: other languages get a sentence saying so; ` +
    "a real model: GPU_LLM__OPENAI_BASE_URL, see the README";
}

export class HealthView {
  constructor(summary, banner) {
    this.summary = summary;
    this.banner = banner;
    this.refused = null;
    window.addEventListener("service-refused", (event) => {
      this.refused = event.detail;
      this.showBanner();
    });
  }

  async poll() {
    try {
      this.render(await health());
    } catch (error) {
      this.summary.textContent = `The service does not answer (${error.message}).`;
    }
    setTimeout(() => this.poll(), POLL_MS);
  }

  render(status) {
    const gpu = status.gpu_service;
    this.down = gpu.reachable === false;
    this.fallback = status.fallback;
    if (gpu.on_demand) {
      this.summary.textContent = "The gpu_service starts on demand: the first request after a quiet spell waits for it.";
    } else if (gpu.reachable && gpu.engines.length) {
      const parts = gpu.engines
        .filter((engine) => engine.default)
        .map((engine) => `${KINDS[engine.kind] || engine.kind}: ${engine.name} (${engineNote(engine)})`);
      this.summary.textContent = `${parts.join(" · ")} · device ${gpu.device}`;
    } else if (gpu.reachable) {
      this.summary.textContent = "The gpu_service runs; its details are withheld.";
    } else {
      this.summary.textContent = "gpu_service not reachable";
    }
    this.showBanner();
  }

  noteFallback(used) {
    if (used) {
      this.down = true;
      this.fallback = "local";
    }
    this.showBanner();
  }

  showBanner() {
    let text = null;
    if (this.down) {
      text =
        this.fallback === "local"
          ? "The gpu_service is not reachable: the runtime makes videos with its own embedded engines, more slowly."
          : "The gpu_service is not reachable, and this runtime has no fallback: requests will be refused.";
    }
    if (this.refused) text = text ? `${text} ${this.refused}` : `The service refused: ${this.refused}`;
    this.banner.hidden = text === null;
    this.banner.textContent = text || "";
  }

  clearRefusal() {
    this.refused = null;
    this.showBanner();
  }
}
