// The live socket's client: the agent and supervisor pages import it as an ES module.
//
//   import { connectLive } from "/static/live.js";
//   const live = connectLive({
//     everything: true,                     // a supervisor page: it is sent every message
//     onSnapshot: (s) => { /* replace the whole view: s.agents, s.calls */ },
//     onMessage: (m) => { /* apply one delta: {type: "agent", agent}, {type: "call", call} */ },
//     onStatus: (status, detail) => { /* connecting | live | reconnecting | refused | logged-out | closed */ },
//   });
//   live.close();
//
// The server sends a snapshot first, then deltas, each with `seq` (one counter for the whole
// server). A snapshot covers every delta up to its seq, so older deltas are skipped. A page that
// sees everything gets consecutive seqs: a gap means something was lost, so it reconnects for a
// fresh snapshot. (An agent's page sees only its own messages, so its seqs only rise.) Dropped
// connections are retried with growing, jittered delays capped at a few seconds (a page left
// dark is a page that lies), and at once when the tab comes back into view or the browser comes
// back online; a socket that goes silent is replaced. A page whose login ended (close code 4401,
// or a refused handshake while /live answers 401) stops and goes to the login page.

const BASE_DELAY = 500;          // ms before the first retry; doubles on each failure
const MAX_DELAY = 5000;          // so an outage leaves the page dark at most this much longer
const PING_EVERY = 20000;        // the client pings; any frame counts as a sign of life
const DEAD_AFTER = 45000;        // silent for this long: the connection is gone
const REFUSED = 4403;            // the server's close code for "this user has no live view"
const SIGNED_OUT = 4401;         // the server's close code for "this login ended": log in again

export function liveUrl(location = globalThis.location) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/live";
}

// Calls wake() when the tab becomes visible or the browser comes online; returns an unhook.
function browserWakeups(wake) {
  if (typeof window === "undefined" || typeof document === "undefined") return () => {};
  const visible = () => { if (document.visibilityState === "visible") wake(); };
  window.addEventListener("online", wake);
  document.addEventListener("visibilitychange", visible);
  return () => {
    window.removeEventListener("online", wake);
    document.removeEventListener("visibilitychange", visible);
  };
}

// The page is already navigating (the Log out form was submitted): the server closing this
// login's socket must not start a second navigation, which would cancel the logout's own answer
// (and its "You are logged out." note).
let leaving = false;
if (typeof window !== "undefined") window.addEventListener("beforeunload", () => { leaving = true; });

function goToLogin() {
  if (!leaving) globalThis.location?.assign("/login");
}

export function connectLive(options = {}) {
  const {
    url = liveUrl(),
    everything = false,
    onSnapshot = () => {},
    onMessage = () => {},
    onStatus = () => {},
    // Injected by tests; pages use the defaults.
    createSocket = (address) => new WebSocket(address),
    fetchStatus = (address) => fetch(address, { credentials: "same-origin" }).then((r) => r.status),
    timers = globalThis,
    now = () => Date.now(),
    baseDelay = BASE_DELAY,
    maxDelay = MAX_DELAY,
    pingEvery = PING_EVERY,
    deadAfter = DEAD_AFTER,
    random = Math.random,
    toLogin = goToLogin,         // a page whose login ended
    wakeups = browserWakeups,
  } = options;

  let socket = null;
  let lastSeq = null;             // null until a snapshot arrives on this connection
  let failures = 0;
  let stopped = false;
  let retryTimer = null;
  let pingTimer = null;
  let lastHeard = 0;

  function open() {
    retryTimer = null;
    if (stopped) return;
    onStatus("connecting");
    const ws = createSocket(url);
    let opened = false;
    socket = ws;
    lastSeq = null;
    ws.onopen = () => {
      opened = true;
      lastHeard = now();
      pingTimer = timers.setInterval(keepAlive, pingEvery);
    };
    ws.onmessage = (event) => {
      lastHeard = now();
      receive(event.data);
    };
    ws.onclose = (event) => {
      if (ws !== socket) return;
      stopPinging();
      socket = null;
      if (stopped) return;
      if (event.code === REFUSED) {            // reconnecting cannot help this user
        stopped = true;
        onStatus("refused", event.reason);
      } else if (event.code === SIGNED_OUT) {  // nor this one, until it logs in again
        loggedOut(event.reason);
      } else if (!opened) {
        whyRefused();
      } else {
        retry();
      }
    };
  }

  function receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;                                  // the server sends JSON only; ignore noise
    }
    if (message.type === "snapshot") {
      lastSeq = message.seq;
      failures = 0;
      onStatus("live");
      onSnapshot(message);
    } else if (message.type === "pong") {
      // only a sign of life
    } else if (message.type === "error") {
      console.warn("live socket:", message.error);
    } else if (typeof message.seq === "number") {
      if (lastSeq === null) return resync("a delta before the snapshot");
      if (message.seq <= lastSeq) return;      // the snapshot already had it
      if (everything && message.seq !== lastSeq + 1) {
        return resync(`seq jumped from ${lastSeq} to ${message.seq}`);
      }
      lastSeq = message.seq;
      onMessage(message);
    }
  }

  function keepAlive() {
    if (!socket) return;
    if (now() - lastHeard > deadAfter) return resync("the connection went silent");
    socket.send(JSON.stringify({ type: "ping" }));
  }

  // Leave this connection (without waiting for a close handshake it may never finish) and
  // open a fresh one, which starts with a snapshot.
  function resync(why) {
    const ws = socket;
    stopPinging();
    socket = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(4000, why.slice(0, 120)); } catch { /* already closing */ }
    }
    retry();
  }

  // Backoff counts failures since the last snapshot, so a healthy reconnect is quick and a
  // server that keeps failing is not hammered.
  function retry() {
    if (stopped || retryTimer !== null) return;
    const ceiling = Math.min(maxDelay, baseDelay * 2 ** failures);
    const delay = Math.round(ceiling * (0.5 + random() / 2));
    failures += 1;
    onStatus("reconnecting", delay);
    retryTimer = timers.setTimeout(open, delay);
  }

  // A refused handshake looks like any other failure to a WebSocket; ask over plain HTTP
  // whether the session is gone (401), so the page can send the user to log in.
  function whyRefused() {
    Promise.resolve()
      .then(() => fetchStatus(url.replace(/^ws/, "http")))
      .catch(() => 0)
      .then((status) => {
        if (stopped) return;
        if (status === 401) {
          loggedOut();
        } else {
          retry();
        }
      });
  }

  function loggedOut(reason) {
    stopped = true;
    onStatus("logged-out", reason);
    toLogin();
  }

  // The tab is back in view or the network is back: a pending retry goes now, and an open
  // socket is pinged (a laptop that slept may hold a dead one; keepAlive replaces it).
  function wake() {
    if (stopped) return;
    if (retryTimer !== null) {
      timers.clearTimeout(retryTimer);
      open();
    } else if (socket && pingTimer !== null) {   // open, not still connecting
      keepAlive();
    }
  }

  function stopPinging() {
    if (pingTimer !== null) timers.clearInterval(pingTimer);
    pingTimer = null;
  }

  const unhook = wakeups(wake);
  open();
  return {
    close() {
      stopped = true;
      unhook();
      stopPinging();
      if (retryTimer !== null) timers.clearTimeout(retryTimer);
      retryTimer = null;
      if (socket) socket.close(1000, "page closed");
      socket = null;
      onStatus("closed");
    },
  };
}
