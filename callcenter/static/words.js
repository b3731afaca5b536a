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

export const wordFor = (table, value) => table[value] || String(value ?? "").replaceAll("_", " ");
