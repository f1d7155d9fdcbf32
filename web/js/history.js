// This browser's clips (kept in localStorage): replay, download the MP4, copy its link. Videos the service has
// since deleted (its retention setting) say so when replayed.

import { blobUrl } from "./api.js";

const HISTORY_STORE = "realtime-avatar.history";
const KEEP = 50;

export class History {
  constructor(list, message, replay) {
    this.list = list;
    this.message = message;
    this.replay = replay; // (url) => plays a stored video
    this.render();
  }

  clips() {
    try {
      return JSON.parse(localStorage.getItem(HISTORY_STORE)) || [];
    } catch {
      return [];
    }
  }

  add(clip) {
    const clips = [clip, ...this.clips().filter((old) => old.videoUrl !== clip.videoUrl)].slice(0, KEEP);
    localStorage.setItem(HISTORY_STORE, JSON.stringify(clips));
    this.render();
  }

  async act(what, clip) {
    this.message.classList.remove("error");
    try {
      if (what === "copy") {
        const link = new URL(clip.videoUrl, location.href).href;
        await navigator.clipboard.writeText(link);
        this.message.textContent = `Link copied: ${link}`;
        return;
      }
      const url = await blobUrl(clip.videoUrl);
      if (what === "replay") {
        await this.replay(url);
      } else {
        const anchor = document.createElement("a");
        anchor.href = url;
        anchor.download = `${clip.videoUrl.split("/").pop()}.mp4`;
        anchor.click();
      }
      this.message.textContent = "";
    } catch (error) {
      this.message.textContent = error.status === 404 ? "That clip has expired on the service." : error.message;
      this.message.classList.add("error");
    }
  }

  render() {
    const items = this.clips().map((clip) => {
      const item = document.createElement("li");
      const text = document.createElement("span");
      text.className = "clip-text";
      text.textContent = clip.text;
      const when = document.createElement("time");
      when.dateTime = clip.at;
      when.textContent = new Date(clip.at).toLocaleString();
      item.append(text, when);
      for (const [what, label] of [
        ["replay", "Replay"],
        ["download", "Download"],
        ["copy", "Copy link"],
      ]) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = label;
        button.dataset.action = what;
        button.setAttribute("aria-label", `${label}: ${clip.text}`);
        button.addEventListener("click", () => this.act(what, clip));
        item.append(button);
      }
      return item;
    });
    this.list.replaceChildren(...items);
  }
}
