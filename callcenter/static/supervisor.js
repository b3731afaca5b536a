// The supervisor's live dashboard: agents, queues (and their callback requests), calls and
// today's charts, from the live socket (a snapshot, then deltas, every seq). Deltas only mark
// rows dirty; a redraw of the dirty rows follows at most every DRAW_EVERY ms, however many deltas
// came meanwhile, so a busy floor (hundreds of changes a second) never queues work in the page:
// each redraw lays out the big tables again, and at every animation frame that layout would take
// the CPU the server needs on a shared machine. Times tick once a
// second from the server's timestamps. The numbers (queue rows, figures) are the server's: this
// page only formats them.
import { drawCharts } from "./charts.js";
import { Floor, NONE, count, duration, percent } from "./floor.js";
import { connectLive } from "./live.js";
import { agentActions, callActions, callerActions, monitorWords, startPhone } from "./supervise.js";
import { CALLBACK_STATE, PROGRESS, STATE, STATUS } from "./vocabulary.js";
import {
  CALLBACK_STATE_WORDS, OUTCOME_WORDS, PROGRESS_WORDS, STATE_WORDS, STATUS_WORDS, handoverWords,
  wordFor,
} from "./words.js";

const $ = (id) => document.getElementById(id);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const attention = JSON.parse($("attention").textContent);
const ME = Number(document.body.dataset.userId || $("phone").dataset.userId);   // my user id
const floor = new Floor();
const dirty = {
  agents: new Set(), queues: new Set(), calls: false, callbacks: false, figures: false, all: true,
};
const DRAW_EVERY = 250;           // ms between redraws while deltas keep coming
let frame = null;
let drawnAt = -Infinity;         // performance.now() of the last redraw
let rendered = 0;                 // the seq on screen (bench/live.py reads it)
let sort = { key: "name", dir: 1 };
const rows = { agents: new Map(), queues: new Map(), callbacks: new Map() };

function cell(tr, i) { return tr.children[i]; }
function setText(td, text) { if (td.textContent !== text) td.textContent = text; }
function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}
function newRow(cells) {
  const tr = el("tr");
  for (let i = 0; i < cells; i++) tr.append(el("td"));
  return tr;
}
function ticking(td, since) {
  if (since) { td.dataset.since = since; td.textContent = duration(floor.now() - since); }
  else { delete td.dataset.since; setText(td, NONE); }
}

// -- agents ----------------------------------------------------------------------------------

function callOf(agent) { return agent.call_id ? floor.calls.get(agent.call_id) : null; }

// Why an agent's row stands out ("" when it does not), in words a screen reader says.
function attentionOf(agent) {
  const now = floor.now();
  const call = callOf(agent);
  const why = [];
  if (call?.bridged_at && now - call.bridged_at >= attention.long_call_s) why.push("long call");
  if (agent.status === STATUS.ON_BREAK && agent.since && now - agent.since >= attention.long_break_s) {
    why.push("long break");
  }
  const missed = floor.agentFigures(agent.id)?.missed_offers;
  if (missed !== null && missed !== undefined && missed >= attention.missed_offers) why.push("missed offers");
  if (agent.status === STATUS.AVAILABLE && !agent.registered) why.push("phone not registered");
  return why.join(", ");
}

function queuesOfAgent(id) {
  const names = [];
  for (const row of floor.queues.values()) if (row.agent_ids.includes(id)) names.push(row.name);
  return names;
}

function sortValue(agent, key) {
  const f = floor.agentFigures(agent.id);
  switch (key) {
    case "since": return -(agent.since || 0);     // longest in state first
    case "registered": return agent.registered ? 1 : 0;
    case "handled": return f?.handled ?? -1;
    case "aht": return f?.aht_s ?? -1;
    case "missed_offers": return f?.missed_offers ?? -1;
    default: return String(agent[key] ?? "").toLowerCase();
  }
}

function visibleAgents() {
  const name = $("filter-name").value.trim().toLowerCase();
  const queue = $("filter-queue").value;
  const state = $("filter-state").value;
  const members = queue ? new Set(floor.queues.get(queue)?.agent_ids || []) : null;
  const shown = [];
  for (const agent of floor.agents.values()) {
    if (name && !agent.name.toLowerCase().includes(name) && !agent.extension.includes(name)) continue;
    if (members && !members.has(agent.id)) continue;
    if (state === "attention" ? !attentionOf(agent)
      : state && agent.state !== state && agent.status !== state) continue;
    shown.push(agent);
  }
  shown.sort((a, b) => {
    const x = sortValue(a, sort.key), y = sortValue(b, sort.key);
    return (x < y ? -1 : x > y ? 1 : a.id - b.id) * sort.dir;
  });
  return shown;
}

function drawAgent(tr, agent) {
  const f = floor.agentFigures(agent.id);
  const call = callOf(agent);
  tr.dataset.agent = agent.id;
  tr.dataset.state = agent.state;
  tr.dataset.status = agent.status;
  setText(cell(tr, 0), agent.name);
  setText(cell(tr, 1), agent.extension);
  const status = wordFor(STATUS_WORDS, agent.status);
  setText(cell(tr, 2), agent.status === STATUS.ON_BREAK && agent.break_reason
    ? `${status}: ${agent.break_reason}` : status);
  setText(cell(tr, 3), wordFor(STATE_WORDS, agent.state));
  ticking(cell(tr, 4), agent.since);
  drawCallCell(cell(tr, 5), call);
  setText(cell(tr, 6), agent.registered ? "Registered" : "Not registered");
  cell(tr, 6).className = agent.registered ? "" : "bad";
  setText(cell(tr, 7), count(f?.handled));
  setText(cell(tr, 8), duration(f?.aht_s));
  setText(cell(tr, 9), count(f?.missed_offers));
  if (!cell(tr, 10).childElementCount) cell(tr, 10).append(agentActions(agent));
  markAttention(tr, agent);
}

// Who the customer is: its caller ID, or a website visitor (with the name it gave, if any).
function customerOf(call) {
  if (call?.channel === "web") {
    const name = call.visitor?.fields?.name;
    return name ? `Website: ${name}` : "Website visitor";
  }
  return call?.number || "No caller ID";
}

function drawCallCell(td, call) {
  if (!call) { setText(td, ""); delete td.dataset.since; return; }
  const bits = [customerOf(call)];
  if (call.queue) bits.push(call.queue);
  bits.push(call.direction === "inbound" ? "in" : "out");
  if (call.held) bits.push("on hold");
  const handover = handoverWords(call);
  if (handover) bits.push(handover);
  if (call.recording) bits.push("recording");
  const started = call.bridged_at || call.created;
  td.dataset.since = started;
  td.dataset.prefix = bits.join(" · ") + " · ";
  setText(td, td.dataset.prefix + duration(floor.now() - started));
}

function markAttention(tr, agent) {
  const why = attentionOf(agent);
  const label = tr.children[0];
  const note = why ? ` (needs attention: ${why})` : "";
  // Called for every row every second: touch the DOM only when the mark changes.
  if (label.dataset.note === note && label.getAttribute("aria-label") === agent.name + note) return;
  tr.classList.toggle("attention", Boolean(why));
  tr.title = why ? `Needs attention: ${why}` : "";
  label.dataset.note = note;
  label.setAttribute("aria-label", agent.name + note);
}

function drawAgents() {
  const tbody = $("agents").tBodies[0];
  const shown = visibleAgents();
  for (const [id, tr] of rows.agents) {
    if (!floor.agents.has(id)) { tr.remove(); rows.agents.delete(id); }
  }
  for (const agent of shown) {
    let tr = rows.agents.get(agent.id);
    if (!tr) { tr = newRow(11); rows.agents.set(agent.id, tr); drawAgent(tr, agent); }
    else if (dirty.all || dirty.figures || dirty.agents.has(agent.id)) drawAgent(tr, agent);
  }
  // Put the rows in order, moving only those out of place.
  let at = tbody.firstElementChild;
  const wanted = new Set(shown.map((a) => a.id));
  for (const agent of shown) {
    const tr = rows.agents.get(agent.id);
    if (tr === at) { at = at.nextElementSibling; continue; }
    tbody.insertBefore(tr, at);
  }
  for (const [id, tr] of rows.agents) if (!wanted.has(id) && tr.parentNode) tr.remove();
  setText($("agents-count"), `(${shown.length} of ${floor.agents.size})`);
}

// -- queues ----------------------------------------------------------------------------------

function drawQueue(tr, row, f, callbacks) {
  tr.dataset.queue = row.name;
  const a = row.agents;
  setText(cell(tr, 0), row.name);
  setText(cell(tr, 1), String(row.waiting));
  ticking(cell(tr, 2), row.oldest_entered);
  [a.available, a.on_call, a.wrap_up, a.on_break].forEach((n, i) => setText(cell(tr, 3 + i), String(n)));
  drawFigures(tr, 7, f);
  const callers = cell(tr, 14);
  callers.className = "callers";
  callers.replaceChildren(...row.callers.map((c) => {
    const call = floor.calls.get(c.call_id);
    const item = el("span", { class: "caller" });
    const who = c.callback ? "Callback request" : customerOf(call);
    item.textContent = `${who}${c.offered ? " (ringing)" : ""} · `;
    const waited = el("span");
    waited.dataset.since = c.entered;
    waited.textContent = duration(floor.now() - c.entered);
    item.append(waited);
    if (!c.callback) item.append(callerActions(c.call_id, row.name, queueNames, freeAgents));
    return item;
  }));
  setText(cell(tr, 15), String(callbacks));
}

const queueNames = () => [...floor.queues.keys()].sort();

// The agents a waiting caller can be offered to now: Available, Idle, their phone registered
// (the server would refuse any other).
function freeAgents() {
  return [...floor.agents.values()]
    .filter((a) => a.status === STATUS.AVAILABLE && a.state === STATE.IDLE && a.registered)
    .map((a) => ({ id: a.id, name: a.name })).sort((a, b) => a.name.localeCompare(b.name));
}

function drawFigures(tr, from, f) {
  const values = [count(f?.offered), count(f?.answered), count(f?.abandoned),
    percent(f?.abandon_rate), percent(f?.service_level), duration(f?.asa_s), duration(f?.aht_s)];
  values.forEach((text, i) => setText(cell(tr, from + i), text));
  if (f?.service_level_seconds) cell(tr, from + 4).title = `answered within ${f.service_level_seconds} s`;
}

function drawQueues() {
  const tbody = $("queues").tBodies[0];
  const names = [...floor.queues.keys()].sort();
  const callbacks = callbacksByQueue();
  for (const [name, tr] of rows.queues) {
    if (!floor.queues.has(name)) { tr.remove(); rows.queues.delete(name); }
  }
  let at = tbody.firstElementChild;
  for (const name of names) {
    let tr = rows.queues.get(name);
    const fresh = !tr;
    if (fresh) { tr = newRow(16); rows.queues.set(name, tr); }
    if (fresh || dirty.all || dirty.figures || dirty.calls || dirty.queues.has(name)) {
      drawQueue(tr, floor.queues.get(name), floor.queueFigures(name), callbacks.get(name) || 0);
    }
    // In name order, moving only rows out of place (a moved row is laid out again).
    if (tr === at) at = at.nextElementSibling;
    else tbody.insertBefore(tr, at);
  }
  const foot = $("queues").tFoot;
  if (!foot.rows.length) {
    const tr = newRow(16);
    tr.cells[0].textContent = "All queues";
    foot.append(tr);
  }
  const total = foot.rows[0];
  let waiting = 0, oldest = null;
  // Available, on calls, in wrap-up, on break: the floor's own spread (see below).
  const spread = [0, 0, 0, 0];
  for (const row of floor.queues.values()) {
    waiting += row.waiting;
    if (row.oldest_entered !== null && (oldest === null || row.oldest_entered < oldest)) oldest = row.oldest_entered;
  }
  // Agents in several queues would be counted twice: the floor's own spread instead.
  for (const agent of floor.agents.values()) {
    if (agent.status === STATUS.LOGGED_OUT) continue;
    if ([STATE.RESERVED, STATE.RINGING, STATE.IN_CALL].includes(agent.state)) spread[1]++;
    else if (agent.state === STATE.WRAP_UP) spread[2]++;
    else if (agent.status === STATUS.AVAILABLE) spread[0]++;
    else spread[3]++;
  }
  setText(total.cells[1], String(waiting));
  ticking(total.cells[2], oldest);
  spread.forEach((n, i) => setText(total.cells[3 + i], String(n)));
  drawFigures(total, 7, floor.figures?.totals);
  setText(total.cells[15], String([...callbacks.values()].reduce((a, b) => a + b, 0)));
  const repairs = floor.figures?.repairs;
  setText($("repairs"), repairs ? String(Object.values(repairs).reduce((a, b) => a + b, 0)) : NONE);
  if (repairs) $("repairs").title = Object.entries(repairs).map(([k, v]) => `${k}: ${v}`).join(", ");
}

// -- callback requests -----------------------------------------------------------------------

const ACTIVE = new Set([CALLBACK_STATE.WAITING, CALLBACK_STATE.OFFERED, CALLBACK_STATE.DIALING]);
// One being dialled is the agent's to finish: the server refuses to cancel it.
const CANCELLABLE = new Set([CALLBACK_STATE.WAITING, CALLBACK_STATE.OFFERED]);

function callbacksByQueue() {
  const counts = new Map();
  for (const c of floor.callbacks.values()) {
    if (ACTIVE.has(c.state)) counts.set(c.queue, (counts.get(c.queue) || 0) + 1);
  }
  return counts;
}

function clockTime(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleTimeString() : NONE;
}

// Midnight today on this browser's calendar, in the server's seconds.
function todayStarts() {
  const midnight = new Date(floor.now() * 1000);
  midnight.setHours(0, 0, 0, 0);
  return midnight.getTime() / 1000;
}

function stateWords(c) {
  const state = wordFor(CALLBACK_STATE_WORDS, c.state);
  return c.last_result && c.state === CALLBACK_STATE.WAITING
    ? `${state} (last try: ${wordFor(OUTCOME_WORDS, c.last_result)})` : state;
}

function drawCallback(tr, c) {
  tr.dataset.callback = c.id;
  tr.dataset.state = c.state;
  [c.queue, c.number, c.caller_name || NONE].forEach((text, i) => setText(cell(tr, i), text));
  ticking(cell(tr, 3), c.entered_at);
  setText(cell(tr, 4), String(c.attempts));
  setText(cell(tr, 5), stateWords(c));
  setText(cell(tr, 6), clockTime(c.next_attempt_at));
  const action = cell(tr, 7);
  let button = action.querySelector("button");
  if (!CANCELLABLE.has(c.state)) { action.replaceChildren(); return; }
  if (!button) {
    button = el("button", { type: "button", class: "secondary" }, "Cancel");
    button.addEventListener("click", () => cancelCallback(tr.dataset.callback, button));
    action.replaceChildren(button);
  }
  button.setAttribute("aria-label", `Cancel the callback to ${c.number} (${c.queue})`);
}

function drawCallbacks() {
  const since = todayStarts();
  const waiting = [], finished = [];
  for (const [id, c] of floor.callbacks) {
    if (ACTIVE.has(c.state)) waiting.push(c);
    else if ((c.done_at || 0) >= since) finished.push(c);
    else floor.callbacks.delete(id);            // yesterday's: no longer shown
  }
  waiting.sort((a, b) => a.entered_at - b.entered_at);     // the order of their places in line
  const tbody = $("callbacks").tBodies[0];
  let lostFocus = false;
  for (const [id, tr] of rows.callbacks) {
    if (ACTIVE.has(floor.callbacks.get(id)?.state)) continue;
    lostFocus ||= tr.contains(document.activeElement);
    tr.remove();
    rows.callbacks.delete(id);
  }
  for (const c of waiting) {
    let tr = rows.callbacks.get(c.id);
    if (!tr) { tr = newRow(8); rows.callbacks.set(c.id, tr); }
    drawCallback(tr, c);
    tbody.append(tr);
  }
  if (lostFocus) $("callbacks-title").focus();    // the keyboard stays in the list
  $("callbacks").hidden = !waiting.length;
  $("callbacks-none").hidden = Boolean(waiting.length);
  setText($("callbacks-count"), `(${waiting.length} waiting)`);

  finished.sort((a, b) => b.done_at - a.done_at);
  $("callbacks-done").tBodies[0].replaceChildren(...finished.map((c) => {
    const tr = newRow(7);
    tr.dataset.callback = c.id;
    tr.dataset.state = c.state;
    [c.queue, c.number, c.caller_name || NONE, duration(c.waited), String(c.attempts),
      wordFor(CALLBACK_STATE_WORDS, c.state), clockTime(c.done_at)]
      .forEach((text, i) => { tr.cells[i].textContent = text; });
    return tr;
  }));
  setText($("finished-count"), `(${finished.length})`);
}

function say(text, failed = false) {
  const status = $("action-status");
  status.textContent = text;
  status.className = failed ? "error" : "flash";
  status.hidden = !text;
}

// The row changes when the server's callback message comes; a refusal (409: being dialled or
// over already, 404: unknown) is said in the server's words.
async function cancelCallback(id, button) {
  const c = floor.callbacks.get(id);
  if (!c || !confirm(`Cancel the callback to ${c.number} (${c.queue})? `
    + "The caller loses their place in line and is not called back.")) return;
  button.disabled = true;
  say("");
  try {
    const reply = await fetch(`/api/callbacks/${encodeURIComponent(id)}/cancel`, {
      method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin",
    });
    let data = {};
    try { data = await reply.json(); } catch { data = {}; }
    if (!reply.ok) throw new Error(data.error || `HTTP ${reply.status}`);
    say(`The callback to ${c.number} is cancelled.`);
    const focus = document.activeElement;
    if (!focus || focus === document.body || focus === button) $("callbacks-title").focus();
  } catch (error) {
    say(`Could not cancel the callback to ${c.number}: ${error.message}`, true);
    button.disabled = false;
  }
}

// -- calls -----------------------------------------------------------------------------------

function whereIs(call) {
  const handover = handoverWords(call);
  if (handover) return handover.charAt(0).toUpperCase() + handover.slice(1);
  if (call.held) return "On hold";
  if (call.progress === PROGRESS.ANSWERED) return "Talking";
  return wordFor(PROGRESS_WORDS, call.progress);
}

function drawCalls() {
  const tbody = $("calls").tBodies[0];
  const calls = [...floor.calls.values()].sort((a, b) => a.created - b.created);
  tbody.replaceChildren(...calls.map((call) => {
    const tr = newRow(8);
    tr.dataset.call = call.id;
    tr.cells[0].textContent = customerOf(call);
    tr.cells[0].dataset.channel = call.channel || "phone";
    if (call.visitor?.page_url) tr.cells[0].title = call.visitor.page_url;
    tr.cells[1].textContent = whereIs(call);
    tr.cells[2].textContent = floor.agents.get(call.agent_id)?.name || "";
    tr.cells[3].textContent = call.queue || "";
    tr.cells[4].textContent = (call.direction === "inbound" ? "Inbound" : "Outbound")
      + (call.channel === "web" ? " · website" : "");
    ticking(tr.cells[5], call.entered || call.created);
    const monitors = floor.monitors.get(call.id);
    tr.cells[6].textContent = monitorWords(monitors);
    if (call.agent_id !== null && call.progress === PROGRESS.ANSWERED) {
      tr.cells[7].append(callActions(call, monitors, ME));
    }
    return tr;
  }));
  setText($("calls-count"), `(${calls.length})`);
}

// -- drawing ---------------------------------------------------------------------------------

// Deltas: a redraw DRAW_EVERY ms after the last one (at the next animation frame).
function schedule() {
  if (frame !== null) return;
  const wait = drawnAt + DRAW_EVERY - performance.now();
  frame = wait > 0 ? setTimeout(() => requestAnimationFrame(draw), wait) : requestAnimationFrame(draw);
}

// The supervisor's own sorting and filtering: at the next frame.
function drawSoon() {
  dirty.all = true;
  if (frame === null) frame = requestAnimationFrame(draw);
}

function draw() {
  frame = null;
  drawnAt = performance.now();
  const agentsTouched = dirty.all || dirty.figures || dirty.agents.size > 0 || dirty.calls;
  if (agentsTouched) drawAgents();
  if (dirty.all || dirty.figures || dirty.calls || dirty.queues.size) drawQueues();
  if (dirty.all || dirty.calls) drawCalls();
  if (dirty.all || dirty.callbacks) drawCallbacks();
  if (dirty.all || dirty.figures) {
    setText($("figures-at"), floor.figures?.computed_at ? new Date(floor.figures.computed_at).toLocaleTimeString() : NONE);
    drawCharts(floor.figures, $("chart-queue").value);
  }
  if (dirty.all) fillQueueChoices();
  $("switch-banner").hidden = floor.switchUp;
  dirty.agents.clear(); dirty.queues.clear();
  dirty.calls = dirty.callbacks = dirty.figures = dirty.all = false;
  rendered = floor.seq;
  document.body.dataset.renderedSeq = String(rendered);
}

function fillQueueChoices() {
  for (const id of ["filter-queue", "chart-queue"]) {
    const select = $(id);
    const have = new Set([...select.options].map((o) => o.value));
    for (const name of [...floor.queues.keys()].sort()) {
      if (!have.has(name)) select.append(el("option", { value: name }, name));
    }
  }
  const states = $("filter-state");
  if (states.options.length <= 2) {
    for (const value of [STATUS.AVAILABLE, STATUS.ON_BREAK, STATUS.LOGGED_OUT]) {
      states.append(el("option", { value }, wordFor(STATUS_WORDS, value)));
    }
    for (const value of Object.values(STATE)) states.append(el("option", { value }, wordFor(STATE_WORDS, value)));
  }
}

// Once a second: every ticking time, and the attention marks that time can raise.
function tick() {
  const now = floor.now();
  for (const td of document.querySelectorAll("[data-since]")) {
    const text = (td.dataset.prefix || "") + duration(now - Number(td.dataset.since));
    if (td.textContent !== text) td.textContent = text;
  }
  for (const [id, tr] of rows.agents) {
    const agent = floor.agents.get(id);
    if (agent) markAttention(tr, agent);
  }
}

// -- controls --------------------------------------------------------------------------------

for (const button of document.querySelectorAll("#agents th button")) {
  button.addEventListener("click", () => {
    const key = button.dataset.sort;
    sort = { key, dir: sort.key === key ? -sort.dir : 1 };
    for (const th of document.querySelectorAll("#agents th")) th.removeAttribute("aria-sort");
    button.parentElement.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
    drawSoon();
  });
}
for (const id of ["filter-name", "filter-queue", "filter-state"]) {
  $(id).addEventListener("input", drawSoon);
}
$("chart-queue").addEventListener("change", () => drawCharts(floor.figures, $("chart-queue").value));

connectLive({
  everything: true,
  onSnapshot: (s) => { floor.snapshot(s); dirty.all = true; schedule(); },
  onMessage: (m) => {
    const touched = floor.apply(m);
    if (!touched) return;
    if (touched.agent !== undefined && touched.agent !== null) dirty.agents.add(touched.agent);
    if (touched.call) dirty.calls = true;
    if (touched.queue) dirty.queues.add(touched.queue);
    if (touched.callback) dirty.callbacks = true;
    if (touched.figures) dirty.figures = true;
    schedule();
  },
  onStatus: (status) => setText($("live-status"), status),
});
setInterval(tick, 1000);
startPhone();
