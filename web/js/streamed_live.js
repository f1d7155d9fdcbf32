// The Live tab without WebRTC (no RTCPeerConnection, UDP blocked, no TURN server reachable): the conversation goes on
// over HTTP. Messages are answered as streamed videos (fMP4 over HTTP, as Say and Chat play them), and the
// microphone, when used, is cut into utterances by their loudness, each sent as a recording and answered.

import { call, getJson, postJson, serverEvents } from "./api.js";

const QUIET_RMS = 0.015; // below this the microphone is taken as silent
const UTTERANCE_END_MS = 500; // ... for this long after speech: the utterance has ended (the live session's rule)
const SHORTEST_UTTERANCE_MS = 400; // a click or a cough is not sent
const LONGEST_UTTERANCE_MS = 10000; // one that goes on is sent in pieces this long (as a live session's would be)
const REPLY_END_POLL_MS = 300; // a conversation answers one message at a time: the next waits for the last to end
const REPLY_END_WAIT_MS = 15000;

export class StreamedLive {
  // play(start, text): plays the stream `start()` resolves to in the page's player; log(kind, text): the live log.
  constructor({ play, log, persona, conversationId, video }) {
    this.play = play;
    this.video = video; // the player: speaking over it while it plays stops it
    this.log = log;
    this.persona = persona;
    this.conversationId = conversationId;
    this.aborter = null;
    this.microphone = null;
    this.turns = Promise.resolve(); // utterances are answered one after another
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
    this.turns = this.turns.then(async () => {
      const id = await this.conversation();
      await this.replyEnded(id);
      return this.play(async () => {
        const body = { text: command.text, stream: true };
        const response = await postJson(`/api/v1/conversations/${id}/messages`, body, { signal });
        this.followSentences(response);
        return response;
      }, `Reply to: ${command.text}`);
    }).catch((error) => this.log("error", error.message));
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

  // Utterances from the microphone (a MediaStream), each answered in turn.
  listen(stream) {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let recorder = null;
    let voicedAt = 0;
    let quietSince = 0;
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, value) => sum + value * value, 0) / samples.length);
      const now = performance.now();
      window.avatarMetrics.microphoneRms = rms; // what the page hears, for the curious and the tests
      if (rms >= QUIET_RMS) {
        quietSince = 0;
        if (!recorder) {
          recorder = this.record(stream);
          voicedAt = now;
          if (!this.video.paused && !this.video.ended) this.aborter?.abort(); // speaking over the avatar stops it
        }
      } else if (recorder) {
        quietSince ||= now;
      }
      const quietFor = quietSince ? now - quietSince : 0;
      if (recorder && (quietFor >= UTTERANCE_END_MS || now - voicedAt >= LONGEST_UTTERANCE_MS)) {
        const spokenMs = now - voicedAt - quietFor;
        window.avatarMetrics.utterances = (window.avatarMetrics.utterances ?? 0) + 1;
        recorder.finish().then((recording) => {
          if (spokenMs < SHORTEST_UTTERANCE_MS) return;
          this.turns = this.turns.then(() => this.answer(recording)).catch((error) => this.log("error", error.message));
        });
        recorder = null;
        quietSince = 0;
      }
    }, 20);
    this.microphone = { stream, context, timer };
  }

  // A recording of `stream` from now; its finish() resolves with the Blob.
  record(stream) {
    const recorder = new MediaRecorder(stream);
    const pieces = [];
    recorder.addEventListener("dataavailable", (event) => pieces.push(event.data));
    recorder.start();
    const finish = () =>
      new Promise((resolve) => {
        recorder.addEventListener("stop", () => resolve(new Blob(pieces, { type: recorder.mimeType })), { once: true });
        recorder.stop();
      });
    return { finish };
  }

  // The reply being made in the conversation (one spoken over, its stream left) ends before the next message.
  async replyEnded(id) {
    const deadline = performance.now() + REPLY_END_WAIT_MS;
    while (performance.now() < deadline) {
      const messages = (await getJson(`/api/v1/conversations/${id}`)).messages;
      if (messages.at(-1)?.status !== "running") return;
      await new Promise((resolve) => setTimeout(resolve, REPLY_END_POLL_MS));
    }
  }

  // Resolves once the answer's stream has ended (played, spoken over, or failed).
  async answer(recording) {
    const id = await this.conversation();
    await this.replyEnded(id);
    const form = new FormData();
    form.append("file", recording, recording.type.includes("mp4") ? "utterance.m4a" : "utterance.webm");
    form.append("stream", "true");
    this.aborter = new AbortController();
    const signal = this.aborter.signal;
    return this.play(async () => {
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
