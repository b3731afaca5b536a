// The agent's "a supervisor is listening" indicator. The agent's socket carries the `monitors`
// messages and snapshot section of its own calls only when CALLCENTER_MONITOR_NOTICE is on, so
// without it this never shows. A supervisor whose phone still rings is not listening yet.

const WORDS = {
  listen: "A supervisor is listening",
  whisper: "A supervisor is whispering to you",
  barge: "A supervisor is in the call",
};
const WEAKEST_FIRST = ["listen", "whisper", "barge"];

export class MonitorNotice {
  constructor(element) {
    this.element = element;
    this.calls = new Map();   // call id -> its monitors, as the server last said
  }

  // The snapshot's section (absent: the notice is off, or nobody listens).
  snapshot(section) {
    this.calls = new Map(Object.entries(section || {}));
    this.show();
  }

  message(message) {
    if (message.monitors.length) this.calls.set(message.call_id, message.monitors);
    else this.calls.delete(message.call_id);
    this.show();
  }

  // The strongest mode in use says the most about who hears the agent.
  show() {
    const modes = [...this.calls.values()].flat().filter((m) => m.answered).map((m) => m.mode);
    const mode = WEAKEST_FIRST.filter((m) => modes.includes(m)).pop();
    this.element.hidden = !mode;
    this.element.textContent = mode ? WORDS[mode] : "";
    this.element.dataset.mode = mode || "";
  }
}
