// What the agent's page calls things: where a call is, how it ended, the agent's status and
// state, in the words people use. The words come from the server with its vocabulary
// (vocabulary.js). FreeSWITCH's hangup cause (NORMAL_CLEARING ...) is no word for a person: the
// page puts it on hover, and the API keeps it.
import { OUTCOME, VOCABULARY, WORDS } from "./vocabulary.js";

export const {
  progress: PROGRESS_WORDS, status: STATUS_WORDS, state: STATE_WORDS, outcome: OUTCOME_WORDS,
  callback_state: CALLBACK_STATE_WORDS,
} = WORDS;

// How an ended call ended, e.g. "Busy", "Failed (503 Service Unavailable)"; "" when unknown.
// `call` is a live call message or a CDR from the API: outcome, sip_status, sip_reason, cause.
// Records written before calls carried an outcome have only the cause; a bare "failed" is made
// more precise by it too (the server's outcome_of_cause).
export function outcomeWords(call) {
  const ofCause = VOCABULARY.outcome_of_cause[call.cause];
  let outcome = call.outcome;
  if ((!outcome || (outcome === OUTCOME.FAILED && !call.sip_status)) && ofCause) outcome = ofCause;
  if (!outcome && call.cause) outcome = call.answered_at ? OUTCOME.ANSWERED : OUTCOME.FAILED;
  if (!outcome) return "";
  let text = wordFor(WORDS.outcome, outcome);
  if (outcome === OUTCOME.FAILED && call.sip_status) {
    text += ` (${[call.sip_status, call.sip_reason].filter(Boolean).join(" ")})`;
  }
  return text;
}

// What a consult or a blind transfer under way does to the call, in the vocabulary's words:
// "consulting bob (1001) (customer on hold)", "three-way with 1002", "transferring to 1002";
// "" when neither is under way. Any state the server sends reads as something.
export function handoverWords(call) {
  const consult = call.consult;
  if (consult && VOCABULARY.consult_under_way.includes(consult.state)) {
    const who = consult.agent_id != null && consult.name && consult.name !== consult.to
      ? `${consult.name} (${consult.to})` : consult.to;
    let text = `${wordFor(WORDS.consult, consult.state)} ${who}`;
    if (consult.on_hold) {
      const held = wordFor(WORDS.consult_on_hold, consult.on_hold);
      text += consult.on_hold === "customer" ? ` (${held})` : ` (${consult.name || consult.to} ${held})`;
    }
    return text;
  }
  const transfer = call.transfer;
  if (transfer && VOCABULARY.transfer_under_way.includes(transfer.state)) {
    return `${wordFor(WORDS.transfer, transfer.state)} ${transfer.to}`;
  }
  return "";
}

export const wordFor = (table, value) => table[value] || String(value ?? "").replaceAll("_", " ");
