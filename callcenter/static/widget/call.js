// One website call over SIP.js: a guest UserAgent that never registers, an Inviter straight to
// the queue's entry (`sip.target`), the digest answered with the one-call guest credential.
// The microphone (and camera) stream is asked for before the call is minted, and handed to
// SIP.js as it is, so a refusal is told before anything reaches the call center.

// Deep imports: the package's index would bring all of SIP.js (SimpleUser, Registerer ...).
import { Inviter } from "sip.js/lib/api/inviter.js";
import { SessionState } from "sip.js/lib/api/session-state.js";
import { UserAgent } from "sip.js/lib/api/user-agent.js";
import { defaultSessionDescriptionHandlerFactory } from
  "sip.js/lib/platform/web/session-description-handler/session-description-handler-factory-default.js";

const CONNECT_TIMEOUT_S = 8;
const ICE_GATHERING_TIMEOUT_MS = 2000;

// "microphone" / "camera" refused, or "none" (no media devices on this page: plain http).
export async function askForMedia(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw new MediaProblem("none");
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video });
  } catch (error) {
    if (video && error?.name !== "NotAllowedError") {
      // No camera (or a busy one): the visitor still reaches us by voice.
      return askForMedia(false);
    }
    throw new MediaProblem(video ? "camera" : "microphone");
  }
}

export class MediaProblem extends Error {
  constructor(kind) {
    super(kind);
    this.kind = kind;
  }
}

// events: onEstablished(), onEnded(reason), onNetworkBlocked(), onTransportFailed()
export class GuestCall {
  constructor(answer, stream, events) {
    this.answer = answer;
    this.stream = stream;
    this.events = events;
    this.session = null;
    this.userAgent = null;
    this.ended = false;
    this.ending = null;          // why this side ends the call, once it does
  }

  async start() {
    try {
      await this.call();
    } catch (error) {
      console.warn(`callcenter widget: the call failed: ${error?.message || error}`);
      this.finish("refused");
    }
  }

  async call() {
    const { sip, ice_servers: iceServers } = this.answer;
    const stream = this.stream;
    this.userAgent = new UserAgent({
      uri: UserAgent.makeURI(sip.uri),
      authorizationUsername: sip.user,
      authorizationPassword: sip.password,
      transportOptions: { server: sip.ws_url, connectionTimeout: CONNECT_TIMEOUT_S },
      sessionDescriptionHandlerFactory: defaultSessionDescriptionHandlerFactory(
        async () => stream),
      sessionDescriptionHandlerFactoryOptions: {
        iceGatheringTimeout: ICE_GATHERING_TIMEOUT_MS,
        peerConnectionConfiguration: { iceServers: iceServers || [] },
      },
      userAgentString: "callcenter website call (SIP.js)",
      logLevel: "error",
      delegate: { onDisconnect: (error) => { if (error) this.finish("network"); } },
    });
    try {
      await this.userAgent.start();
    } catch {
      this.finish("network");
      return;
    }
    const video = stream.getVideoTracks().length > 0;
    const inviter = new Inviter(this.userAgent, UserAgent.makeURI(sip.target), {
      sessionDescriptionHandlerOptions: { constraints: { audio: true, video } },
    });
    this.session = inviter;
    inviter.stateChange.addListener((state) => {
      if (state === SessionState.Established) {
        this.watchIce(inviter.sessionDescriptionHandler.peerConnection);
        this.events.onEstablished(inviter.sessionDescriptionHandler.remoteMediaStream);
      } else if (state === SessionState.Terminated) {
        this.finish(this.ending || "ended");
      }
    });
    try {
      await inviter.invite({
        requestDelegate: { onReject: () => this.finish("refused") },
      });
    } catch {
      this.finish("refused");
    }
  }

  // ICE that fails means a network that blocks WebRTC's media. Chromium reports a connection
  // that never got through as connectionState "failed" (its ICE state stays "disconnected").
  watchIce(connection) {
    const check = () => {
      if (connection.iceConnectionState === "failed" || connection.connectionState === "failed") {
        this.hangUp("webrtc");
      }
    };
    connection.addEventListener("iceconnectionstatechange", check);
    connection.addEventListener("connectionstatechange", check);
    check();
  }

  setMuted(muted) {
    for (const track of this.stream.getAudioTracks()) track.enabled = !muted;
  }

  setCamera(on) {
    for (const track of this.stream.getVideoTracks()) track.enabled = on;
  }

  get hasVideo() {
    return this.stream.getVideoTracks().length > 0;
  }

  // Hang up whatever state the call is in (cancel, BYE) and let the microphone go.
  hangUp(reason = "hung up") {
    this.ending ??= reason;      // ending the session below reports Terminated at once
    const session = this.session;
    if (session && session.state === SessionState.Established) {
      session.bye().catch(() => {});
    } else if (session && session.state !== SessionState.Terminated) {
      session.cancel().catch(() => {});
    }
    this.finish(this.ending);
  }

  finish(reason) {
    if (this.ended) return;
    this.ended = true;
    for (const track of this.stream.getTracks()) track.stop();
    // Stopping the user agent ends any session still up (BYE or CANCEL) before it disconnects.
    this.userAgent?.stop().catch(() => {});
    this.events.onEnded(reason);
  }
}
