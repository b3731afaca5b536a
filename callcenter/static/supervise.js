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
// the agents free to take a call now ({id, name}); both asked when the button is pressed, and
// chosen in a small dialog (the row may be drawn again meanwhile: the dialog is the page's own).
export function callerActions(callId, queue, queues, freeAgents) {
  const path = `/api/supervisor/calls/${encodeURIComponent(callId)}`;
  const cell = document.createDocumentFragment();
  const move = button("Move", (event) => choose(event.currentTarget, {
    title: "Move the waiting caller",
    label: "To the line of queue",
    go: "Move",
    none: "There is no other queue.",
    choices: queues().filter((name) => name !== queue).map((name) => ({ value: name, text: name })),
    send: async (name) => {
      await act("POST", `${path}/move`, { queue: name });
      return `The caller waits in ${name}'s line now, keeping their place by when they called.`;
    },
  }));
  const offer = button("Offer", (event) => choose(event.currentTarget, {
    title: "Offer the waiting caller now",
    label: "Ring the phone of",
    go: "Ring",
    none: "No agent is Available and free now.",
    choices: freeAgents().map((a) => ({ value: String(a.id), text: a.name })),
    send: async (id) => {
      await act("POST", `${path}/offer`, { agent_id: Number(id) });
      return "The agent's phone rings for the caller.";
    },
  }));
  move.dataset.act = "move";
  offer.dataset.act = "offer";
  move.setAttribute("aria-haspopup", "dialog");
  offer.setAttribute("aria-haspopup", "dialog");
  cell.append(move, offer);
  return cell;
}

// The picker: a modal <dialog> (focus stays inside; Escape or Cancel closes it and nothing is
// sent) with one labelled select, or one text field (`text`: an optional free answer); a
// refusal is said inside it, in the server's words, and the dialog stays open to choose again.
let picker = null;

function pickerDialog() {
  if (picker) return picker;
  const dialog = document.createElement("dialog");
  dialog.id = "caller-picker";
  dialog.className = "picker";
  dialog.setAttribute("aria-labelledby", "caller-picker-title");
  dialog.innerHTML = `<form>
    <h2 id="caller-picker-title"></h2>
    <label for="caller-picker-choice"></label>
    <select id="caller-picker-choice"></select>
    <input id="caller-picker-text" type="text" autocomplete="off" hidden>
    <p id="caller-picker-none" class="muted" hidden></p>
    <p id="caller-picker-error" class="error" role="alert" hidden></p>
    <div class="row">
      <button id="caller-picker-go" type="submit"></button>
      <button id="caller-picker-cancel" type="button" class="secondary">Cancel</button>
    </div>
  </form>`;
  document.body.append(dialog);
  const form = dialog.querySelector("form");
  picker = { dialog, form, choice: $("caller-picker-choice"), text: $("caller-picker-text"),
    go: $("caller-picker-go"),
    error: $("caller-picker-error"), none: $("caller-picker-none"), pending: null, opener: null };
  $("caller-picker-cancel").addEventListener("click", () => dialog.close());
  // Enter on the select chooses, as it would in a text field (a select has no implicit submit).
  picker.choice.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); form.requestSubmit(); }
  });
  // The close event is a queued task: after a quick Escape and reopen it can arrive when the
  // dialog is open again with a new choice, which it must not clear.
  dialog.addEventListener("close", () => {
    if (dialog.open) return;
    picker.pending = null;
    if (picker.opener?.isConnected) picker.opener.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const pending = picker.pending;
    const value = pending?.text ? picker.text.value.trim() : picker.choice.value;
    if (!pending || (!pending.text && !value)) return;
    picker.go.disabled = true;
    picker.error.hidden = true;
    try {
      const done = await pending.send(value);
      if (picker.pending === pending) dialog.close();
      say(done);
    } catch (error) {
      picker.error.textContent = `Could not ${pending.go.toLowerCase()}: ${error.message}`;
      picker.error.hidden = false;
      (pending.text ? picker.text : picker.choice).setAttribute("aria-invalid", "true");
    } finally {
      picker.go.disabled = !pending.text && !picker.choice.value;
    }
  });
  return picker;
}

function choose(opener, pending) {
  const p = pickerDialog();
  p.pending = pending;
  p.opener = opener;
  const choices = pending.choices || [];
  const field = pending.text ? p.text : p.choice;
  $("caller-picker-title").textContent = pending.title;
  const label = p.form.querySelector("label");
  label.textContent = pending.label;
  label.htmlFor = field.id;
  p.choice.replaceChildren(...choices.map(({ value, text }) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    return option;
  }));
  p.text.value = "";
  p.text.placeholder = pending.text?.placeholder || "";
  field.removeAttribute("aria-invalid");
  p.choice.hidden = Boolean(pending.text) || !choices.length;
  p.text.hidden = !pending.text;
  p.none.textContent = pending.none || "";
  p.none.hidden = Boolean(pending.text) || Boolean(choices.length);
  p.error.hidden = true;
  p.go.textContent = pending.go;
  p.go.disabled = !pending.text && !choices.length;
  say("");
  p.dialog.showModal();
  (pending.text || choices.length ? field : $("caller-picker-cancel")).focus();
}

// The Set status cell of an agent's row.
export function agentActions(agent) {
  const path = `/api/supervisor/agents/${agent.id}/status`;
  const cell = document.createDocumentFragment();
  cell.append(button("Available", () => attempt("set the status",
    () => act("PUT", path, { status: STATUS.AVAILABLE }))));
  const onBreak = button("On break", (event) => choose(event.currentTarget, {
    title: `Put ${agent.name} on break`,
    label: "Why (optional, the agent sees it)",
    go: "On break",
    text: { placeholder: "e.g. coaching" },     // too long: the server says so, in the dialog
    send: async (reason) => {
      await act("PUT", path, { status: STATUS.ON_BREAK, reason });
      return `${agent.name} is on break${reason ? ` (${reason})` : ""}.`;
    },
  }));
  onBreak.setAttribute("aria-haspopup", "dialog");
  cell.append(onBreak);
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
