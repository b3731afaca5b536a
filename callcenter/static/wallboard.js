// The wall display: one tile per queue (callers waiting, the longest wait ticking, today's
// service level, its agents by state), coloured by the queue's thresholds (settings), in type
// large enough for a TV across the room. Read-only; it reconnects by itself, and takes a fresh
// snapshot every REFRESH_MS so a queue added meanwhile appears. A revoked token closes it as
// signed out: the page reloads and says so.
import { Floor, NONE, duration, level, percent } from "./floor.js";
import { connectLive } from "./live.js";

const REFRESH_MS = 10 * 60 * 1000;
const $ = (id) => document.getElementById(id);
const floor = new Floor();
let frame = null;

function el(tag, className, text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function measure(label, value, state, since) {
  const box = el("div", `measure ${state}`);
  box.dataset.state = state;
  const number = el("strong", "", value);
  if (since) number.dataset.since = since;
  box.append(number, el("span", "", label));
  return box;
}

function tile(row) {
  const t = row.thresholds || {};
  const f = floor.queueFigures(row.name);
  const wait = row.oldest_entered === null ? null : floor.now() - row.oldest_entered;
  const section = el("section", "tile");
  section.dataset.queue = row.name;
  section.setAttribute("aria-label", `Queue ${row.name}`);
  section.append(el("h2", "", row.name));
  const measures = el("div", "measures");
  measures.append(
    measure("callers waiting", String(row.waiting), level(row.waiting, t.waiting)),
    measure("longest wait", wait === null ? NONE : duration(wait), level(wait, t.longest_wait_s), row.oldest_entered),
    measure("service level", percent(f?.service_level), level(f?.service_level, t.service_level, true)),
  );
  const a = row.agents;
  const agents = el("p", "agents");
  agents.textContent = `${a.available} available · ${a.on_call} on calls · ${a.wrap_up} wrap-up · ${a.on_break} on break`;
  section.append(measures, agents);
  return section;
}

function draw() {
  frame = null;
  const names = [...floor.queues.keys()].sort();
  $("wall").replaceChildren(...names.map((name) => tile(floor.queues.get(name))));
  if (!names.length) $("wall").append(el("p", "muted", "No queues yet."));
  $("switch-banner").hidden = floor.switchUp;
  document.body.dataset.renderedSeq = String(floor.seq);
}

function schedule() { if (frame === null) frame = requestAnimationFrame(draw); }

// Once a second: the clock and the longest waits, and their colours as they cross a threshold.
function tick() {
  $("wall-clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  for (const number of document.querySelectorAll("[data-since]")) {
    const waited = floor.now() - Number(number.dataset.since);
    number.textContent = duration(waited);
    const row = floor.queues.get(number.closest(".tile").dataset.queue);
    const state = level(waited, row?.thresholds?.longest_wait_s);
    const box = number.parentElement;
    if (box.dataset.state !== state) { box.className = `measure ${state}`; box.dataset.state = state; }
  }
}

let live = null;
function connect() {
  live?.close();
  live = connectLive({
    onSnapshot: (s) => { floor.snapshot(s); schedule(); },
    onMessage: (m) => { if (floor.apply(m)) schedule(); },
    onStatus: (status) => { $("live-status").textContent = status; },
    toLogin: () => location.reload(),      // the token was revoked: the page says so
  });
}
connect();
setInterval(connect, REFRESH_MS);
setInterval(tick, 1000);
tick();
