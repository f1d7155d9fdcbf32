// Captions over the avatar while it speaks, on one line over the frame. For a streamed clip, one cue per sentence on
// the clip's timeline, added as each sentence's event arrives and shown with the frame it starts on (each frame
// presented looks up its cue: the browser's own cue timing runs up to a quarter of a second late). For a live
// session, the sentence shown when its first frame is due on screen, and the user's own words as they were heard.

const READING_MS_PER_CHARACTER = 70; // a live caption stays at least this long per character, and ...
const READING_MIN_MS = 2000; // ... at least this long

export class Captions {
  constructor(video, overlay) {
    this.video = video;
    this.overlay = overlay;
    this.cues = window.avatarMetrics.captionCues = []; // the clip's: {start, end, text}
    this.shown = null; // the cue on screen
    this.hideTimer = null;
    this.onFirstCue = null;
    window.avatarMetrics.captions = []; // {text, shownAt, start?, who?}: when each caption went on screen
    this.followFrames();
  }

  get hasCues() {
    return this.cues.length > 0;
  }

  // A promise, for a clip that brings cues (asked before it starts): its first cue added, or `waitMs` passed.
  firstCue(waitMs) {
    return new Promise((resolve) => {
      this.onFirstCue = resolve;
      setTimeout(resolve, waitMs);
    });
  }

  // A new clip (or a live session) starts: the last clip's cues go.
  newClip() {
    this.cues = window.avatarMetrics.captionCues = [];
    this.shown = null;
    this.hide();
  }

  // A sentence event of the clip playing ({text, start_s, duration_s}); a continuation (empty text) extends the
  // sentence before it.
  addCue(sentence) {
    const end = sentence.start_s + sentence.duration_s;
    if (!sentence.text) {
      if (this.cues.length) this.cues[this.cues.length - 1].end = end;
      return;
    }
    this.cues.push({ start: sentence.start_s, end, text: sentence.text });
    this.onFirstCue?.();
    this.onFirstCue = null;
  }

  // Every frame the player presents: the cue it falls in, shown with it.
  followFrames() {
    const step = (now, frame) => {
      this.showCueAt(frame.mediaTime, frame.expectedDisplayTime ?? now);
      this.video.requestVideoFrameCallback(step);
    };
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(step);
    else this.video.addEventListener("timeupdate", () => this.showCueAt(this.video.currentTime, performance.now()));
  }

  showCueAt(time, shownAt) {
    if (!this.cues.length) return;
    const cue = this.cues.find((candidate) => candidate.start - 0.02 <= time && time < candidate.end) ?? null;
    if (cue === this.shown) return;
    this.shown = cue;
    if (!cue) return this.hide();
    this.show(cue.text, "avatar");
    window.avatarMetrics.captions.push({ text: cue.text, start: cue.start, shownAt });
  }

  // Live: `text` on screen after `delayMs` (the frame it belongs to is that far behind in the receiver's buffer).
  showLive(text, who, delayMs = 0) {
    setTimeout(() => {
      this.show(text, who);
      window.avatarMetrics.captions.push({ text, who, shownAt: performance.now() });
      const readingMs = Math.max(READING_MIN_MS, READING_MS_PER_CHARACTER * text.length);
      this.hideTimer = setTimeout(() => this.hide(), readingMs);
    }, delayMs);
  }

  show(text, who) {
    clearTimeout(this.hideTimer);
    this.overlay.textContent = text;
    this.overlay.classList.toggle("user", who === "user");
    this.overlay.hidden = false;
  }

  hide() {
    clearTimeout(this.hideTimer);
    this.overlay.hidden = true;
  }
}
