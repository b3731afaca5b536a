// The agent's page: status, dial, and the call's progress as the switchboard reports it.
"use strict";
(function () {
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
    let text = words[call.progress] || call.progress;
    if (call.progress === "ended") {
      text += `: ${outcomes[call.outcome] || call.outcome || ""}`;
      if (call.cause && call.outcome !== "answered") text += ` (${call.cause})`;
    }
    $("call-progress").textContent = text;
    $("call-progress").dataset.progress = call.progress;
    $("dial-button").disabled = call.progress !== "ended";
    $("hangup-button").hidden = call.progress === "ended";
    current = call.progress === "ended" ? null : call.id;
  }

  let current = null;
  $("hangup-button") && $("hangup-button").addEventListener("click", async () => {
    if (!current) return;
    try { showCall((await send("POST", `/api/calls/${encodeURIComponent(current)}/hangup`)).call); }
    catch (e) { showError(e.message); }
  });

  async function follow(callId) {
    // Until the live socket drives this page, ask for the call's progress once a second.
    for (;;) {
      let call;
      try { call = (await send("GET", `/api/calls/${encodeURIComponent(callId)}`)).call; }
      catch (e) { showError(e.message); $("dial-button").disabled = false; return; }
      showCall(call);
      if (call.progress === "ended") return;
      await new Promise((done) => setTimeout(done, 1000));
    }
  }

  const form = $("dial-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError("");
      $("dial-button").disabled = true;
      try {
        const { call } = await send("POST", "/api/calls", { number: $("number").value.trim() });
        showCall(call);
        follow(call.id);
      } catch (e) {
        showError(e.message);
        $("dial-button").disabled = false;
      }
    });
  }
  const status = $("status-select");
  if (status) {
    status.addEventListener("change", async () => {
      try {
        const { agent } = await send("PUT", "/api/agents/me/status", { status: status.value });
        $("status").textContent = agent.status.replace("_", " ");
      } catch (e) { showError(e.message); }
    });
  }
})();
