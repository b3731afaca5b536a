// The supervisor's actions on the dashboard: their own softphone (the agent page's Softphone
// module), Listen / Whisper / Barge / Leave / Hang up per call, and an agent's status. The page
// changes when the server's live messages come; a refused action is said in the server's words.

import { Softphone } from "./softphone.js";
import { STATUS } from "./vocabulary.js";

const $ = (id) => document.getElementById(id);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const MODES = [["listen", "Listen"], ["whisper", "Whisper"], ["barge", "Barge"]];
const MODE_WORDS = { listen: "listening", whisper: "whispering to the agent", barge: "barging in" };

export function say(text, failed = false) {
  const status = $("supervise-status");
  status.textContent = text;
  status.className = failed ? "error" : "flash";
  status.hidden = !text;
}

// One request; its JSON answer, or an Error carrying the server's message.
export async function act(method, path, body) {
  const reply = await fetch(path, {
    method, credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = {};
  try { data = await reply.json(); } catch { data = {}; }
  if (!reply.ok) throw new Error(data.error || `HTTP ${reply.status}`);
  return data;
}

async function attempt(what, run) {
  say("");
  try { await run(); } catch (error) { say(`Could not ${what}: ${error.message}`, true); }
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

// Who listens in on a call, in words ("sue: whispering to the agent").
export function monitorWords(monitors) {
  return (monitors || []).map((m) => `${m.supervisor}: ${m.answered ? MODE_WORDS[m.mode] || m.mode
    : "ringing your phone"}`).join("; ");
}

// The Act cell of a call's row: a mode button for each mode (the current one pressed), Leave
// while I listen, and Hang up.
export function callActions(call, monitors, me) {
  const mine = (monitors || []).find((m) => m.user_id === me);
  const cell = document.createDocumentFragment();
  const path = `/api/supervisor/calls/${encodeURIComponent(call.id)}`;
  for (const [mode, label] of MODES) {
    const b = button(label, () => attempt(`${label.toLowerCase()}`, () =>
      act(mine ? "PUT" : "POST", `${path}/monitor`, { mode })));
    b.dataset.mode = mode;
    b.setAttribute("aria-pressed", String(Boolean(mine && mine.mode === mode)));
    cell.append(b);
  }
  if (mine) cell.append(button("Leave", () => attempt("leave", () => act("DELETE", `${path}/monitor`))));
  cell.append(button("Hang up", () => {
    if (confirm(`Hang up the call with ${call.number || "the caller"}?`)) {
      attempt("hang up", () => act("POST", `${path}/hangup`));
    }
  }));
  return cell;
}

// Move / Offer for a caller waiting in `queue`: to another queue's line (keeping its place by
// entry time), or ringing a chosen free agent now. `queues()`: every queue's name; `freeAgents()`:
// the agents free to take a call now ({id, name}); both asked when the button is pressed.
export function callerActions(callId, queue, queues, freeAgents) {
  const path = `/api/supervisor/calls/${encodeURIComponent(callId)}`;
  const cell = document.createDocumentFragment();
  const move = button("Move", () => {
    const others = queues().filter((name) => name !== queue);
    const target = prompt(`Move the caller to which queue? (${others.join(", ")})`, others[0] || "");
    if (target) attempt("move the caller", () => act("POST", `${path}/move`, { queue: target.trim() }));
  });
  const offer = button("Offer", () => {
    const free = freeAgents();
    const name = prompt(`Ring which agent now? (${free.map((a) => a.name).join(", ") || "none is free"})`,
      free[0]?.name || "");
    if (!name) return;
    const agent = free.find((a) => a.name === name.trim());
    if (!agent) { say(`Could not offer the caller: ${name} is not a free agent`, true); return; }
    attempt("offer the caller", () => act("POST", `${path}/offer`, { agent_id: agent.id }));
  });
  move.dataset.act = "move";
  offer.dataset.act = "offer";
  cell.append(move, offer);
  return cell;
}

// The Set status cell of an agent's row.
export function agentActions(agent) {
  const path = `/api/supervisor/agents/${agent.id}/status`;
  const cell = document.createDocumentFragment();
  cell.append(button("Available", () => attempt("set the status",
    () => act("PUT", path, { status: STATUS.AVAILABLE }))));
  cell.append(button("On break", () => {
    const reason = prompt(`Why is ${agent.name} on break? (optional)`, "");
    if (reason === null) return;
    attempt("set the status", () => act("PUT", path, { status: STATUS.ON_BREAK, reason }));
  }));
  cell.append(button("Log out", () => {
    if (confirm(`Log ${agent.name} out? Their pages close and their softphone stops until they log in again.`)) {
      attempt("log the agent out", () => act("PUT", path, { status: STATUS.LOGGED_OUT }));
    }
  }));
  return cell;
}

// -- my softphone ------------------------------------------------------------------------------

function showPhone(state, detail) {
  const line = $("softphone-status");
  line.dataset.state = state;
  line.textContent = state === "registered" ? `Registered as ${detail}` : detail ? `${state}: ${detail}` : state;
  $("softphone-error").hidden = true;
}

async function softphoneConfig() {
  const reply = await fetch("/api/softphone", { credentials: "same-origin" });
  let data = {};
  try { data = await reply.json(); } catch { data = {}; }
  if (!reply.ok) throw new Error(data.error || `HTTP ${reply.status}`);
  return data;
}

export async function startPhone() {
  let config;
  try { config = await softphoneConfig(); } catch (error) {
    showPhone("unavailable", error.message);
    return null;
  }
  if (config.simulated) { showPhone("simulated", "the simulator plays your phone"); return null; }
  const phone = new Softphone({ fetchConfig: softphoneConfig, audio: $("remote-audio"), onState: showPhone });
  window.softphone = phone;    // for the browser tests, as on the agent's page
  phone.start();
  return phone;
}
