// The widget's DOM: a launcher button and a dialog-like panel with the pre-call form, the call
// status (an aria-live region), the media, the timer and the call's buttons. No logic: the
// Widget (main.js) says what to show.

import { STYLE } from "./style.js";
import { WORDS, clockText } from "./words.js";

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

export class Panel {
  constructor(root, settings) {
    this.settings = settings;
    this.inputs = new Map();          // field name -> {input, problem}
    root.append(element("style", { text: STYLE }));
    this.launcher = element("button", { class: "launcher", type: "button",
      "aria-expanded": "false", "aria-controls": "cc-widget-panel", text: WORDS.button });
    this.box = element("section", { class: "panel", id: "cc-widget-panel", role: "dialog",
      "aria-labelledby": "cc-widget-title", hidden: true });
    this.title = element("h2", { id: "cc-widget-title", text: settings.name || WORDS.panelTitle });
    this.form = this.buildForm(settings);
    this.status = element("p", { class: "status", role: "status", "aria-live": "polite" });
    this.timer = element("span", { class: "timer", role: "timer", "aria-label": "Call time",
      hidden: true, text: "00:00" });
    this.problem = element("p", { class: "problem", role: "alert" });
    this.remote = element("video", { class: "remote", autoplay: true, playsinline: true,
      "aria-label": "The agent's video", hidden: true });
    this.local = element("video", { class: "local", autoplay: true, playsinline: true,
      muted: true, "aria-label": "Your camera", hidden: true });
    this.local.muted = true;
    this.media = element("div", { class: "media" }, this.remote, this.local);
    this.mute = element("button", { type: "button", "aria-pressed": "false", text: WORDS.mute });
    this.camera = element("button", { type: "button", "aria-pressed": "false",
      text: WORDS.cameraOff, hidden: true });
    this.hangUp = element("button", { type: "button", class: "stop", text: WORDS.hangUp });
    this.controls = element("div", { class: "row controls", hidden: true },
      this.mute, this.camera, this.hangUp);
    this.box.append(this.title, this.form, this.status, this.timer, this.problem, this.media,
      this.controls);
    root.append(this.launcher, this.box);
    this.launcher.addEventListener("click", () => this.toggle());
    this.box.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.controls.hidden) this.toggle(false);
    });
  }

  buildForm(settings) {
    const form = element("form", { class: "fields", novalidate: true });
    for (const field of settings.fields || []) {
      const id = `cc-widget-${field.name}`;
      const input = element("input", { id, name: field.name,
        type: field.name === "email" ? "email" : "text",
        autocomplete: { name: "name", email: "email" }[field.name] || "off",
        required: Boolean(field.required), "aria-required": field.required ? "true" : "false",
        "aria-describedby": `${id}-problem` });
      const problem = element("span", { class: "field-problem", id: `${id}-problem` });
      const label = element("label", { for: id, text: field.label + (field.required ? " *" : "") });
      form.append(label, input, problem);
      this.inputs.set(field.name, { input, problem });
    }
    this.video = null;
    if (settings.video) {
      this.video = element("input", { type: "checkbox", id: "cc-widget-video", name: "video" });
      form.append(element("label", { class: "check", for: "cc-widget-video" }, this.video,
        WORDS.withVideo));
    }
    this.start = element("button", { type: "submit", class: "go", text: WORDS.start });
    this.close = element("button", { type: "button", text: WORDS.cancel });
    this.close.addEventListener("click", () => this.toggle(false));
    form.append(element("div", { class: "row" }, this.start, this.close));
    return form;
  }

  toggle(open = this.box.hidden) {
    this.box.hidden = !open;
    this.launcher.setAttribute("aria-expanded", String(open));
    if (open) (this.form.querySelector("input, button") || this.start).focus();
    else this.launcher.focus();
  }

  // The visitor's entries, or null after marking the missing required ones.
  fields() {
    const values = {};
    let complete = true;
    for (const [name, { input, problem }] of this.inputs) {
      values[name] = input.value.trim();
      const missing = input.required && !values[name];
      problem.textContent = missing ? WORDS.required : "";
      input.setAttribute("aria-invalid", String(missing));
      if (missing && complete) input.focus();
      complete &&= !missing;
    }
    return complete ? values : null;
  }

  fieldProblems(problems) {
    for (const [name, text] of Object.entries(problems || {})) {
      const entry = this.inputs.get(name);
      if (!entry) continue;
      entry.problem.textContent = text;
      entry.input.setAttribute("aria-invalid", "true");
    }
  }

  get wantsVideo() {
    return Boolean(this.video?.checked);
  }

  // Before a call: the form, with the closed-queue message when the queue is closed.
  showForm(problem = "") {
    this.form.hidden = false;
    this.controls.hidden = true;
    this.timer.hidden = true;
    this.remote.hidden = this.local.hidden = true;
    this.problem.textContent = problem;
    this.start.disabled = false;
  }

  showCalling(stream) {
    this.form.hidden = true;
    this.problem.textContent = "";
    this.controls.hidden = false;
    this.setMuted(false);
    this.setCameraOff(false);
    const video = stream.getVideoTracks().length > 0;
    this.camera.hidden = !video;
    this.local.hidden = !video;
    this.local.srcObject = video ? stream : null;
    this.hangUp.focus();
  }

  // The agent's video shows while frames arrive (a track is muted until they do: an agent
  // with no camera, or a switch that carries no media, leaves no black box).
  showRemote(stream) {
    this.remote.srcObject = stream;
    const update = () => {
      this.remote.hidden = !stream.getVideoTracks().some((track) => !track.muted);
    };
    const follow = (track) => {
      track.addEventListener("mute", update);
      track.addEventListener("unmute", update);
    };
    stream.getTracks().forEach(follow);
    stream.addEventListener("addtrack", (event) => { follow(event.track); update(); });
    stream.addEventListener("removetrack", update);
    update();
    this.remote.play().catch(() => {});   // the visitor's click allows playing sound
  }

  showEnded(text, problem = "") {
    this.say(text);
    this.showForm(problem);
    this.remote.srcObject = this.local.srcObject = null;
    this.start.focus();
  }

  say(text) {
    if (this.status.textContent !== text) this.status.textContent = text;
  }

  showTimer(seconds) {
    this.timer.hidden = false;
    this.timer.textContent = clockText(seconds);
  }

  setMuted(muted) {
    this.mute.setAttribute("aria-pressed", String(muted));
    this.mute.textContent = muted ? WORDS.unmute : WORDS.mute;
  }

  setCameraOff(off) {
    this.camera.setAttribute("aria-pressed", String(off));
    this.camera.textContent = off ? WORDS.cameraOn : WORDS.cameraOff;
  }
}
