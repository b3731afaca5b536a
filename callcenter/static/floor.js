// What the supervisor's page and the wall display know of the floor, kept from the live socket:
// agents, calls, queue rows, callback requests and today's figures, each replaced whole by a
// snapshot and changed by deltas. Nothing is computed here that the server computes (queue rows, figures): the page
// only formats them and ticks times from the server's timestamps.

export class Floor {
  constructor() {
    this.agents = new Map();     // id -> agent
    this.calls = new Map();      // id -> call (ended calls leave)
    this.queues = new Map();     // name -> live row
    this.callbacks = new Map();  // id -> callback request (finished ones stay: today's are listed)
    this.monitors = new Map();   // call id -> supervisors listening in ({supervisor, mode, ...})
    this.figures = null;
    this.switchUp = true;
    this.offset = 0;             // server clock - this browser's clock, in seconds
    this.seq = 0;                // the last seq applied
  }

  // The server's clock now, in seconds (its timestamps are epoch seconds).
  now() { return Date.now() / 1000 + this.offset; }

  // Replace everything; returns the kinds of things that changed ("all").
  snapshot(s) {
    this.agents = new Map((s.agents || []).map((a) => [a.id, a]));
    this.calls = new Map((s.calls || []).filter((c) => !c.ended_at).map((c) => [c.id, c]));
    this.queues = new Map((s.queues || []).map((q) => [q.name, q]));
    this.callbacks = new Map((s.callbacks || []).map((c) => [c.id, c]));
    this.monitors = new Map(Object.entries(s.monitors || {}));
    this.figures = s.figures || null;
    if (s.switch) this.switchUp = s.switch.connected;
    if (typeof s.now === "number") this.offset = s.now - Date.now() / 1000;
    this.seq = s.seq;
  }

  // Apply one delta; returns what it touched: {agent: id} | {call: id} | {queue: name} |
  // {callback: id, queue: name} | {figures: true} | {switch: true} | null.
  apply(m) {
    this.seq = m.seq;
    switch (m.type) {
      case "agent":
        this.agents.set(m.agent.id, m.agent);
        return { agent: m.agent.id };
      case "call": {
        const old = this.calls.get(m.call.id);
        if (old && (old.version ?? -1) > (m.call.version ?? -1)) return null;
        if (m.call.ended_at) this.calls.delete(m.call.id);
        else this.calls.set(m.call.id, m.call);
        return { call: m.call.id, agent: m.call.agent_id ?? old?.agent_id ?? null };
      }
      case "queue":
        this.queues.set(m.queue.name, m.queue);
        return { queue: m.queue.name };
      case "callback":
        this.callbacks.set(m.callback.id, m.callback);
        return { callback: m.callback.id, queue: m.callback.queue };
      case "monitors":
        if (m.monitors.length) this.monitors.set(m.call_id, m.monitors);
        else this.monitors.delete(m.call_id);
        return { call: m.call_id };
      case "figures":
        this.figures = m.figures;
        return { figures: true };
      case "switch":
        this.switchUp = m.switch.connected;
        return { switch: true };
      default:
        return null;
    }
  }

  queueFigures(name) {
    return this._index("queues", "queue").get(name) || null;
  }

  agentFigures(id) {
    return this._index("agents", "agent_id").get(id) || null;
  }

  // The figures' lists by key, built once per figures message (a page asks per row).
  _index(list, key) {
    if (this._indexed !== this.figures) { this._indexed = this.figures; this._indexes = {}; }
    this._indexes[list] ??= new Map((this.figures?.[list] || []).map((x) => [x[key], x]));
    return this._indexes[list];
  }
}

// "—" for what cannot be said (None from the server: no calls to divide by).
export const NONE = "—";

// 75 -> "1:15", 3700 -> "1:01:40".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return NONE;
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

// 0.834 -> "83 %".
export function percent(fraction) {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return NONE;
  return `${Math.round(fraction * 100)} %`;
}

export function count(value) {
  return value === null || value === undefined ? NONE : String(value);
}

// "ok" | "warn" | "alert" for a measure against [warn, alert]; `low` when lower is worse.
export function level(value, pair, low = false) {
  if (value === null || value === undefined || !pair) return "ok";
  const [warn, alert] = pair;
  if (low) return value <= alert ? "alert" : value <= warn ? "warn" : "ok";
  return value >= alert ? "alert" : value >= warn ? "warn" : "ok";
}
