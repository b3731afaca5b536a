// The website-call widget: `<script src="https://<controller>/widget.js" data-widget="<id>"
// async></script>` on any page adds a "Call us" button in its own shadow root. Bundled as a
// classic script (an IIFE): it defines no globals and needs nothing from the host page.

import { ApiError, WidgetApi } from "./api.js";
import { GuestCall, MediaProblem, askForMedia } from "./call.js";
import { Panel } from "./panel.js";
import { PROBLEMS, WORDS, problemText } from "./words.js";

const POLL_MS = 2000;

class Widget {
  constructor(api, panel, settings) {
    this.api = api;
    this.panel = panel;
    this.settings = settings;
    this.call = null;
    this.timers = [];
    this.connectedAt = null;
    this.muted = false;
    this.cameraOff = false;
    this.tooLong = false;
    panel.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
    panel.hangUp.addEventListener("click", () => this.call?.hangUp());
    panel.mute.addEventListener("click", () => {
      this.muted = !this.muted;
      this.call?.setMuted(this.muted);
      panel.setMuted(this.muted);
    });
    panel.camera.addEventListener("click", () => {
      this.cameraOff = !this.cameraOff;
      this.call?.setCamera(!this.cameraOff);
      panel.setCameraOff(this.cameraOff);
    });
    panel.showForm(settings.open ? "" : settings.message || problemText({ error: "closed" }));
  }

  async start() {
    if (this.call) return;
    const fields = this.panel.fields();
    if (!fields) return;
    if (!this.settings.open) {
      this.panel.showForm(this.settings.message || problemText({ error: "closed" }));
      return;
    }
    const panel = this.panel;
    panel.start.disabled = true;
    panel.problem.textContent = "";
    panel.say(WORDS.connecting);
    let stream;
    try {
      stream = await askForMedia(panel.wantsVideo);
    } catch (error) {
      const kind = error instanceof MediaProblem ? error.kind : "microphone";
      panel.showEnded("", PROBLEMS[kind === "none" ? "noMedia" : kind]);
      return;
    }
    let answer;
    try {
      answer = await this.api.startCall({ video: stream.getVideoTracks().length > 0, fields });
    } catch (error) {
      for (const track of stream.getTracks()) track.stop();
      const body = error instanceof ApiError ? error.body : null;
      panel.fieldProblems(body?.fields);
      panel.showEnded("", problemText(body, error.retryAfter));
      return;
    }
    this.connectedAt = null;
    this.muted = this.cameraOff = false;
    panel.showCalling(stream);
    this.call = new GuestCall(answer, stream, {
      onEstablished: (remote) => panel.showRemote(remote),
      onEnded: (reason) => this.ended(reason),
    });
    this.poll(answer.status_url);
    if (answer.max_seconds) {
      this.timers.push(setTimeout(() => {
        this.tooLong = true;
        this.call?.hangUp();
      }, answer.max_seconds * 1000));
    }
    this.timers.push(setInterval(() => this.tick(), 1000));
    this.call.start();
  }

  // The call's place in the queue, from the controller (the SIP side cannot know it).
  poll(statusUrl) {
    const call = this.call;
    const ask = async () => {
      if (this.call !== call) return;
      try {
        this.showState(await this.api.status(statusUrl.replace(/^\//, "")));
      } catch {
        // A missed poll changes nothing: the SIP session says whether the call is up.
      }
      if (this.call === call) this.timers.push(setTimeout(ask, POLL_MS));
    };
    ask();
  }

  showState(status) {
    if (!this.call) return;
    if (status.state === "waiting") {
      this.panel.say(WORDS.waiting(status.position));
    } else if (status.state === "connected") {
      this.connectedAt ??= Date.now();
      this.panel.say(WORDS.connected);
      this.tick();
    } else if (status.state === "ended") {
      this.call.hangUp();
    } else {
      this.panel.say(WORDS.connecting);
    }
  }

  tick() {
    if (this.connectedAt !== null) this.panel.showTimer((Date.now() - this.connectedAt) / 1000);
  }

  ended(reason) {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
    this.call = null;
    const problem = this.tooLong ? WORDS.tooLong
      : { network: PROBLEMS.network, webrtc: PROBLEMS.webrtc, refused: PROBLEMS.refused }[reason];
    this.tooLong = false;
    this.panel.showEnded(WORDS.ended, problem || "");
  }
}

// The controller's base URL: the directory this script was loaded from.
function scriptOf() {
  return document.currentScript
    || document.querySelector("script[data-widget][src*='widget.js']");
}

async function mount(script) {
  const widgetId = script?.dataset.widget;
  if (!widgetId) {
    console.warn("callcenter widget: the script tag needs data-widget=\"<widget id>\"");
    return;
  }
  const api = new WidgetApi(new URL(".", script.src).href, widgetId);
  let settings;
  try {
    settings = await api.settings(); // refused on a site not in the widget's allowed origins
  } catch (error) {
    console.warn(`callcenter widget ${widgetId}: no call button: ` +
      `${error.body?.message || "the call service did not answer (is this site allowed?)"}`);
    return;
  }
  const host = document.createElement("div");
  host.setAttribute("data-callcenter-widget", widgetId);
  const root = host.attachShadow({ mode: "open" });
  new Widget(api, new Panel(root, settings), settings);
  document.body.append(host);
}

const script = scriptOf();   // only while this script first runs
if (document.body) mount(script);
else document.addEventListener("DOMContentLoaded", () => mount(script), { once: true });
