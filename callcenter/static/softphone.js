// The agent's browser phone, on SIP.js's full API (UserAgent, Registerer, Invitation, Inviter and
// the web SessionDescriptionHandler). It registers over WSS with the login's SIP credential and
// carries the audio (and video, when the caller offers it: a website visitor's video call); the
// controller owns the call (dial, hold, transfer... go through the REST API), so an INVITE that
// carries the controller's auto-answer header is answered at once and any other rings with
// Answer/Decline: a stray call never opens the agent's microphone.
//
//   import { Softphone } from "/static/softphone.js";
//   const phone = new Softphone({ fetchConfig, audio, video, useCamera, onState, onIncoming,
//                                 onSession, onVideo });
//   phone.start();            // connecting → registered; offline/refused retry with backoff
//
// SIP.js itself is the bundle `make install` builds into static/vendor/ (not committed); it is
// loaded on start, so a page without it still works against the simulator.

export const ICE_GATHERING_TIMEOUT_MS = 500;   // call setup never waits seconds for candidates
export const REGISTER_EXPIRES_S = 300;
// What happens to the phone's own SIP session (onSession's first argument): the browser's phone,
// not the server's calls, which the page follows by the server's vocabulary.
export const SESSION = Object.freeze({ ESTABLISHED: "established", ENDED: "ended", FAILED: "failed" });
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30000;
const CONNECT_TIMEOUT_S = 5;

// -- pure rules (tested in the browser without SIP.js) -------------------------------------------

// True when one of the Call-Info header values carries `answer-after=0`, the header the controller
// puts on the agent leg it originates (`Call-Info: <sip:domain>;answer-after=0`).
export function isAutoAnswer(callInfoValues) {
  for (const value of callInfoValues || []) {
    // Each entry is `<uri>;param;param`, entries separated by commas; a URI may hold ; or , itself.
    for (const entry of String(value).matchAll(/<[^>]*>([^,<]*)/g)) {
      for (const param of entry[1].split(";")) {
        const [name, setting = ""] = param.split("=", 2).map((s) => s.trim().toLowerCase());
        if (name === "answer-after" && setting === "0") return true;
      }
    }
  }
  return false;
}

export function shouldAutoAnswer(invitation) {
  return isAutoAnswer(invitation.request.getHeaders("call-info"));
}

// Failures since the last success → a jittered delay, doubling up to a ceiling.
export function retryDelay(failures, random = Math.random) {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** failures);
  return Math.round(ceiling * (0.5 + random() / 2));
}

// Why this page cannot have a microphone at all, or null.
export function mediaProblem(win = globalThis) {
  if (!win.isSecureContext) {
    return `This page came over plain HTTP from ${win.location.host}: browsers give the ` +
      "microphone only to secure pages (https://, or http://localhost on this machine). " +
      "Open the call center through https.";
  }
  if (!win.navigator?.mediaDevices?.getUserMedia || !win.RTCPeerConnection) {
    return "This browser has no WebRTC microphone support: use a current Chrome, Edge or Firefox.";
  }
  return null;
}

export function microphoneProblem(error) {
  if (error?.name === "NotAllowedError" || error?.name === "SecurityError") {
    return "Microphone refused: allow this site to use the microphone (the icon in the address " +
      "bar), then reload the page.";
  }
  if (error?.name === "NotFoundError") return "No microphone found: connect one, then reload.";
  if (error?.name === "NotReadableError") {
    return "The microphone is in use by another program or cannot be opened.";
  }
  return `Microphone unavailable: ${error?.message || error}`;
}

// True when an SDP offer asks for video: an m=video line with a port (port 0 declines it).
export function offersVideo(sdp) {
  return /^m=video [1-9]/m.test(sdp || "");
}

// getUserMedia for SIP.js, where a video call's camera is optional: no camera, a busy one or a
// refusal leaves the agent with audio alone (they still see the caller: see CallMedia). A refused
// microphone still fails the call, with the microphone's own error.
export function cameraOptionalMedia(mediaDevices = globalThis.navigator?.mediaDevices) {
  return async (constraints) => {
    if (!constraints.audio && !constraints.video) return new MediaStream();
    if (constraints.video) {
      try {
        return await mediaDevices.getUserMedia(constraints);
      } catch { /* the camera is not to be had: audio alone */ }
    }
    return mediaDevices.getUserMedia({ audio: constraints.audio, video: false });
  };
}

// SIP.js's SessionDescriptionHandler gives every transceiver the answer's direction (sendrecv),
// even one with nothing to send; a video transceiver without a camera then claims to send. This
// one says what it does: it only receives (recvonly), or is inactive when the other side only
// receives too.
function callMediaFactory(Web) {
  class CallMedia extends Web.SessionDescriptionHandler {
    async updateDirection(options) {
      await super.updateDirection(options);
      for (const transceiver of this.peerConnection.getTransceivers()) {
        if (transceiver.sender.track || transceiver.direction === "stopped") continue;
        if (transceiver.direction === "sendrecv") transceiver.direction = "recvonly";
        else if (transceiver.direction === "sendonly") transceiver.direction = "inactive";
      }
    }
  }
  const getMedia = cameraOptionalMedia();
  return (session, options) => new CallMedia(
    session.userAgent.getLogger("sip.SessionDescriptionHandler"), getMedia, {
      iceGatheringTimeout: options?.iceGatheringTimeout ?? ICE_GATHERING_TIMEOUT_MS,
      peerConnectionConfiguration: {
        ...Web.defaultPeerConnectionConfiguration(), ...options?.peerConnectionConfiguration },
    });
}

export function transportProblem(wssUrl) {
  let check = "";
  try {
    const url = new URL(wssUrl);
    check = ` (open https://${url.host}/ in this browser once to see whether it trusts it)`;
  } catch { /* not a URL: say it as it is */ }
  return `Cannot reach the phone server at ${wssUrl}: FreeSWITCH is down or unreachable, or this ` +
    `browser refused its certificate${check}.`;
}

export function registrationProblem(statusCode, reason) {
  const said = `Registration refused: ${statusCode} ${reason || ""}`.trim();
  if (statusCode === 401 || statusCode === 403 || statusCode === 407) {
    return `${said}: the phone server did not accept this login's SIP credential.`;
  }
  return `${said}.`;
}

// -- the phone ----------------------------------------------------------------------------------

export class Softphone {
  constructor(options) {
    this.fetchConfig = options.fetchConfig;          // async () => /api/softphone's answer
    this.audio = options.audio;                      // <audio> that plays the far end
    this.video = options.video || null;              // <video> that shows it, in a video call
    this.useCamera = options.useCamera || (() => true);  // () => may a video call use the camera
    this.onVideo = options.onVideo || (() => {});    // ({showing, sending}) as a call's video is
    this.onState = options.onState || (() => {});    // (state, detail): see start()
    this.onIncoming = options.onIncoming || (() => {});  // ({from, auto}) a ringing call
    this.onSession = options.onSession || (() => {});    // (a SESSION value, detail)
    this.loadSip = options.loadSip || (() => import("./vendor/sip.js"));
    this.timers = options.timers || globalThis;
    this.random = options.random || Math.random;
    this.sip = null;
    this.userAgent = null;
    this.registerer = null;
    this.session = null;        // the one call (Invitation or Inviter) this phone carries
    this.ringing = null;        // an Invitation waiting for Answer/Decline
    this.muted = false;
    this.failures = 0;
    this.retryTimer = null;
    this.stopped = false;
  }

  // States: connecting, registered, offline (with the reason; retries), refused (SIP status;
  // retries with a fresh credential), unavailable (cannot work here; no retry).
  async start() {
    this.stopped = false;
    const problem = mediaProblem();
    if (problem) return this.onState("unavailable", problem);
    try {
      this.sip = await this.loadSip();
    } catch (error) {
      return this.onState("unavailable", "The softphone's SIP.js bundle is missing: run " +
        `\`make install\` on the server (${error.message}).`);
    }
    try {
      // Ask for the microphone now, so a refusal shows before the first call rather than in it.
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      stream.getTracks().forEach((track) => track.stop());
    } catch (error) {
      return this.onState("unavailable", microphoneProblem(error));
    }
    this.connect();
  }

  async connect() {
    this.retryTimer = null;
    if (this.stopped) return;
    this.onState("connecting");
    let config;
    try {
      config = await this.fetchConfig();    // fresh each time: the credential may have rotated
    } catch (error) {
      return this.retry("offline", `No SIP credential from the controller: ${error.message}`);
    }
    this.config = config;
    await this.dropUserAgent();
    const { UserAgent, Registerer } = this.sip;
    const userAgent = new UserAgent({
      uri: UserAgent.makeURI(`sip:${config.extension}@${config.domain}`),
      authorizationUsername: config.extension,
      authorizationPassword: config.password,
      transportOptions: { server: config.wss_url, connectionTimeout: CONNECT_TIMEOUT_S },
      sessionDescriptionHandlerFactory: callMediaFactory(this.sip.Web),
      sessionDescriptionHandlerFactoryOptions: {
        iceGatheringTimeout: ICE_GATHERING_TIMEOUT_MS,
        peerConnectionConfiguration: { iceServers: config.ice_servers || [] },
      },
      userAgentString: "callcenter softphone (SIP.js)",
      logLevel: "warn",
      delegate: {
        onInvite: (invitation) => this.invited(invitation),
        onDisconnect: (error) => {
          if (userAgent !== this.userAgent || this.stopped) return;
          if (error) this.retry("offline", transportProblem(config.wss_url));
        },
      },
    });
    this.userAgent = userAgent;
    try {
      await userAgent.start();
    } catch {
      if (userAgent === this.userAgent) this.retry("offline", transportProblem(config.wss_url));
      return;
    }
    const registerer = new Registerer(userAgent, { expires: REGISTER_EXPIRES_S });
    this.registerer = registerer;
    registerer.stateChange.addListener((state) => {
      if (registerer !== this.registerer) return;
      if (state === this.sip.RegistererState.Registered) {
        this.failures = 0;
        this.onState("registered", `${config.extension}@${config.domain}`);
      }
    });
    registerer.register({
      requestDelegate: {
        onReject: (response) => {
          if (registerer !== this.registerer) return;
          const { statusCode, reasonPhrase } = response.message;
          this.retry("refused", registrationProblem(statusCode, reasonPhrase));
        },
      },
    }).catch((error) => this.retry("offline", `Registration failed: ${error.message}`));
  }

  retry(state, detail) {
    if (this.stopped || this.retryTimer !== null) return;
    const delay = retryDelay(this.failures, this.random);
    this.failures += 1;
    this.onState(state, detail, delay);
    this.retryTimer = this.timers.setTimeout(() => this.connect(), delay);
  }

  invited(invitation) {
    if (this.session || this.ringing) {       // one call at a time: the controller sends one
      invitation.reject({ statusCode: 486 }).catch(() => {});
      return;
    }
    const auto = shouldAutoAnswer(invitation);
    const from = invitation.remoteIdentity?.uri?.user || "unknown";
    invitation.stateChange.addListener((state) => {
      if (state === this.sip.SessionState.Terminated && this.ringing === invitation) {
        this.ringing = null;
        this.onSession(SESSION.ENDED, "the caller gave up");
      }
    });
    if (auto) {
      this.onIncoming({ from, auto: true });
      this.accept(invitation);
    } else {
      this.ringing = invitation;
      this.onIncoming({ from, auto: false });
    }
  }

  answer() {
    const invitation = this.ringing;
    this.ringing = null;
    if (invitation) this.accept(invitation);
  }

  decline() {
    const invitation = this.ringing;
    this.ringing = null;
    if (invitation) invitation.reject({ statusCode: 603 }).catch(() => {});
  }

  // A call whose offer has video is answered with video: the camera if the agent lets the page
  // use it and has one, else receiving only. An audio call never asks for the camera.
  accept(invitation) {
    this.follow(invitation);
    const video = offersVideo(invitation.body) && this.useCamera();
    invitation.accept({
      sessionDescriptionHandlerOptions: { constraints: { audio: true, video } },
    }).catch((error) => {
      const detail = error?.name === "NotAllowedError" ? microphoneProblem(error)
        : `Could not answer: ${error.message}`;
      this.onSession(SESSION.FAILED, detail);
    });
  }

  // An outgoing SIP call straight from the phone. The page dials through the API (the shipped
  // dialplan refuses calls a softphone starts), so this serves tests and site-specific use.
  call(target) {
    const { Inviter, UserAgent } = this.sip;
    const uri = UserAgent.makeURI(`sip:${target}@${this.config.domain}`);
    if (!uri) throw new Error(`not a SIP target: ${target}`);
    const inviter = new Inviter(this.userAgent, uri, {
      sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } },
    });
    this.follow(inviter);
    return inviter.invite();
  }

  follow(session) {
    this.session = session;
    session.stateChange.addListener((state) => {
      if (state === this.sip.SessionState.Established) {
        const handler = session.sessionDescriptionHandler;
        this.audio.srcObject = handler.remoteMediaStream;
        this.audio.play().catch(() => {});  // autoplay policy: the page had a click already
        this.setMuted(this.muted);
        this.showVideo(handler);
        this.onSession(SESSION.ESTABLISHED, session.remoteIdentity?.uri?.user || "");
      } else if (state === this.sip.SessionState.Terminated && this.session === session) {
        this.session = null;
        this.audio.srcObject = null;
        this.hideVideo();
        this.onSession(SESSION.ENDED, "");
      }
    });
  }

  // The caller's video (muted: its sound plays through the audio element), shown while the call
  // carries video; `sending` says whether the agent's camera goes with it.
  showVideo(handler) {
    const showing = handler.remoteMediaStream.getVideoTracks().length > 0;
    const sending = this.senders("video").length > 0;
    if (this.video) {
      this.video.srcObject = showing ? handler.remoteMediaStream : null;
      this.video.hidden = !showing;
      if (showing) this.video.play().catch(() => {});
    }
    this.onVideo({ showing, sending });
  }

  hideVideo() {
    if (this.video) {
      this.video.srcObject = null;
      this.video.hidden = true;
    }
    this.onVideo({ showing: false, sending: false });
  }

  // The tracks this call sends of one kind ("audio" or "video").
  senders(kind) {
    const connection = this.session?.sessionDescriptionHandler?.peerConnection;
    return (connection?.getSenders() || []).filter((sender) => sender.track?.kind === kind);
  }

  setMuted(muted) {
    this.muted = muted;
    for (const sender of this.senders("audio")) sender.track.enabled = !muted;
  }

  // Camera off sends black frames (the track stays, so no renegotiation): the caller sees the
  // agent is away from the camera rather than a frozen picture.
  setCameraOff(off) {
    for (const sender of this.senders("video")) sender.track.enabled = !off;
  }

  // What the far end hears, for tests and diagnostics: the number of audio RTP packets sent.
  async packetsSent() {
    const connection = this.session?.sessionDescriptionHandler?.peerConnection;
    if (!connection) return 0;
    let sent = 0;
    (await connection.getStats()).forEach((report) => {
      if (report.type === "outbound-rtp" && report.kind === "audio") sent += report.packetsSent;
    });
    return sent;
  }

  async dropUserAgent() {
    const userAgent = this.userAgent;
    this.userAgent = this.registerer = null;
    if (userAgent) await userAgent.stop().catch(() => {});
  }

  async stop() {
    this.stopped = true;
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const registerer = this.registerer;
    if (registerer) await registerer.unregister().catch(() => {});
    await this.dropUserAgent();
    this.onState("offline", "stopped");
  }
}
