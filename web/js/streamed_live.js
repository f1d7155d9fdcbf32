// The Live tab without WebRTC (no RTCPeerConnection, UDP blocked, no TURN server reachable): the conversation goes on
// over HTTP. Messages are answered as streamed videos (fMP4 over HTTP, as Say and Chat play them), and the
// microphone, when used, is cut into utterances by their loudness, each sent as a recording and answered.

import { postJson, call, serverEvents } from "./api.js";

const QUIET_RMS = 0.015; // below this the microphone is taken as silent
const UTTERANCE_END_MS = 700; // ... for this long after speech: the utterance has ended
const SHORTEST_UTTERANCE_MS = 400; // a click or a cough is not sent

export class StreamedLive {
  // play(start, text): plays the stream `start()` resolves to in the page's player; log(kind, text): the live log.
  constructor({ play, log, persona, conversationId }) {
    this.play = play;
    this.log = log;
    this.persona = persona;
    this.conversationId = conversationId;
    this.aborter = null;
    this.microphone = null;
  }

  async send(command) {
    if (command.type === "interrupt") {
      this.aborter?.abort();
      return;
    }
    if (!command.text) return;
    this.aborter = new AbortController();
    const signal = this.aborter.signal;
    if (command.type === "say") {
      const request = { text: command.text, language: this.persona.language, stream: true };
      if (this.persona.voice) request.voice = this.persona.voice;
      if (this.persona.portrait) request.portrait = this.persona.portrait;
      this.play(() => postJson("/api/v1/generate", request, { signal }), command.text);
      return;
    }
    const id = await this.conversation();
    this.play(async () => {
      const response = await postJson(`/api/v1/conversations/${id}/messages`, { text: command.text, stream: true }, { signal });
      this.followSentences(response);
      return response;
    }, `Reply to: ${command.text}`);
  }

  async conversation() {
    if (!this.conversationId) {
      const { voice, portrait, language } = this.persona;
      const persona = { language, ...(voice ? { voice } : {}), ...(portrait ? { portrait } : {}) };
      this.conversationId = (await (await postJson("/api/v1/conversations", persona)).json()).id;
    }
    return this.conversationId;
  }

  async followSentences(response) {
    const url = response.headers.get("X-Events-Url");
    if (!url) return;
    for await (const event of serverEvents(url)) {
      if (event.name === "sentence" && event.data.text) this.log("sentence", event.data.text);
    }
  }

  // Utterances from the microphone, each answered in turn.
  async listen() {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let recorder = null;
    let chunks = [];
    let voicedAt = 0;
    let quietSince = 0;
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, value) => sum + value * value, 0) / samples.length);
      const now = performance.now();
      if (rms >= QUIET_RMS) {
        quietSince = 0;
        if (!recorder) {
          chunks = [];
          recorder = new MediaRecorder(stream);
          recorder.addEventListener("dataavailable", (event) => chunks.push(event.data));
          recorder.start();
          voicedAt = now;
          this.aborter?.abort(); // speaking over the avatar stops it
        }
      } else if (recorder) {
        quietSince ||= now;
        if (now - quietSince >= UTTERANCE_END_MS) {
          const finished = recorder;
          const spoken = now - voicedAt - UTTERANCE_END_MS;
          recorder = null;
          finished.addEventListener("stop", () => {
            if (spoken >= SHORTEST_UTTERANCE_MS) this.answer(new Blob(chunks, { type: finished.mimeType }));
          }, { once: true });
          finished.stop();
        }
      }
    }, 20);
    this.microphone = { stream, context, timer };
  }

  async answer(recording) {
    const id = await this.conversation();
    const form = new FormData();
    form.append("file", recording, recording.type.includes("mp4") ? "utterance.m4a" : "utterance.webm");
    form.append("stream", "true");
    this.aborter = new AbortController();
    const signal = this.aborter.signal;
    this.play(async () => {
      const response = await call(`/api/v1/conversations/${id}/messages/audio`, { method: "POST", body: form, signal });
      const messages = (await (await call(`/api/v1/conversations/${id}`)).json()).messages;
      const heard = messages.filter((message) => message.role === "user").pop();
      if (heard) this.log("heard", heard.text);
      this.followSentences(response);
      return response;
    }, "Spoken reply");
  }

  stop() {
    this.aborter?.abort();
    if (this.microphone) {
      clearInterval(this.microphone.timer);
      this.microphone.stream.getTracks().forEach((track) => track.stop());
      this.microphone.context.close();
      this.microphone = null;
    }
  }
}
