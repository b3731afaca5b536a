// Checks for callcenter/static/live.js, run by tests/test_live_socket.py:
//   node live_client.mjs logic    fake sockets and timers: snapshot, deltas, gaps, backoff
//   node --experimental-websocket live_client.mjs e2e    a real socket (LIVE_URL, COOKIE, ORIGIN)
// Prints "ok <check>" for each check passed; any failure exits non-zero.
import assert from "node:assert/strict";

const { connectLive } = await import(new URL("../callcenter/static/live.js", import.meta.url));
function harness(extra = {}) {
  let clock = 0, nextId = 1;
  const due = new Map();
  const timers = {
    setTimeout(fn, ms) { const id = nextId++; due.set(id, { at: clock + ms, fn }); return id; },
    clearTimeout(id) { due.delete(id); },
    setInterval(fn, ms) {
      const id = nextId++;
      const tick = () => { due.set(id, { at: clock + ms, fn: tick }); fn(); };
      due.set(id, { at: clock + ms, fn: tick });
      return id;
    },
    clearInterval(id) { due.delete(id); },
  };
  const sockets = [], statuses = [], snapshots = [], messages = [];
  class FakeSocket {
    constructor(url) { this.url = url; this.sent = []; this.closed = null; sockets.push(this); }
    send(text) { this.sent.push(JSON.parse(text)); }
    close(code, reason) { this.closed = { code, reason }; }
    accept() { this.onopen?.(); }
    push(message) { this.onmessage?.({ data: JSON.stringify(message) }); }
    drop(code = 1006, reason = "") { this.onclose?.({ code, reason }); }
  }
  const h = {
    sockets, statuses, snapshots, messages,
    get clock() { return clock; },
    advance(ms) {
      const end = clock + ms;
      for (;;) {
        const next = [...due.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!next) break;
        due.delete(next[0]);
        clock = next[1].at;
        next[1].fn();
      }
      clock = end;
    },
    last() { return sockets[sockets.length - 1]; },
    settle: () => new Promise((r) => setImmediate(r)),
  };
  h.live = connectLive({
    url: "ws://cc.test/live", timers, now: () => clock, random: () => 1,
    createSocket: (url) => new FakeSocket(url),
    fetchStatus: async () => 503,
    onSnapshot: (s) => snapshots.push(s), onMessage: (m) => messages.push(m),
    onStatus: (status, detail) => statuses.push(detail === undefined ? status : `${status} ${detail}`),
    ...extra,
  });
  return h;
}

const checks = {
  async supervisor_applies_snapshot_then_deltas_and_resyncs_on_a_gap() {
    const h = harness({ everything: true });
    const ws = h.last();
    assert.equal(ws.url, "ws://cc.test/live");
    ws.accept();
    ws.push({ type: "snapshot", seq: 5, agents: [{ id: 1 }], calls: [] });
    ws.push({ type: "agent", seq: 4, agent: { id: 1 } });       // older than the snapshot
    ws.push({ type: "agent", seq: 6, agent: { id: 1 } });
    ws.push({ type: "pong" });
    assert.deepEqual(h.snapshots.map((s) => s.seq), [5]);
    assert.deepEqual(h.messages.map((m) => m.seq), [6]);
    ws.push({ type: "call", seq: 8, call: {} });                 // 7 is missing
    assert.deepEqual(h.messages.map((m) => m.seq), [6]);
    assert.equal(ws.closed.code, 4000);
    assert.match(ws.closed.reason, /seq jumped from 6 to 8/);
    assert.deepEqual(h.statuses, ["connecting", "live", "reconnecting 500"]);
    h.advance(499);
    assert.equal(h.sockets.length, 1);
    h.advance(1);
    assert.equal(h.sockets.length, 2);
    h.last().accept();
    h.last().push({ type: "snapshot", seq: 9, agents: [], calls: [] });
    assert.deepEqual(h.snapshots.map((s) => s.seq), [5, 9]);
  },

  async an_agent_page_accepts_rising_seqs_with_holes() {
    const h = harness();
    h.last().accept();
    h.last().push({ type: "snapshot", seq: 10, agents: [], calls: [] });
    h.last().push({ type: "call", seq: 14, call: {} });
    h.last().push({ type: "call", seq: 20, call: {} });
    h.last().push({ type: "call", seq: 20, call: {} });           // a repeat is skipped
    assert.deepEqual(h.messages.map((m) => m.seq), [14, 20]);
    assert.equal(h.last().closed, null);
  },

  async drops_are_retried_with_growing_capped_delays_reset_by_a_snapshot() {
    const h = harness({ maxDelay: 4000 });
    h.last().accept();
    h.last().drop(1006);
    for (let i = 0; i < 5; i++) {                               // the server stays down
      const before = h.sockets.length;
      h.advance(10_000);
      assert.equal(h.sockets.length, before + 1);
      h.last().drop(1006);                                      // refused before opening
      await h.settle();                                         // the HTTP probe: 503
    }
    const delays = h.statuses.filter((s) => s.startsWith("reconnecting")).map((s) => +s.split(" ")[1]);
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 4000, 4000]);
    h.advance(10_000);
    h.last().accept();
    h.last().push({ type: "snapshot", seq: 1, agents: [], calls: [] });
    h.last().drop(1001);
    assert.equal(h.statuses.at(-1), "reconnecting 500");
  },

  async the_default_delay_is_capped_at_a_few_seconds() {
    const h = harness();
    h.last().accept();
    h.last().drop(1006);
    for (let i = 0; i < 6; i++) {                               // a long outage
      h.advance(10_000);
      h.last().drop(1006);
      await h.settle();
    }
    const delays = h.statuses.filter((s) => s.startsWith("reconnecting")).map((s) => +s.split(" ")[1]);
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000]);
  },

  async the_tab_coming_back_or_the_network_retries_at_once() {
    let wake = null;
    let unhooked = false;
    const h = harness({ wakeups: (fn) => { wake = fn; return () => { unhooked = true; }; } });
    h.last().accept();
    h.last().drop(1006);
    h.advance(10_000);                                          // retried, refused, waiting
    h.last().drop(1006);
    await h.settle();
    assert.equal(h.statuses.at(-1), "reconnecting 1000");
    wake();                                                     // visible / online
    assert.equal(h.sockets.length, 3);
    h.advance(1000);                                            // the old timer is gone
    assert.equal(h.sockets.length, 3);
    const ws = h.last();
    wake();                                                     // still connecting: nothing
    assert.deepEqual(ws.sent, []);
    ws.accept();
    ws.push({ type: "snapshot", seq: 1, agents: [], calls: [] });
    wake();                                                     // open: a ping checks it
    assert.deepEqual(ws.sent, [{ type: "ping" }]);
    h.live.close();
    assert.equal(unhooked, true);
  },

  async a_refusal_is_final_other_closes_are_retried() {
    const h = harness();
    h.last().accept();
    h.last().drop(1008, "Ping/Pong timeout");                 // the connection, not the user
    h.advance(1000);
    assert.equal(h.sockets.length, 2);
    h.last().accept();
    h.last().drop(4403, "this user has no agent record");
    h.advance(60_000);
    assert.equal(h.sockets.length, 2);
    assert.equal(h.statuses.at(-1), "refused this user has no agent record");
  },

  async a_refused_handshake_with_a_lost_session_stops_for_login() {
    const probed = [];
    let toLogin = 0;
    const h = harness({ fetchStatus: async (url) => { probed.push(url); return 401; },
                        toLogin: () => { toLogin += 1; } });
    h.last().drop(1006);
    await h.settle();
    h.advance(60_000);
    assert.deepEqual(probed, ["http://cc.test/live"]);
    assert.equal(h.sockets.length, 1);
    assert.equal(h.statuses.at(-1), "logged-out");
    assert.equal(toLogin, 1);
  },

  async a_signed_out_close_goes_to_the_login_page() {
    let toLogin = 0;
    const h = harness({ toLogin: () => { toLogin += 1; } });
    h.last().accept();
    h.last().push({ type: "snapshot", seq: 1, agents: [], calls: [] });
    h.last().drop(4401, "signed out: log in again");
    h.advance(60_000);
    assert.equal(h.sockets.length, 1);                         // never retried
    assert.equal(h.statuses.at(-1), "logged-out signed out: log in again");
    assert.equal(toLogin, 1);
  },

  async pings_and_replaces_a_silent_connection() {
    const h = harness({ pingEvery: 1000, deadAfter: 2500 });
    const ws = h.last();
    ws.accept();
    ws.push({ type: "snapshot", seq: 1, agents: [], calls: [] });
    h.advance(1000);
    assert.deepEqual(ws.sent, [{ type: "ping" }]);
    ws.push({ type: "pong" });                                 // alive at t=1000
    h.advance(3000);                                           // silent since
    assert.equal(ws.sent.length, 3);
    assert.equal(ws.closed?.code, 4000);
    assert.match(ws.closed.reason, /silent/);
    h.advance(500);
    assert.equal(h.sockets.length, 2);
  },

  async close_stops_everything() {
    const h = harness();
    const ws = h.last();
    ws.accept();
    h.live.close();
    ws.drop(1000);
    h.advance(60_000);
    assert.deepEqual(ws.closed, { code: 1000, reason: "page closed" });
    assert.equal(h.sockets.length, 1);
    assert.equal(h.statuses.at(-1), "closed");
  },
};

async function e2e() {
  const headers = { Cookie: process.env.COOKIE, Origin: process.env.ORIGIN };
  const statuses = [];
  const snapshot = await new Promise((resolve, reject) => {
    const live = connectLive({
      url: process.env.LIVE_URL,
      // A page's WebSocket sends the cookie and Origin by itself; node's needs them given.
      createSocket: (url) => new WebSocket(url, { headers }),
      onSnapshot: (s) => { live.close(); resolve(s); },
      onStatus: (status, detail) => {
        statuses.push(status);
        if (status === "refused" || status === "logged-out") reject(new Error(`${status} ${detail}`));
      },
    });
    setTimeout(() => reject(new Error(`no snapshot; statuses: ${statuses}`)), 10000).unref();
  });
  assert.equal(snapshot.type, "snapshot");
  assert.ok(Array.isArray(snapshot.agents) && Array.isArray(snapshot.calls));
  assert.deepEqual(statuses, ["connecting", "live", "closed"]);
  console.log("ok e2e_snapshot");
  // Nothing else keeps node alive: it exits once the server has closed the connection.
}

if (process.argv[2] === "e2e") {
  await e2e();
} else {
  for (const [name, check] of Object.entries(checks)) {
    await check();
    console.log("ok", name);
  }
}
