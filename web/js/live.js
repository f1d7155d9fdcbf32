// Live mode: a WebRTC session with the avatar. The runtime relays the offer; video and audio arrive as tracks,
// commands go on a data channel (say, chat, interrupt), and the microphone, when used, is listened to (speaking
// over the avatar stops it; what you said is answered). When WebRTC cannot connect, the conversation goes on over
// HTTP streaming instead (StreamedLive).

import { call, getJson, postJson } from "./api.js";
import { StreamedLive } from "./streamed_live.js";
import { breakdown } from "./timings.js";

const BUFFER_POLL_MS = 1000;
const CONNECT_WAIT_MS = 6000; // a peer not connected by then (UDP blocked, no TURN reachable) is given up for HTTP

export class LiveSession {
  constructor(el, video, catalog, language, captions, play) {
    this.el = el;
    this.video = video;
    this.captions = captions;
    this.play = play; // (start, text): a streamed video in the page's player, for the fallback
    this.streamed = null;
    this.bufferMs = 0; // how long a received frame waits before it is shown (the receiver's jitter buffer)
    this.catalog = catalog;
    this.language = language;
    this.peer = null;
    this.channel = null;
    this.id = null;
  }

  log(kind, text) {
    const item = document.createElement("li");
    item.className = `bubble ${kind === "heard" ? "user" : kind === "timing" ? "timing" : "assistant"}`;
    item.dataset.event = kind;
    item.textContent = text;
    this.el.log.append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  setConnected(on) {
    for (const control of [this.el.text, this.el.ask, this.el.say, this.el.interrupt, this.el.stop]) {
      control.disabled = !on;
    }
    this.el.start.disabled = on;
  }

  async start() {
    this.el.start.disabled = true;
    this.captions.newClip(); // the last clip's captions do not belong to the session
    if (!window.RTCPeerConnection) return this.fallBack("this browser has no WebRTC");
    try {
      await this.connect();
    } catch (error) {
      await this.fallBack(error.message);
    }
  }

  async connect() {
    const peer = new RTCPeerConnection(await iceConfiguration());
    this.peer = peer;
    window.avatarMetrics.livePeer = peer; // its getStats() says what arrives
    peer.addTransceiver("video", { direction: "recvonly" });
    if (this.el.mic.checked) {
      const microphone = await navigator.mediaDevices.getUserMedia({ audio: true });
      this.microphone = microphone; // kept for the fallback, should WebRTC not connect
      for (const track of microphone.getTracks()) peer.addTrack(track, microphone);
    } else {
      peer.addTransceiver("audio", { direction: "recvonly" });
    }
    const remote = new MediaStream();
    peer.addEventListener("track", (event) => {
      remote.addTrack(event.track);
      this.video.srcObject = remote;
      this.video.play().catch(() => (this.video.controls = true));
    });
    this.watchBuffer(peer);
    this.channel = peer.createDataChannel("commands");
    this.channel.addEventListener("open", () => this.setConnected(true));
    this.channel.addEventListener("message", (event) => this.onEvent(JSON.parse(event.data)));
    await peer.setLocalDescription(await peer.createOffer());
    await gathered(peer);
    const persona = this.persona();
    const answer = await (
      await postJson("/api/v1/sessions", { sdp: peer.localDescription.sdp, type: "offer", persona })
    ).json();
    this.id = answer.id;
    this.conversationId = answer.conversation_id;
    await peer.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    await connected(peer, CONNECT_WAIT_MS);
    peer.addEventListener("connectionstatechange", () => {
      if (["failed", "closed", "disconnected"].includes(peer.connectionState)) this.ended("the connection ended");
    });
  }

  persona() {
    const persona = { language: this.language() === "auto" ? "auto" : this.language() };
    if (this.catalog.voice) persona.voice = this.catalog.voice;
    if (this.catalog.portrait) persona.portrait = this.catalog.portrait;
    return persona;
  }

  // WebRTC did not connect: the session's peer goes, the conversation goes on over HTTP streaming.
  async fallBack(why) {
    const conversationId = this.conversationId;
    await this.closePeer();
    this.streamed = new StreamedLive({
      play: this.play,
      log: (kind, text) => this.log(kind, text),
      persona: this.persona(),
      conversationId,
      video: this.video,
    });
    this.log("fallback", `WebRTC could not connect (${why}): the conversation goes on over HTTP streaming.`);
    this.setConnected(true);
    if (this.el.mic.checked) {
      const microphone = this.microphone ?? (await navigator.mediaDevices.getUserMedia({ audio: true }).catch(() => null));
      this.microphone = null; // the fallback's now
      if (microphone) this.streamed.listen(microphone);
      else this.log("error", "The microphone could not be used.");
    }
  }

  // A sentence event leaves with its first frame; the frame and its sound wait in the receiver's buffers before
  // they play, so its caption waits as long.
  async watchBuffer(peer) {
    while (this.peer === peer) {
      const stats = await peer.getStats().catch(() => new Map());
      let buffered = 0; // picture and sound are played in step: the longer of their buffers holds both
      for (const report of stats.values()) {
        if (report.type === "inbound-rtp" && report.jitterBufferEmittedCount) {
          buffered = Math.max(buffered, (1000 * report.jitterBufferDelay) / report.jitterBufferEmittedCount);
        }
      }
      this.bufferMs = buffered;
      await new Promise((resolve) => setTimeout(resolve, BUFFER_POLL_MS));
    }
  }

  onEvent(event) {
    window.avatarMetrics.liveEvents.push(event);
    if (event.type === "heard") {
      this.log("heard", event.text);
      this.captions.showLive(event.text, "user");
    } else if (event.type === "sentence") {
      this.log("sentence", event.text);
      this.captions.showLive(event.text, "avatar", this.bufferMs);
    } else if (event.type === "listening") this.captions.hide();
    else if (event.type === "interrupted") {
      this.log("interrupted", "(stopped)");
      this.captions.hide();
    }
    else if (event.type === "error") this.log("error", event.detail);
    const answered = ["done", "interrupted"].includes(event.type) ? breakdown(event.timings) : null;
    if (answered) this.log("timing", answered);
  }

  send(command) {
    if (this.streamed) this.streamed.send(command);
    else if (this.channel?.readyState === "open") this.channel.send(JSON.stringify(command));
  }

  async stop() {
    if (this.streamed) {
      this.streamed.stop();
      this.streamed = null;
      this.setConnected(false);
      this.log("ended", "Session ended.");
      return;
    }
    const id = this.id;
    this.ended("ended");
    if (id) await call(`/api/v1/sessions/${id}`, { method: "DELETE" }).catch(() => {});
  }

  // The peer and its session go quietly (the fallback takes over, with the microphone already granted).
  async closePeer() {
    const id = this.id;
    this.peer?.close();
    this.peer = this.channel = this.id = null;
    this.video.srcObject = null;
    if (id) await call(`/api/v1/sessions/${id}`, { method: "DELETE" }).catch(() => {});
  }

  ended(why) {
    if (!this.peer) return;
    this.microphone = null;
    this.peer.getSenders().forEach((sender) => sender.track?.stop());
    this.peer.close();
    this.peer = this.channel = this.id = null;
    this.video.srcObject = null;
    this.captions.hide();
    this.setConnected(false);
    this.log("ended", `Session ${why}.`);
  }
}

// Resolves once the peer has connected; rejects when it fails or has not connected within `waitMs`.
function connected(peer, waitMs) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (peer.connectionState === "connected") resolve();
      else if (peer.connectionState === "failed") reject(new Error("the connection failed"));
    };
    peer.addEventListener("connectionstatechange", check);
    check();
    setTimeout(
      () => reject(new Error(`no connection within ${waitMs / 1000} s: UDP blocked, or no TURN server reachable`)),
      waitMs,
    );
  });
}

// STUN and TURN (with credentials made for this session) as the runtime is configured; none on a LAN.
async function iceConfiguration() {
  const ice = await getJson("/api/v1/ice-servers");
  const iceServers = ice.ice_servers.map(({ urls, username, credential }) =>
    username ? { urls, username, credential } : { urls },
  );
  return { iceServers, iceTransportPolicy: ice.ice_transport_policy };
}

// Non-trickle ICE: the offer goes with its candidates (host candidates on loopback and the LAN appear at once).
function gathered(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => peer.iceGatheringState === "complete" && resolve();
    peer.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, 2000); // enough for host candidates; the answer works with what was gathered
  });
}
