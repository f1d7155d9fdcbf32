// Chat mode: a conversation with the persona; each reply's video streams into the player while its sentences
// arrive as server-sent events (read through fetch, so the API key goes with them).

import { call, getJson, postJson, serverEvents } from "./api.js";

const CONVERSATION_STORE = "realtime-avatar.conversation";

export class Chat {
  constructor(el, catalog, language, onSentence = () => {}) {
    this.el = el;
    this.onSentence = onSentence; // each sentence event of a reply, as it is said (the player captions it)
    this.catalog = catalog;
    this.language = language; // () => "auto" | "en" | ...
    this.id = localStorage.getItem(CONVERSATION_STORE);
  }

  async restore() {
    if (!this.id) return;
    try {
      this.render(await getJson(`/api/v1/conversations/${this.id}`));
    } catch {
      this.forget();
    }
  }

  forget() {
    this.id = null;
    localStorage.removeItem(CONVERSATION_STORE);
    this.el.log.replaceChildren();
  }

  async ensure() {
    if (this.id) return this.id;
    const persona = { language: this.language() };
    const name = this.el.personaName.value.trim();
    const prompt = this.el.personaPrompt.value.trim();
    if (name) persona.name = name;
    if (prompt) persona.system_prompt = prompt;
    if (this.catalog.voice) persona.voice = this.catalog.voice;
    if (this.catalog.portrait) persona.portrait = this.catalog.portrait;
    const conversation = await (await postJson("/api/v1/conversations", persona)).json();
    this.id = conversation.id;
    localStorage.setItem(CONVERSATION_STORE, this.id);
    this.render(conversation);
    return this.id;
  }

  // The defaults of a new conversation's persona, shown for editing.
  showPersona(persona) {
    this.el.personaNameLabel.textContent = persona.name;
    if (!this.el.personaName.value) this.el.personaName.value = persona.name;
    if (!this.el.personaPrompt.value) this.el.personaPrompt.value = persona.system_prompt;
  }

  render(conversation) {
    this.showPersona(conversation.persona);
    this.el.log.replaceChildren(...conversation.messages.map((message) => this.bubble(message.role, message.text, message)));
  }

  bubble(role, text, message = null) {
    const item = document.createElement("li");
    item.className = `bubble ${role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : this.el.personaNameLabel.textContent;
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    item.append(who, body);
    if (message?.audio_s) item.dataset.spoken = "true";
    if (message && message.status !== "done" && message.status !== "running") {
      const note = document.createElement("em");
      note.textContent = message.status === "partial" ? " (cut short)" : ` (failed: ${message.error || "no reply"})`;
      item.append(note);
    }
    this.el.log.append(item);
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  // Text typed: the user's bubble at once, the reply's stream returned for the player.
  async send(text) {
    const id = await this.ensure();
    this.bubble("user", text);
    const response = await postJson(`/api/v1/conversations/${id}/messages`, { text, stream: true });
    this.follow(response);
    return response;
  }

  // A recording: the transcript becomes the user's bubble once the service has heard it.
  async sendRecording({ name, blob }) {
    const id = await this.ensure();
    const form = new FormData();
    form.append("file", blob, name);
    form.append("stream", "true");
    const response = await call(`/api/v1/conversations/${id}/messages/audio`, { method: "POST", body: form });
    const conversation = await getJson(`/api/v1/conversations/${id}`);
    const heard = conversation.messages.filter((message) => message.role === "user").pop();
    if (heard) this.bubble("user", heard.text, heard);
    this.follow(response);
    return response;
  }

  async follow(response) {
    const reply = this.bubble("assistant", "…");
    const text = reply.querySelector(".text");
    const sentences = [];
    const url = response.headers.get("X-Events-Url");
    if (!url) return;
    for await (const event of serverEvents(url)) {
      if (event.name === "sentence") this.onSentence(event.data);
      if (event.name === "sentence" && event.data.text) {
        sentences.push(event.data.text);
        text.textContent = sentences.join(" ");
      } else if (event.name === "done") {
        reply.remove();
        this.bubble("assistant", event.data.text || sentences.join(" "), event.data);
        this.lastReply = event.data;
      }
    }
  }
}
