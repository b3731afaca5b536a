// The agent's page: status, dial, hang up, and the call's progress as the switchboard pushes it
// over the live socket (the softphone alone cannot know when the far end answered).
import { connectLive } from "./live.js";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const words = {
  dialing_agent: "Ringing your phone…", dialing: "Dialling the customer…",
  ringing: "The customer's phone is ringing", early_media: "Connecting (carrier audio)…",
  answered: "Answered: you are talking", ended: "Call ended",
};
const outcomes = {
  answered: "the call ended", busy: "the line was busy", no_answer: "no answer",
  failed: "the call failed", cancelled: "you hung up before the answer",
  agent_no_answer: "your phone did not answer", agent_not_registered: "your phone is not registered",
};
let current = null;  // the id of the call on the screen while it lasts

async function send(method, path, body) {
  const reply = await fetch(path, {
    method, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin",
  });
  let data = {};
  try { data = await reply.json(); } catch (e) { data = { error: `HTTP ${reply.status}` }; }
  if (!reply.ok) throw new Error(data.error || `HTTP ${reply.status}`);
  return data;
}

function showError(text) { const box = $("dial-error"); box.textContent = text; box.hidden = !text; }

function showCall(call) {
  if (current && call.id !== current && call.progress === "ended") return;  // an older call
  let text = words[call.progress] || call.progress;
  if (call.progress === "ended") {
    text += `: ${outcomes[call.outcome] || call.outcome || ""}`;
    if (call.cause && call.outcome !== "answered") text += ` (${call.cause})`;
  }
  const line = $("call-progress");
  line.textContent = text;
  line.dataset.progress = call.progress;
  line.dataset.call = call.id;
  const over = call.progress === "ended";
  $("dial-button").disabled = !over;
  $("hangup-button").hidden = over;
  current = over ? null : call.id;
}

function showAgent(agent) {
  $("status").textContent = agent.status.replace("_", " ");
  $("state").textContent = agent.state.replace("_", " ");
  $("registered").textContent = agent.registered ? "Registered" : "Not registered";
  $("status-select").value = agent.status;
}

$("dial-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  $("dial-button").disabled = true;
  try {
    showCall((await send("POST", "/api/calls", { number: $("number").value.trim() })).call);
  } catch (e) {
    showError(e.message);
    $("dial-button").disabled = false;
  }
});

$("hangup-button").addEventListener("click", async () => {
  if (!current) return;
  try { await send("POST", `/api/calls/${encodeURIComponent(current)}/hangup`); }
  catch (e) { showError(e.message); }
});

$("status-select").addEventListener("change", async () => {
  try { showAgent((await send("PUT", "/api/agents/me/status", { status: $("status-select").value })).agent); }
  catch (e) { showError(e.message); }
});

connectLive({
  onSnapshot: (snapshot) => {
    snapshot.agents.forEach(showAgent);
    const live = snapshot.calls.find((call) => call.progress !== "ended");
    if (live) showCall(live);
  },
  onMessage: (message) => {
    if (message.type === "agent") showAgent(message.agent);
    else if (message.type === "call") showCall(message.call);
  },
  onStatus: (status) => { $("live-status").textContent = status; },
});
