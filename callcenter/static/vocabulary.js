// The server's vocabulary (callcenter/web/vocabulary.py), rendered into every page as JSON by
// base.html: the values it sends about agents and calls, by name (PROGRESS.ENDED, never a string
// of our own), the words people read for them, and the rule for a phone number. The scripts keep
// no copy of it, so they follow the server when it changes.

const element = globalThis.document?.getElementById("vocabulary");
if (!element) throw new Error("this page carries no #vocabulary from the server");

export const VOCABULARY = JSON.parse(element.textContent);
export const {
  status: STATUS, state: STATE, progress: PROGRESS, outcome: OUTCOME, words: WORDS,
  callback_state: CALLBACK_STATE,
} = VOCABULARY;
