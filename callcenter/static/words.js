// What the agent's page calls things: where a call is, how it ended, the agent's status and
// state, in the words people use. FreeSWITCH's hangup cause (NORMAL_CLEARING ...) is no word for a person: the
// page puts it on hover, and the API keeps it.

export const PROGRESS_WORDS = {
  dialing_agent: "Ringing your phone…", dialing: "Dialling the customer…",
  ringing: "The customer's phone is ringing", early_media: "Connecting (carrier audio)…",
  answered: "Answered: you are talking", ended: "Call ended",
};

const OUTCOMES = {
  answered: "Answered", busy: "Busy", no_answer: "No answer", cancelled: "Cancelled",
  agent_no_answer: "Agent did not answer", agent_not_registered: "Your phone is not registered",
  cut_off: "Cut off (the phone system restarted)", failed: "Failed",
};

// Records written before calls carried an outcome have only the cause; a bare "failed" is made
// more precise by it too. LOSE_RACE is how the controller closes a call FreeSWITCH lost.
const OUTCOME_OF_CAUSE = {
  USER_BUSY: "busy", NO_ANSWER: "no_answer", NO_USER_RESPONSE: "no_answer",
  ALLOTTED_TIMEOUT: "no_answer", ORIGINATOR_CANCEL: "cancelled",
  USER_NOT_REGISTERED: "agent_not_registered", LOSE_RACE: "cut_off",
};

// How an ended call ended, e.g. "Busy", "Failed (503 Service Unavailable)"; "" when unknown.
// `call` is a live call message or a CDR from the API: outcome, sip_status, sip_reason, cause.
export function outcomeWords(call) {
  let outcome = call.outcome;
  if ((!outcome || (outcome === "failed" && !call.sip_status)) && OUTCOME_OF_CAUSE[call.cause]) {
    outcome = OUTCOME_OF_CAUSE[call.cause];
  }
  if (!outcome && call.cause) outcome = call.answered_at ? "answered" : "failed";
  if (!outcome) return "";
  let text = OUTCOMES[outcome] || outcome.replaceAll("_", " ");
  if (outcome === "failed" && call.sip_status) {
    text += ` (${[call.sip_status, call.sip_reason].filter(Boolean).join(" ")})`;
  }
  return text;
}

export const STATUS_WORDS = { logged_out: "Logged out", available: "Available", on_break: "On break" };

export const STATE_WORDS = {
  idle: "Idle", reserved: "Reserved", ringing: "Ringing", in_call: "In call", wrap_up: "Wrap-up",
};

export const wordFor = (table, value) => table[value] || String(value ?? "").replaceAll("_", " ");
