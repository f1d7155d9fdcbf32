// "Your audio": a recording (or the microphone) streamed to the avatar stream WebSocket as PCM16 at 16 kHz, in
// real time, and the fragmented MP4 it sends back played as it arrives: the face of whatever voice you bring.

import { storedKey } from "./api.js";

const RATE = 16000;
const CHUNK = RATE / 50; // 20 ms

function pcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i += 1) out[i] = Math.max(-1, Math.min(1, samples[i])) * 32767;
  return out.buffer;
}

// Any file the browser can decode, as mono at the stream's rate.
async function decoded(file) {
  const probe = new AudioContext();
  const audio = await probe.decodeAudioData(await file.arrayBuffer()).finally(() => probe.close());
  const offline = new OfflineAudioContext(1, Math.ceil(audio.duration * RATE), RATE);
  const source = offline.createBufferSource();
  source.buffer = audio;
  source.connect(offline.destination);
  source.start();
  return (await offline.startRendering()).getChannelData(0);
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class AvatarStream {
  // The socket and its media: `body` is the fMP4 as a stream (what StreamPlayer.play reads), `events` each text event.
  constructor(start, onEvent) {
    this.error = null;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new WebSocket(`${scheme}//${location.host}/api/v1/avatar/stream`);
    this.socket.binaryType = "arraybuffer";
    const key = storedKey();
    this.ready = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () =>
        this.socket.send(JSON.stringify({ type: "start", output: "fmp4", sample_rate: RATE, ...start, ...(key ? { key } : {}) })),
      );
      this.socket.addEventListener("close", (event) => reject(new Error(event.reason || "the avatar stream closed")));
      this.onReady = resolve;
    });
    this.body = new ReadableStream({
      start: (controller) => {
        this.socket.addEventListener("message", (message) => {
          if (typeof message.data !== "string") {
            controller.enqueue(new Uint8Array(message.data));
            return;
          }
          const event = JSON.parse(message.data);
          if (event.type === "ready") this.onReady(event);
          if (event.type === "error") this.error = event.detail;
          onEvent(event);
        });
        this.socket.addEventListener("close", () => {
          if (this.error) controller.error(new Error(this.error));
          else controller.close();
        });
      },
    });
  }

  send(samples) {
    this.socket.send(pcm16(samples));
  }

  command(type) {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type }));
  }
}

export class YourAudio {
  constructor(player, catalog) {
    this.player = player;
    this.catalog = catalog;
  }

  // The stream once the service has said it is ready (its refusal, in its words, otherwise), and its playback.
  async start() {
    const start = this.catalog.portrait ? { portrait: this.catalog.portrait } : {};
    const stream = new AvatarStream(start, (event) => window.avatarMetrics.streamEvents.push(event.type));
    const played = this.player.play(new Response(stream.body));
    try {
      await stream.ready;
    } catch (error) {
      played.catch(() => {}); // the same refusal, told once
      throw error;
    }
    return { stream, played };
  }

  // A recording, sent as it would play: the avatar speaks it as it arrives.
  async playFile(file) {
    const samples = await decoded(file);
    const { stream, played } = await this.start();
    const began = performance.now();
    for (let at = 0; at < samples.length; at += CHUNK) {
      stream.send(samples.subarray(at, at + CHUNK));
      await pause(began + ((at + CHUNK) / RATE) * 1000 - performance.now());
    }
    stream.command("close"); // what was sent is shown, then the stream ends
    return played;
  }

  // The microphone, 20 ms at a time, until stopMicrophone().
  async playMicrophone() {
    const media = await navigator.mediaDevices.getUserMedia({ audio: true });
    const context = new AudioContext({ sampleRate: RATE });
    const { stream, played } = await this.start();
    const tap = context.createScriptProcessor(1024, 1, 1);
    tap.onaudioprocess = (event) => stream.send(event.inputBuffer.getChannelData(0));
    context.createMediaStreamSource(media).connect(tap);
    tap.connect(context.destination);
    this.stopMicrophone = () => {
      media.getTracks().forEach((track) => track.stop());
      context.close();
      stream.command("close");
    };
    return played;
  }
}
