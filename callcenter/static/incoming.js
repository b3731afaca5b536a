// The incoming-call card on the agent's page. Two sources feed it: the switchboard's offer
// messages (a queued caller rings this agent: queue, caller, time waited, and how the offer
// ended) and the softphone (an INVITE that waits for Answer/Decline). The card shows while
// either rings; Answer and Decline act on the softphone's ringing INVITE, so they stay disabled
// until it has arrived (the offer is announced as the switch starts dialling the phone).
//
//   const card = new IncomingCard({ elements, onAnswer, onDecline, ringtone });
//   card.offer(message.offer);     // every offer message for this agent
//   card.phoneRings(from);         // the softphone has an INVITE waiting for the agent
//   card.phoneStops();             // that INVITE was answered, declined or given up
import { VOCABULARY, WORDS } from "./vocabulary.js";
import { wordFor } from "./words.js";

const NOTE_MS = 8000;     // how long "The caller hung up" stays after the card went away
const TICK_MS = 1000;

// 75 → "1:15": how long the caller has waited, as a wall clock would say it.
export function waitedText(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

// A callback request's card title: "Callback for sales, waited 4 min" (its wait counts from the
// caller's place in line, before it hung up).
export function callbackTitle(queue, seconds) {
  const whole = Math.max(0, Math.floor(seconds || 0));
  return `Callback for ${queue}, waited ${whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min`}`;
}

// The caller's ID is the carrier's text: shown as given (the page only ever sets textContent).
export const callerText = (number) => (number && String(number).trim()) || "No caller ID";

const VISITOR_FIELDS = [["name", "Name"], ["email", "Email"], ["topic", "Topic"]];

// A website call's visitor (the offer's `visitor`) as the card's lines: what the visitor typed
// before calling, and the page it called from — the visitor's own text, shown as text only.
export function visitorLines(visitor) {
  if (!visitor) return [];
  const lines = VISITOR_FIELDS.filter(([name]) => visitor.fields?.[name])
    .map(([name, label]) => [label, String(visitor.fields[name])]);
  if (visitor.page_title) lines.push(["Page", String(visitor.page_title)]);
  if (visitor.page_url) lines.push(["Address", String(visitor.page_url)]);
  if (visitor.video) lines.push(["Video", "the visitor offers video"]);
  return lines;
}

export class IncomingCard {
  constructor({ elements, onAnswer, onDecline, ringtone, now = () => Date.now(), timers = globalThis }) {
    // {card, title, queue, from, waited, visitor, auto, buttons, answer, decline, note}
    this.el = elements;
    this.ringtone = ringtone;
    this.now = now;
    this.timers = timers;
    this.current = null;      // the ringing offer: {...offer, since: ms when its waited was true}
    this.ringing = null;      // the softphone's waiting INVITE: {from}
    this.answering = false;   // Answer pressed: the phone is picking up
    this.ticker = null;
    this.noteTimer = null;
    this.el.answer.addEventListener("click", () => {
      if (!this.ringing) return;
      this.ringing = null;
      this.answering = true;
      this.render();
      onAnswer();
    });
    this.el.decline.addEventListener("click", () => {
      if (!this.ringing) return;
      this.ringing = null;
      this.render();
      onDecline();
    });
  }

  offer(offer) {
    if (offer.state === VOCABULARY.offer_ringing) {
      this.current = { ...offer, since: this.now() };
      this.answering = false;
      this.note("");
    } else if (!this.current || this.current.leg === offer.leg) {
      this.current = null;
      this.answering = false;
      if (offer.state !== VOCABULARY.offer_outcome.ANSWERED) {
        this.note(wordFor(WORDS.offer_outcome, offer.state));
      }
    }
    this.render();
  }

  // The page lost track (a fresh snapshot says the agent is not being offered anything).
  forget() {
    this.current = null;
    this.answering = false;
    this.render();
  }

  phoneRings(from) {
    this.ringing = { from };
    this.answering = false;
    this.render();
  }

  phoneStops() {
    this.ringing = null;
    this.answering = false;
    this.render();
  }

  note(text) {
    const note = this.el.note;
    note.textContent = text;
    note.hidden = !text;
    this.timers.clearTimeout(this.noteTimer);
    if (text) this.noteTimer = this.timers.setTimeout(() => { note.hidden = true; }, NOTE_MS);
  }

  render() {
    const offer = this.current;
    const shown = Boolean(offer || this.ringing);
    const el = this.el;
    el.card.hidden = !shown;
    el.card.dataset.state = offer ? offer.state : (this.ringing ? VOCABULARY.offer_ringing : "");
    el.card.dataset.leg = offer ? offer.leg : "";
    for (const part of el.card.querySelectorAll("[data-offer-only]")) part.hidden = !offer;
    const visitor = offer ? offer.visitor : null;
    for (const part of el.card.querySelectorAll("[data-web-only]")) part.hidden = !visitor;
    el.from.textContent = visitor ? "Website visitor"
      : offer ? callerText(offer.number) : (this.ringing?.from || "");
    if (el.visitor) {
      el.visitor.replaceChildren(...visitorLines(visitor).map(([label, text]) => {
        const line = document.createElement("li");
        line.textContent = `${label}: ${text}`;
        return line;
      }));
    }
    el.queue.textContent = offer ? offer.queue : "";
    // An auto-answered offer needs no buttons; any INVITE left to the agent gets them.
    const askAgent = Boolean(this.ringing) || Boolean(offer && !offer.auto_answer);
    el.buttons.hidden = !askAgent || this.answering;
    el.answer.disabled = el.decline.disabled = !this.ringing;
    el.auto.hidden = !(offer && offer.auto_answer) && !this.answering;
    el.auto.textContent = this.answering ? "Answering…" : "Your phone answers by itself.";
    if (offer && offer.callback) el.auto.textContent += " Then the customer is dialled.";
    this.tick();
    if (shown && offer && this.ticker === null) {
      this.ticker = this.timers.setInterval(() => this.tick(), TICK_MS);
    } else if (!(shown && offer) && this.ticker !== null) {
      this.timers.clearInterval(this.ticker);
      this.ticker = null;
    }
    if (this.ringing) this.ringtone?.start(); else this.ringtone?.stop();
  }

  tick() {
    const offer = this.current;
    const waited = offer && typeof offer.waited === "number"
      ? offer.waited + (this.now() - offer.since) / 1000 : null;
    this.el.waited.textContent = waited === null ? "" : waitedText(waited);
    if (this.el.title) {
      this.el.title.textContent = offer && offer.callback
        ? callbackTitle(offer.queue, waited)
        : offer && offer.visitor ? "Incoming website call" : "Incoming call";
    }
  }
}
