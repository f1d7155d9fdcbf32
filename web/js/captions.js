// Captions over the avatar while it speaks: for a streamed clip, one cue per sentence on the video's timeline, added
// as each sentence's event arrives (the browser shows it when that moment plays); for a live session, the sentence
// shown when its first frame is due on screen, and the user's own words as they were heard.

const READING_MS_PER_CHARACTER = 70; // a live caption stays at least this long per character, and ...
const READING_MIN_MS = 2000; // ... at least this long

export class Captions {
  constructor(video, overlay) {
    this.video = video;
    this.overlay = overlay; // the live captions' line over the frame
    this.track = null;
    this.hideTimer = null;
    window.avatarMetrics.captions = []; // {text, shownAt, start?}: when each caption went on screen
  }

  get hasCues() {
    return Boolean(this.track?.cues?.length);
  }

  // A new clip starts: the last one's cues go.
  newClip() {
    if (!this.track) return;
    this.track.mode = "hidden"; // a disabled track lists no cues
    for (const cue of Array.from(this.track.cues)) this.track.removeCue(cue);
  }

  // A sentence event of the clip playing ({text, start_s, duration_s}); a continuation (empty text) extends the
  // sentence before it.
  addCue(sentence) {
    const end = sentence.start_s + sentence.duration_s;
    const track = this.clipTrack();
    const cues = track.cues;
    if (!sentence.text) {
      if (cues.length) cues[cues.length - 1].endTime = end;
      return;
    }
    const cue = new VTTCue(sentence.start_s, end, sentence.text);
    cue.onenter = () =>
      window.avatarMetrics.captions.push({ text: cue.text, start: cue.startTime, shownAt: performance.now() });
    track.addCue(cue);
  }

  // One script-made track for every clip: a <track> element would load (nothing, having no src) and, doing so,
  // drop the cues added before it had.
  clipTrack() {
    this.track ??= this.video.addTextTrack("captions", "Captions");
    this.track.mode = "showing";
    return this.track;
  }

  // Live: `text` on screen after `delayMs` (the frame it belongs to is that far behind in the receiver's buffer).
  showLive(text, who, delayMs = 0) {
    setTimeout(() => {
      this.overlay.textContent = text;
      this.overlay.classList.toggle("user", who === "user");
      this.overlay.hidden = false;
      window.avatarMetrics.captions.push({ text, who, shownAt: performance.now() });
      clearTimeout(this.hideTimer);
      const readingMs = Math.max(READING_MIN_MS, READING_MS_PER_CHARACTER * text.length);
      this.hideTimer = setTimeout(() => this.hideLive(), readingMs);
    }, delayMs);
  }

  hideLive() {
    clearTimeout(this.hideTimer);
    this.overlay.hidden = true;
  }
}
