// Voices and portraits to choose from (bundled and this key's uploads), with previews, uploads by file picker,
// drag-and-drop, and a voice sample recorded from the microphone.

import { blobUrl, getJson, postFile } from "./api.js";
import { toggleRecord } from "./recorder.js";

const CHOICE_STORE = "realtime-avatar.choice";

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(CHOICE_STORE)) || {};
  } catch {
    return {};
  }
}

const THUMBNAIL_SIDE = 144; // the list's 72-px images on a 2x screen

export class Catalog {
  constructor(elements, onPortrait) {
    this.el = elements;
    this.onPortrait = onPortrait; // (preview URL) => the chosen portrait, shown while no video plays
    this.choice = remembered(); // {voice, portrait}
    this.previewUrls = new Map();
  }

  get voice() {
    return this.choice.voice || null;
  }

  get portrait() {
    return this.choice.portrait || null;
  }

  choose(kind, id) {
    this.choice[kind] = id;
    localStorage.setItem(CHOICE_STORE, JSON.stringify(this.choice));
    if (kind === "portrait" && this.previewUrls.has(id)) this.onPortrait(this.previewUrls.get(id));
  }

  async load() {
    const [voices, portraits] = await Promise.all([getJson("/api/v1/voices"), getJson("/api/v1/portraits")]);
    this.renderPortraits([...portraits.uploaded.map(uploadedEntry), ...portraits.bundled.map(bundledEntry)]);
    this.renderVoices([...voices.uploaded.map(uploadedEntry), ...voices.bundled.map(bundledEntry)]);
  }

  renderPortraits(entries) {
    const known = entries.some((entry) => entry.id === this.portrait);
    if (!known) this.choice.portrait = entries.find((entry) => entry.bundled)?.id ?? entries[0]?.id ?? null;
    this.el.portraits.replaceChildren(
      ...entries.map((entry) => {
        const { label, input } = radio("portrait", entry, this.portrait === entry.id, () => this.choose("portrait", entry.id));
        const image = document.createElement("img");
        image.alt = "";
        image.width = 72;
        image.height = 72;
        this.previewUrls.set(entry.id, entry.preview_url);
        if (entry.id === this.portrait) this.onPortrait(entry.preview_url);
        blobUrl(`${entry.preview_url}?side=${THUMBNAIL_SIDE}`).then(
          (url) => (image.src = url),
          () => (image.alt = "no preview"),
        );
        label.prepend(image);
        input.setAttribute("aria-label", `Portrait ${entry.title}`);
        return label;
      }),
    );
  }

  renderVoices(entries) {
    const known = entries.some((entry) => entry.id === this.voice);
    if (!known) this.choice.voice = null; // the service's default voice
    const byDefault = { id: null, title: "Default voice", detail: "the service's default", preview_url: null };
    this.el.voices.replaceChildren(
      ...[byDefault, ...entries].map((entry) => {
        const { label } = radio("voice", entry, this.voice === entry.id, () => this.choose("voice", entry.id));
        if (!entry.preview_url) return label;
        const listen = document.createElement("button");
        listen.type = "button";
        listen.textContent = "▶";
        listen.setAttribute("aria-label", `Listen to ${entry.title}`);
        listen.addEventListener("click", async () => {
          const audio = new Audio(await blobUrl(entry.preview_url));
          audio.play();
        });
        const wrap = document.createElement("div");
        wrap.className = "voice";
        wrap.append(label, listen);
        return wrap;
      }),
    );
  }

  // Upload controls: file pickers, drop zones, the record button. `message` shows the service's answer.
  wire() {
    const upload = async (kind, file, name) => {
      const message = kind === "voice" ? this.el.voiceMessage : this.el.portraitMessage;
      message.textContent = `Uploading ${name}…`;
      message.classList.remove("error");
      try {
        const stored = await postFile(`/api/v1/${kind}s`, file, name);
        this.choose(kind, stored.id);
        // A portrait's notices: several faces (the largest is used), a face small enough to look soft.
        const notes = (stored.notices || []).join(" ");
        message.textContent = `${name} is ready (${stored.id}).${notes ? ` Note: ${notes}.` : ""}`;
        await this.load();
      } catch (error) {
        message.textContent = error.message;
        message.classList.add("error");
      }
    };
    for (const [kind, input, box] of [
      ["voice", this.el.voiceFile, this.el.voiceBox],
      ["portrait", this.el.portraitFile, this.el.portraitBox],
    ]) {
      input.addEventListener("change", () => {
        if (input.files.length) upload(kind, input.files[0], input.files[0].name);
        input.value = "";
      });
      box.addEventListener("dragover", (event) => {
        event.preventDefault();
        box.classList.add("over");
      });
      box.addEventListener("dragleave", () => box.classList.remove("over"));
      box.addEventListener("drop", (event) => {
        event.preventDefault();
        box.classList.remove("over");
        const file = event.dataTransfer.files[0];
        if (file) upload(kind, file, file.name);
      });
    }
    toggleRecord(
      this.el.recordVoice,
      ({ name, blob }) => upload("voice", blob, name),
      (error) => {
        this.el.voiceMessage.textContent = `Recording failed: ${error.message}`;
        this.el.voiceMessage.classList.add("error");
      },
    );
  }
}

function bundledEntry(info) {
  return { id: info.id, title: info.id.replaceAll("_", " "), detail: info.description, preview_url: info.preview_url, bundled: true };
}

function uploadedEntry(info) {
  return { id: info.id, title: info.source_name, detail: "your upload", preview_url: info.preview_url, bundled: false };
}

function radio(group, entry, checked, onChoose) {
  const label = document.createElement("label");
  label.className = "choice";
  label.title = entry.detail || "";
  const input = document.createElement("input");
  input.type = "radio";
  input.name = group;
  input.value = entry.id ?? "";
  input.checked = checked;
  input.addEventListener("change", onChoose);
  const text = document.createElement("span");
  text.textContent = entry.title;
  label.append(input, text);
  return { label, input };
}
