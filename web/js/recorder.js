// Microphone recording with MediaRecorder (WebM/Opus in Chromium and Firefox, MP4/AAC in Safari): the runtime
// decodes any of them.

export class Recorder {
  constructor() {
    this.recorder = null;
    this.chunks = [];
  }

  get recording() {
    return this.recorder !== null;
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error("this browser cannot record (a secure page is needed)");
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.chunks = [];
    this.recorder = new MediaRecorder(stream);
    this.recorder.addEventListener("dataavailable", (event) => this.chunks.push(event.data));
    this.recorder.start();
  }

  // The recording as a file name and a Blob; the microphone is released.
  stop() {
    const recorder = this.recorder;
    this.recorder = null;
    return new Promise((resolve) => {
      recorder.addEventListener(
        "stop",
        () => {
          recorder.stream.getTracks().forEach((track) => track.stop());
          const type = recorder.mimeType || "audio/webm";
          const extension = type.includes("mp4") ? "m4a" : type.includes("ogg") ? "ogg" : "webm";
          resolve({ name: `recording.${extension}`, blob: new Blob(this.chunks, { type }) });
        },
        { once: true },
      );
      recorder.stop();
    });
  }
}

// A button that records while it is held (pointer, or Space/Enter on it) and hands the recording over on release.
export function holdToRecord(button, onRecording, onError) {
  const recorder = new Recorder();
  let held = false;
  const press = async () => {
    if (held || button.disabled) return;
    held = true;
    button.setAttribute("aria-pressed", "true");
    try {
      await recorder.start();
      if (!held) await recorder.stop(); // let go before the microphone opened: nothing to send
    } catch (error) {
      held = false;
      button.setAttribute("aria-pressed", "false");
      onError(error);
    }
  };
  const release = async () => {
    held = false;
    button.setAttribute("aria-pressed", "false");
    if (recorder.recording) onRecording(await recorder.stop());
  };
  button.addEventListener("pointerdown", press);
  button.addEventListener("pointerup", release);
  button.addEventListener("pointerleave", () => held && release());
  button.addEventListener("keydown", (event) => {
    if ((event.key === " " || event.key === "Enter") && !event.repeat) {
      event.preventDefault();
      press();
    }
  });
  button.addEventListener("keyup", (event) => {
    if (event.key === " " || event.key === "Enter") release();
  });
}

// A button that starts recording on one press and stops on the next.
export function toggleRecord(button, onRecording, onError) {
  const recorder = new Recorder();
  const label = button.textContent;
  button.addEventListener("click", async () => {
    try {
      if (recorder.recording) {
        button.textContent = label;
        button.setAttribute("aria-pressed", "false");
        onRecording(await recorder.stop());
      } else {
        await recorder.start();
        button.textContent = "Stop recording";
        button.setAttribute("aria-pressed", "true");
      }
    } catch (error) {
      onError(error);
    }
  });
}
