// The agent's page: the softphone, status, dial, in-call controls, wrap-up and recent calls.
// Every action goes through the REST API; the buttons follow the call as the switchboard pushes
// it over the live socket (the softphone alone cannot know when the far end answered). The page
// never lies: each snapshot replaces its whole view of the calls, the agent and the link to the
// phone system, so a call that ended while the socket was away leaves the screen.
import { IncomingCard } from "./incoming.js";
import { connectLive } from "./live.js";
import { MonitorNotice } from "./monitored.js";
import { Ringtone } from "./ringtone.js";
import { SESSION, Softphone } from "./softphone.js";
import { PROGRESS, STATE, STATUS, VOCABULARY } from "./vocabulary.js";
import { PROGRESS_WORDS, STATE_WORDS, STATUS_WORDS, outcomeWords, wordFor } from "./words.js";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const phoneWords = {
  connecting: "Connecting…", registered: "Registered", offline: "Offline", refused: "Refused",
  unavailable: "Softphone unavailable", simulated: "Simulated",
};
let current = null;   // the live call on the screen: {id, progress, held, recording, ...}
let wrapping = null;  // the id of the ended call whose disposition the panel asks for
const saved = new Map();  // call id -> disposition saved here (the CDR write may land later)
const known = new Map();  // call id -> the latest news of it (names the wrap-up panel's call)

async function send(method, path, body) {
  const reply = await fetch(path, {
    method, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin",
  });
  let data = {};
  try { data = await reply.json(); } catch { data = { error: `HTTP ${reply.status}` }; }
  if (!reply.ok) {
    const error = new Error(data.error || `HTTP ${reply.status}`);
    error.status = reply.status;
    error.field = data.field;
    throw error;
  }
  return data;
}

function say(id, text) { const box = $(id); box.textContent = text || ""; box.hidden = !text; }
const showError = (text) => say("dial-error", text);
const callPath = (id, action = "") => `/api/calls/${encodeURIComponent(id)}${action && `/${action}`}`;

// The call as the server has it now (a CDR once it ended); null if it cannot say.
async function fetchCall(id) {
  try { return (await send("GET", callPath(id))).call; } catch { return null; }
}

// -- the call ------------------------------------------------------------------------------------

// Every call message carries the call's version, which grows with each change the server
// announces. An HTTP reply can arrive after fresher news from the live socket (the dial's reply
// after "ringing", a hold's reply after the unhold that followed it): the higher version wins.
const endedCalls = new Set();
const versionOf = (call) => call.version ?? -1;   // a CDR from the API has none: the oldest

function isOlderNews(call) {
  if (endedCalls.has(call.id)) return true;
  if (current && call.id !== current.id && call.progress === PROGRESS.ENDED) return true;  // an older call
  return Boolean(current && call.id === current.id && versionOf(call) < versionOf(current));
}

function showCall(call) {
  if (isOlderNews(call)) return;
  known.set(call.id, { ...known.get(call.id), ...call });
  describe(call);
  const over = call.progress === PROGRESS.ENDED;
  $("dial-button").disabled = !over;
  $("hangup-button").hidden = over;
  current = over ? null : call;
  if (over) endedCalls.add(call.id);
  showControls(call);
  if (over) {
    openWrapup(call.id);
    loadRecent();
  }
}

// The progress line: where the call is, or how it ended (its hangup cause on hover).
function describe(call) {
  const line = $("call-progress");
  let text = wordFor(PROGRESS_WORDS, call.progress);
  if (call.progress === PROGRESS.ENDED) {
    const how = outcomeWords(call);
    if (how) text += `: ${how}`;
  }
  line.textContent = text;
  line.title = call.progress === PROGRESS.ENDED && call.cause ? call.cause : "";
  line.dataset.progress = call.progress;
  line.dataset.call = call.id;
}

// The call on screen ended without the page being told (its live socket was away, or a control
// found it over): it leaves the screen at once, then the record says how it ended.
async function endedMeanwhile(call, note, record = null) {
  showCall({ ...call, progress: PROGRESS.ENDED, outcome: null, cause: null, held: false,
             recording: null, transfer: null });
  say("call-note", note);
  record = record || await fetchCall(call.id);
  if (record && $("call-progress").dataset.call === record.id) {
    known.set(record.id, { ...known.get(record.id), ...record });
    describe({ ...record, progress: PROGRESS.ENDED });
    if (wrapping === record.id) nameWrapup(record.id);
  }
}

function showControls(call) {
  const talking = call.progress === PROGRESS.ANSWERED;
  $("in-call").hidden = !talking;
  const hold = $("hold-button");
  hold.textContent = call.held ? "Resume" : "Hold";
  hold.setAttribute("aria-pressed", String(Boolean(call.held)));
  const record = $("record-button");
  record.textContent = call.recording ? "Stop recording" : "Record";
  record.setAttribute("aria-pressed", String(Boolean(call.recording)));
  const flags = [call.held && "on hold", call.recording && "recording"].filter(Boolean);
  $("call-flags").textContent = flags.length ? `Now: ${flags.join(", ")}` : "";
  const transfer = call.transfer;
  const status = $("transfer-status");
  status.textContent = transfer
    ? `Transfer to ${transfer.to}: ${transfer.state}${transfer.cause ? ` (${transfer.cause})` : ""}`
    : "";
  status.dataset.state = transfer ? transfer.state : "";
  $("transfer-button").disabled = Boolean(transfer
    && VOCABULARY.transfer_under_way.includes(transfer.state));
  showConsult(call);
}

// The consult: who, who hears the hold music, and the steps that apply now.
function showConsult(call) {
  const consult = call.consult;
  const underWay = Boolean(consult && VOCABULARY.consult_under_way.includes(consult.state));
  const status = $("consult-status");
  let text = "";
  const threeWay = consult?.state === VOCABULARY.consult_three_way;
  if (threeWay) {
    text = `Three-way call with ${consult.name} and the customer: everyone hears everyone`;
  } else if (consult) {
    text = `Consult with ${consult.name}: ${consult.state.replace("_", " ")}`;
    if (underWay && consult.on_hold) {
      text += consult.on_hold === "customer" ? " (the customer is on hold)"
        : ` (${consult.name} is on hold; you talk to the customer)`;
    }
    if (consult.cause && !underWay) text += ` (${consult.cause})`;
  }
  status.textContent = text;
  status.dataset.state = consult ? consult.state : "";
  const talkingToBoth = underWay && ["consulting", "swapped"].includes(consult.state);
  $("consult-steps").hidden = !underWay;
  $("consult-swap").disabled = !talkingToBoth;
  $("consult-complete").disabled = !talkingToBoth;
  $("consult-three-way").disabled = !talkingToBoth;
  // In a three-way call the only step left is to leave it.
  for (const id of ["consult-swap", "consult-complete", "consult-three-way", "consult-cancel"]) {
    $(id).hidden = threeWay;
  }
  $("consult-leave").hidden = !threeWay;
  $("consult-swap").textContent = consult?.state === "swapped"
    ? `Talk to ${consult.name}` : "Talk to the customer";
  for (const id of ["consult-agent-button", "consult-number-button", "hold-button",
                    "record-button", "transfer-button"]) {
    if (underWay) $(id).disabled = true;
    else if (id !== "transfer-button") $(id).disabled = false;
  }
  const toQueue = $("transfer-queue-button");   // present when the site has queues
  if (toQueue) toQueue.disabled = underWay;
}

// An action on the live call; its answer is the call's new state (the live socket says it too).
// A 409 may mean the call is over (the server says "already ended"): ask where it is.
async function act(action, body) {
  if (!current) return;
  const call = current;
  showError("");
  try {
    const reply = await send("POST", callPath(call.id, action), body);
    if (reply.call && current && reply.call.id === current.id) showCall(reply.call);
    return reply;
  } catch (e) {
    if (e.status === 409) {
      const record = await fetchCall(call.id);
      if (record?.progress === PROGRESS.ENDED) {
        return endedMeanwhile(call, "This call had already ended.", record);
      }
    }
    showError(e.message);
  }
}

$("dial-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  say("call-note", "");
  $("dial-button").disabled = true;
  closeWrapup();
  try {
    showCall((await send("POST", "/api/calls", { number: $("number").value.trim() })).call);
  } catch (e) {
    showError(e.message);
    $("dial-button").disabled = false;
  }
});

$("hangup-button").addEventListener("click", () => act("hangup"));
$("hold-button").addEventListener("click", () => act(current?.held ? "unhold" : "hold"));
$("record-button").addEventListener("click", () =>
  act("record", { action: current?.recording ? "stop" : "start" }));
$("transfer-button").addEventListener("click", () => {
  const number = $("transfer-number").value.trim();
  if (!number) return showError("Type the number to transfer to.");
  act("transfer", { number });
});

$("transfer-queue-button")?.addEventListener("click", () =>
  act("transfer-queue", { queue: $("transfer-queue").value }));

function consultTo(kind) {
  const to = $("consult-to").value.trim();
  if (!to) return showError("Type the extension or number to consult.");
  act("consult", kind === "agent" ? { extension: to } : { number: to });
}
$("consult-agent-button").addEventListener("click", () => consultTo("agent"));
$("consult-number-button").addEventListener("click", () => consultTo("number"));
for (const step of ["swap", "complete", "three-way", "leave", "cancel"]) {
  $(`consult-${step}`).addEventListener("click", () => act(`consult/${step}`));
}

// The dial pad: tones into the call while talking, digits into the number field otherwise.
$("dialpad").addEventListener("click", async (event) => {
  const key = event.target.closest("button[data-key]")?.dataset.key;
  if (!key) return;
  if (current && current.progress === PROGRESS.ANSWERED) {
    if (await act("dtmf", { digits: key })) $("dtmf-sent").textContent += key;
  } else {
    $("number").value += key;
  }
});

// -- wrap-up and recent calls -----------------------------------------------------------------

function openWrapup(callId) {
  if (wrapping === callId) return;
  wrapping = callId;
  $("wrapup").dataset.call = callId;
  nameWrapup(callId);
  if (!known.has(callId)) {       // after a reload: only the agent's call id is known
    fetchCall(callId).then((record) => {
      if (!record) return;
      known.set(callId, record);
      if (wrapping === callId) nameWrapup(callId);
    });
  }
  $("disposition").value = "";
  $("notes").value = "";
  offerChoices([]);
  loadChoices(callId);
  sayWrapupError(null);
  say("wrapup-saved", "");
  $("wrapup").hidden = false;
  $("dtmf-sent").textContent = "";
}

// The dispositions this call may be given (the admins' global list and its queue's), asked
// each time the wrap-up opens so an admin's change shows at the next one. None: free text.
async function loadChoices(callId) {
  let choices = [];
  try {
    choices = (await send("GET", callPath(callId, "dispositions"))).dispositions;
  } catch { return; }    // free text, as before lists existed
  if (wrapping === callId) offerChoices(choices);
}

function offerChoices(choices) {
  const select = $("disposition-choice");
  const listed = choices.length > 0;
  select.replaceChildren(...choices.map((choice) => {
    const option = new Option(choice.requires_notes ? `${choice.label} (notes required)`
      : choice.label, choice.code);
    option.dataset.requiresNotes = choice.requires_notes ? "1" : "";
    return option;
  }));
  if (listed) select.prepend(new Option("Choose…", "", true, true));
  select.hidden = !listed;
  select.required = listed;
  $("disposition").hidden = listed;
  $("disposition").required = !listed;
  $("disposition-label").htmlFor = listed ? "disposition-choice" : "disposition";
  showNotesRule();
}

function showNotesRule() {
  const select = $("disposition-choice");
  const option = select.hidden ? null : select.selectedOptions[0];
  $("notes-required").hidden = !option?.dataset.requiresNotes;
}
$("disposition-choice").addEventListener("change", showNotesRule);

// A refusal next to the field it names (disposition or notes), else under the form.
function sayWrapupError(error) {
  const field = ["disposition", "notes"].includes(error?.field) ? error.field : null;
  const reason = field ? error.message.replace(`${field}: `, "") : "";   // beside it already
  say("disposition-error", field === "disposition" ? reason : "");
  say("notes-error", field === "notes" ? reason : "");
  say("wrapup-error", error && !field ? error.message : "");
}

function closeWrapup() { wrapping = null; $("wrapup").hidden = true; }

// The call by its number and time, as the agent remembers it (not its id).
function nameWrapup(callId) {
  const call = known.get(callId);
  let name = "Your last call";
  if (call?.number) {
    name = `${call.direction === "inbound" ? "Call from" : "Call to"} ${call.number}`;
    const when = callStarted(call);
    if (when) name += ` at ${when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
  }
  $("wrapup-call").textContent = name;
}

// A live call message carries `created` (seconds since the epoch), a CDR `created_at` (ISO).
function callStarted(call) {
  if (typeof call.created === "number" && call.created > 0) return new Date(call.created * 1000);
  return call.created_at ? new Date(call.created_at) : null;
}

$("wrapup").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!wrapping) return;
  try {
    const listed = !$("disposition-choice").hidden;
    const disposition = listed ? $("disposition-choice").value : $("disposition").value;
    const { call } = await send("POST", callPath(wrapping, "disposition"),
      { disposition, notes: $("notes").value });
    saved.set(call.id, call.disposition);
    closeWrapup();
    say("wrapup-saved", `Saved: ${call.disposition}`);
    loadRecent();
  } catch (e) { sayWrapupError(e); }
});

function cell(text, title) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  if (title) td.title = title;
  return td;
}

// An ended call's time opens its own page (timeline, recordings).
function recordLink(callId, text) {
  const td = document.createElement("td");
  const link = document.createElement("a");
  link.href = `/records/${encodeURIComponent(callId)}`;
  link.textContent = text;
  td.append(link);
  return td;
}

async function loadRecent() {
  const body = $("recent-calls");
  try {
    const { calls } = await send("GET", "/api/calls?mine=1&limit=10");
    body.replaceChildren(...calls.map((call) => {
      const row = document.createElement("tr");
      row.dataset.call = call.id;
      const when = call.created_at ? new Date(call.created_at).toLocaleString() : "";
      const talk = call.talk_seconds != null ? `${Math.round(call.talk_seconds)} s` : "";
      const over = call.progress === PROGRESS.ENDED;
      const ended = over ? outcomeWords(call) : wordFor(PROGRESS_WORDS, call.progress);
      const disposition = call.disposition ?? saved.get(call.id);
      row.append(over ? recordLink(call.id, when) : cell(when), cell(call.number), cell(talk),
                 cell(ended, over ? call.cause : ""), cell(disposition));
      return row;
    }));
    if (!calls.length) {
      const row = document.createElement("tr");
      const empty = cell("No calls yet.");
      empty.colSpan = 5;
      row.append(empty);
      body.replaceChildren(row);
    }
    body.dataset.count = String(calls.length);
  } catch (e) {
    body.replaceChildren();
    showError(`Recent calls: ${e.message}`);
  }
}

// -- the incoming-call card -----------------------------------------------------------------------

const incoming = new IncomingCard({
  elements: {
    card: $("incoming"), title: $("incoming-title"), queue: $("incoming-queue"),
    from: $("incoming-from"), visitor: $("incoming-visitor"),
    waited: $("incoming-waited"), auto: $("incoming-auto"), buttons: $("incoming-buttons"),
    answer: $("answer-button"), decline: $("decline-button"), note: $("offer-note"),
  },
  onAnswer: () => phone.answer(),
  onDecline: () => phone.decline(),
  ringtone: new Ringtone(),
});

// -- status and the live socket -------------------------------------------------------------------

let agentShown = null;

function showAgent(agent) {
  agentShown = agent;
  const status = $("status");
  // Why the agent is On break when the switchboard put it there ("missed calls"); choosing
  // Available clears the reason on the server.
  const reason = agent.status === STATUS.ON_BREAK && agent.break_reason;
  status.textContent = wordFor(STATUS_WORDS, agent.status) + (reason ? ` — ${reason}` : "");
  status.dataset.status = agent.status;
  $("state").textContent = wordFor(STATE_WORDS, agent.state);
  $("registered").textContent = agent.registered ? "Registered" : "Not registered";
  $("status-select").value = agent.status;
  if (agent.state === STATE.WRAP_UP && agent.call_id && !current) openWrapup(agent.call_id);
}

$("status-select").addEventListener("change", async () => {
  try { showAgent((await send("PUT", "/api/agents/me/status", { status: $("status-select").value })).agent); }
  catch (e) {
    showError(e.message);
    if (agentShown) $("status-select").value = agentShown.status;   // unchanged
  }
});

// The link between the controller and FreeSWITCH (the softphone's own state is beside it): while
// it is down nothing said about calls can be trusted. Unknown (an old server) shows nothing.
function showSwitch(state) {
  $("switch-banner").hidden = !(state && state.connected === false);
}

const monitored = new MonitorNotice($("monitor-notice"));

connectLive({
  onSnapshot: (snapshot) => {
    snapshot.agents.forEach(showAgent);
    monitored.snapshot(snapshot.monitors);
    // The snapshot lists the offers still ringing: the card shows them, or nothing.
    const offers = snapshot.offers || [];
    if (!offers.length) incoming.forget();
    offers.forEach((offer) => incoming.offer(offer));
    showSwitch(snapshot.switch);
    const live = snapshot.calls.find((call) => call.progress !== PROGRESS.ENDED);
    if (current && current.id !== live?.id) {
      endedMeanwhile(current, "This call ended while the page was not connected.");
    }
    if (live) showCall(live);
  },
  onMessage: (message) => {
    if (message.type === "agent") showAgent(message.agent);
    else if (message.type === "call") showCall(message.call);
    else if (message.type === "switch") showSwitch(message.switch);
    else if (message.type === "offer") incoming.offer(message.offer);
    else if (message.type === "monitors") monitored.message(message);
  },
  onStatus: (status) => { $("live-status").textContent = status; },
});

// -- the softphone ------------------------------------------------------------------------------

function showPhone(state, detail, retryIn) {
  const line = $("softphone-status");
  line.dataset.state = state;
  let text = phoneWords[state] || state;
  if (state === "registered" && detail) text += ` as ${detail}`;
  if (state === "simulated") text += ": the simulator registers your extension and plays the customer";
  if (retryIn) text += ` (retrying in ${Math.ceil(retryIn / 1000)} s)`;
  line.textContent = text;
  say("softphone-error", state === "registered" || state === "simulated" || state === "connecting"
    ? "" : detail);
}

async function softphoneConfig() {
  const reply = await fetch("/api/softphone", { credentials: "same-origin" });
  if (reply.status === 404) return null;   // this controller issues no SIP credential
  if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
  return reply.json();
}

// Video calls: the agent's camera goes with them unless this browser was told otherwise.
const CAMERA_CHOICE = "callcenter.agent.use-camera";
$("use-camera").checked = localStorage.getItem(CAMERA_CHOICE) !== "off";
$("use-camera").addEventListener("change", () => {
  localStorage.setItem(CAMERA_CHOICE, $("use-camera").checked ? "on" : "off");
});

function showCameraButton({ sending }) {
  const button = $("camera-button");
  button.hidden = !sending;
  button.setAttribute("aria-pressed", "false");
  button.textContent = "Camera off";
}

const phone = new Softphone({
  fetchConfig: async () => {
    const config = await softphoneConfig();
    if (!config) throw new Error("the controller has no softphone credential for you");
    return config;
  },
  audio: $("remote-audio"),
  video: $("remote-video"),
  useCamera: () => $("use-camera").checked,
  onVideo: showCameraButton,
  onState: showPhone,
  onIncoming: ({ from, auto }) => {
    if (!auto) incoming.phoneRings(from);   // the controller's auto-answer call: answered already
  },
  onSession: (what, detail) => {
    incoming.phoneStops();
    if (what === SESSION.FAILED) say("softphone-error", detail);
  },
});
$("mute-button").addEventListener("click", () => {
  const muted = $("mute-button").getAttribute("aria-pressed") !== "true";
  phone.setMuted(muted);
  $("mute-button").setAttribute("aria-pressed", String(muted));
  $("mute-button").textContent = muted ? "Unmute" : "Mute";
});

$("camera-button").addEventListener("click", () => {
  const off = $("camera-button").getAttribute("aria-pressed") !== "true";
  phone.setCameraOff(off);
  $("camera-button").setAttribute("aria-pressed", String(off));
  $("camera-button").textContent = off ? "Camera on" : "Camera off";
});
window.softphone = phone;   // for diagnostics from the browser console (and the browser tests)

// Logging out ends the phone first: it unregisters while its credential is still valid, so the
// switch stops sending calls here at once (the controller then revokes the credential and flushes
// the registration anyway). A phone server that does not answer delays logout by 2 s at most.
const LOGOUT_UNREGISTER_MS = 2000;
let phoneStarted = false;   // a simulated or unavailable phone has nothing to unregister
const logoutForm = document.querySelector('form[action$="/logout"]');
logoutForm?.addEventListener("submit", async (event) => {
  event.preventDefault();
  logoutForm.querySelector("button").disabled = true;
  if (phoneStarted) {
    await Promise.race([phone.stop(), new Promise((done) => setTimeout(done, LOGOUT_UNREGISTER_MS))]);
  }
  logoutForm.submit();      // submit() fires no submit event: no loop
});

async function startPhone() {
  let config = null;
  try { config = await softphoneConfig(); } catch (e) { config = { error: e.message }; }
  // The credential's own word first; without the endpoint, the page knows the switch it runs on.
  const simulated = config ? config.simulated : $("phone").dataset.simulated === "true";
  if (simulated) {
    showPhone("simulated");
  } else if (!config) {
    showPhone("unavailable", "This controller issues no SIP credential for the softphone yet.");
  } else {
    phoneStarted = true;
    phone.start();
  }
}

loadRecent();
startPhone();
