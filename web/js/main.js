// The page: say-this and chat modes over one player, voice and portrait choices, clip history, health.

import { blobUrl, getJson, onKeyNeeded, postJson, serverEvents } from "./api.js";
import { Captions } from "./captions.js";
import { Catalog } from "./catalog.js";
import { Chat } from "./chat.js";
import { HealthView } from "./health.js";
import { History } from "./history.js";
import { LiveSession } from "./live.js";
import { StreamPlayer } from "./player.js";
import { holdToRecord } from "./recorder.js";
import { YourAudio } from "./your_audio.js";

const $ = (id) => document.getElementById(id);
// The chosen portrait fills the player until a video plays: fetched at the frame's size (512 px, more on a dense
// screen), not as the list's thumbnail, which would be enlarged and soft.
const FRAME_SIDE = 512;
const CAPTION_WAIT_MS = 150;
let posterRequest = 0;
function showPortrait(previewUrl) {
  const side = Math.min(1024, Math.max(FRAME_SIDE, Math.round($("player").clientWidth * window.devicePixelRatio)));
  const request = ++posterRequest;
  blobUrl(`${previewUrl}?side=${side}`).then((url) => {
    if (request === posterRequest) $("player").poster = url; // the latest choice wins
  }, () => {});
}
// What tests and curious users can read: the latest click-to-first-frame time, events, captions shown.
window.avatarMetrics = { clicks: 0, firstFrameMs: [], liveEvents: [], streamEvents: [] };
const captions = new Captions($("player"), $("caption"));
const player = new StreamPlayer($("player"), captions);
const healthView = new HealthView($("engines"), $("banner"));
const catalog = new Catalog({
  portraits: $("portraits"),
  voices: $("voices"),
  portraitFile: $("portrait-file"),
  voiceFile: $("voice-file"),
  portraitBox: $("portrait-box"),
  voiceBox: $("voice-box"),
  portraitMessage: $("portrait-message"),
  voiceMessage: $("voice-message"),
  recordVoice: $("record-voice"),
}, showPortrait);
const history = new History($("history"), $("history-message"), (url) => watch(() => player.replay(url)));
const chat = new Chat(
  {
    log: $("chat-log"),
    personaName: $("persona-name-input"),
    personaPrompt: $("persona-prompt"),
    personaNameLabel: $("persona-name"),
  },
  catalog,
  () => $("language").value,
  (sentence) => captions.addCue(sentence),
);

function setState(text, isError = false) {
  const state = $("state");
  state.textContent = text;
  state.hidden = text === "";
  state.classList.toggle("error", isError);
}

function busy(on) {
  for (const id of ["say-button", "chat-send", "talk"]) $(id).disabled = on;
}

// Runs one playback (stream or replay) with the waiting state, first-frame timing and errors shown.
async function watch(start, clickedAt = performance.now()) {
  busy(true);
  setState("Making the video…");
  $("timing").textContent = "";
  window.avatarMetrics.clicks += 1;
  try {
    const { firstFrame } = await start();
    const shownAt = await firstFrame;
    const ms = Math.round(shownAt - clickedAt);
    window.avatarMetrics.firstFrameMs.push(ms);
    $("timing").textContent = `First frame after ${(ms / 1000).toFixed(2)} s`;
    healthView.clearRefusal();
  } catch (error) {
    setState(error.name === "AbortError" ? "" : error.message, error.name !== "AbortError");
    return;
  } finally {
    busy(false);
  }
}

$("player").addEventListener("playing", () => setState(""));

function fromStream(response, text) {
  healthView.noteFallback(response.headers.get("X-Fallback") === "true");
  const videoUrl = response.headers.get("X-Video-Url");
  // Captions as it plays, from the sentences' events (a chat reply's are followed by the chat, which shows its text);
  // its first frame waits for its first caption (at most CAPTION_WAIT_MS).
  const eventsUrl = response.headers.get("X-Events-Url");
  const playing = player.play(response, eventsUrl ? captions.firstCue(CAPTION_WAIT_MS) : undefined);
  if (eventsUrl && !response.headers.has("X-Message-Id")) followCaptions(eventsUrl);
  return playing.then((played) => {
    if (videoUrl) {
      history.add({ videoUrl, text, at: new Date().toISOString() });
      // Stored with the video once its stream has ended: the clip's captions if its events brought none.
      if (!captions.hasCues) blobUrl(`${videoUrl}/captions.vtt`).then((url) => player.showCaptions(url), () => {});
    }
    return played;
  });
}

async function followCaptions(url) {
  try {
    for await (const event of serverEvents(url)) if (event.name === "sentence") captions.addCue(event.data);
  } catch {
    // captions are an extra: the clip plays without them
  }
}

$("say-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const clickedAt = performance.now();
  const text = $("say-text").value.trim();
  if (!text) return;
  const request = { text, language: $("language").value, stream: true };
  if (catalog.voice) request.voice = catalog.voice;
  if (catalog.portrait) request.portrait = catalog.portrait;
  watch(async () => fromStream(await postJson("/api/v1/generate", request), text), clickedAt);
});

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const clickedAt = performance.now();
  const text = $("chat-text").value.trim();
  if (!text) return;
  $("chat-text").value = "";
  watch(async () => fromStream(await chat.send(text), `Reply to: ${text}`), clickedAt);
});

holdToRecord(
  $("talk"),
  (recording) => watch(async () => fromStream(await chat.sendRecording(recording), "Spoken reply")),
  (error) => setState(`The microphone could not be used: ${error.message}`, true),
);

$("new-chat").addEventListener("click", () => {
  chat.forget();
  setState("A new conversation starts with your next message.");
});

// Tabs: click, or arrow keys between them (the ARIA tabs pattern).
const tabs = [$("tab-say"), $("tab-chat"), $("tab-live"), $("tab-audio")];
function selectTab(tab) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
  tab.focus();
  if (tab.id === "tab-chat") $("chat-text").focus();
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: tabs.length - 1 }[event.key];
    if (step) selectTab(tabs[(tabs.indexOf(tab) + step) % tabs.length]);
  });
}

const live = new LiveSession(
  {
    mic: $("live-mic"),
    start: $("live-start"),
    stop: $("live-stop"),
    text: $("live-text"),
    ask: $("live-ask"),
    say: $("live-say"),
    interrupt: $("live-interrupt"),
    log: $("live-log"),
  },
  $("player"),
  catalog,
  () => $("language").value,
  captions,
  (start, text) => watch(async () => fromStream(await start(), text)),
);
$("live-start").addEventListener("click", () =>
  live.start().catch((error) => {
    setState(`The live session could not start: ${error.message}`, true);
    live.ended("could not start");
  }),
);
$("live-stop").addEventListener("click", () => live.stop());
$("live-form").addEventListener("submit", (event) => {
  event.preventDefault();
  live.send({ type: "chat", text: $("live-text").value.trim() });
  $("live-text").value = "";
});
$("live-say").addEventListener("click", () => {
  live.send({ type: "say", text: $("live-text").value.trim() });
  $("live-text").value = "";
});
$("live-interrupt").addEventListener("click", () => live.send({ type: "interrupt" }));

const yourAudio = new YourAudio(player, catalog);
$("audio-file").addEventListener("change", () => {
  const file = $("audio-file").files[0];
  if (file) watch(async () => yourAudio.playFile(file));
});
$("audio-mic").addEventListener("click", () => {
  const on = $("audio-mic").getAttribute("aria-pressed") !== "true";
  $("audio-mic").setAttribute("aria-pressed", String(on));
  $("audio-mic").textContent = on ? "Stop" : "Use my microphone";
  if (on) {
    watch(async () => yourAudio.playMicrophone());
  } else {
    yourAudio.stopMicrophone?.();
  }
});

// The key dialog: asked once per browser session, when /health says the service needs one.
onKeyNeeded(
  (reason) =>
    new Promise((resolve) => {
      const dialog = $("key-dialog");
      $("key-reason").textContent = reason;
      $("key-input").value = "";
      dialog.addEventListener("close", () => resolve($("key-input").value.trim()), { once: true });
      dialog.showModal();
    }),
);

async function start() {
  await healthView.poll();
  try {
    await catalog.load();
    chat.showPersona(await defaultPersona());
    await chat.restore();
  } catch (error) {
    setState(error.message, true);
  }
  catalog.wire();
  document.body.dataset.ready = "true";
}

// The persona a new conversation gets, as the API documents it (its OpenAPI schema's defaults).
async function defaultPersona() {
  const schema = (await getJson("/openapi.json")).components.schemas.Persona.properties;
  return { name: schema.name.default, system_prompt: schema.system_prompt.default };
}

start();
