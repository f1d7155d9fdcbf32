// Plays a fragmented MP4 while it downloads: the fetch body goes piece by piece into a Media Source Extensions
// buffer, and playback starts with the first fragment. Where MSE is missing (iPhone Safari), the whole body is
// collected and played when complete.

const decoder = new TextDecoder("latin1");

// The codecs string for MSE, read from the init segment once the whole `moov` box has arrived; null before.
export function codecsOf(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + 8 <= bytes.length) {
    const size = view.getUint32(offset);
    const type = decoder.decode(bytes.subarray(offset + 4, offset + 8));
    if (type === "moov") {
      if (offset + size > bytes.length) return null;
      const moov = decoder.decode(bytes.subarray(offset, offset + size));
      const codecs = [];
      const avc = moov.indexOf("avcC");
      if (avc >= 0) {
        const hex = (index) => bytes[offset + index].toString(16).padStart(2, "0");
        codecs.push(`avc1.${hex(avc + 5)}${hex(avc + 6)}${hex(avc + 7)}`);
      }
      if (moov.includes("mp4a")) codecs.push("mp4a.40.2");
      return `video/mp4; codecs="${codecs.join(", ")}"`;
    }
    if (size < 8) return null;
    offset += size;
  }
  return null;
}

function appended(sourceBuffer, bytes) {
  return new Promise((resolve, reject) => {
    sourceBuffer.addEventListener("updateend", resolve, { once: true });
    sourceBuffer.addEventListener("error", () => reject(new Error("the browser could not decode the video")), {
      once: true,
    });
    sourceBuffer.appendBuffer(bytes);
  });
}

function joined(chunks) {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

export class StreamPlayer {
  constructor(video, captions) {
    this.video = video;
    this.captions = captions; // the clip's captions as it plays (Captions)
    this.url = null;
  }

  // Shows a new source; a promise of the time its first frame is presented (asked after the switch, so a frame
  // of the clip before cannot answer it).
  show(url) {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = url;
    this.showCaptions(null); // the last clip's captions do not belong to this one
    this.captions.newClip();
    this.video.src = url;
    if (!this.video.requestVideoFrameCallback) return Promise.resolve(performance.now());
    return new Promise((resolve) => this.video.requestVideoFrameCallback((now) => resolve(now)));
  }

  // Resolves once the whole stream has arrived, with a promise of the time (performance.now()) of the first frame.
  // `ready`: what playback waits for once it could start (the first caption, for a clip whose captions come
  // beside it: a first frame shown before its caption would leave the caption late).
  async play(response, ready = Promise.resolve()) {
    if (!window.MediaSource) {
      const firstFrame = this.show(URL.createObjectURL(await response.blob()));
      await this.start();
      return { firstFrame };
    }
    const source = new MediaSource();
    const firstFrame = this.show(URL.createObjectURL(source));
    await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
    const reader = response.body.getReader();
    const head = [];
    let buffer = null;
    let started = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (buffer === null) {
          head.push(value);
          const type = codecsOf(joined(head));
          if (type === null) continue;
          if (!MediaSource.isTypeSupported(type)) throw new Error(`this browser cannot play ${type}`);
          buffer = source.addSourceBuffer(type);
          await appended(buffer, joined(head));
        } else {
          await appended(buffer, value);
        }
        if (!started && this.video.readyState >= 2) {
          started = true;
          ready.then(() => this.start());
        }
      }
    } catch (error) {
      if (source.readyState === "open") source.endOfStream("network");
      if (error.name === "AbortError") throw error; // stopped on purpose (Stop speaking, or spoken over)
      throw new Error(`the video stream broke off: ${error.message}`);
    }
    if (source.readyState === "open") source.endOfStream();
    if (!started) await ready.then(() => this.start());
    return { firstFrame };
  }

  // A stored clip's captions (WebVTT, as a blob URL: they are behind the key like the video) shown over it; null
  // removes them.
  showCaptions(url) {
    for (const old of this.video.querySelectorAll("track")) old.remove();
    if (!url) return;
    const track = document.createElement("track");
    Object.assign(track, { kind: "captions", label: "Captions", src: url, default: true });
    this.video.append(track);
  }

  async replay(url) {
    const firstFrame = this.show(url);
    await this.start();
    return { firstFrame };
  }

  async start() {
    try {
      await this.video.play();
    } catch (error) {
      // Autoplay refused (no click yet on this page): show the controls so one click starts it.
      this.video.controls = true;
      if (error.name !== "NotAllowedError" && error.name !== "AbortError") throw error;
    }
  }
}
