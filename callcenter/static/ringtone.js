// A ringtone made on the spot with WebAudio (no sound file to ship): two short beeps, then a
// pause, repeated until stopped. The browser may refuse sound before the page had a click; the
// card on screen is what the agent relies on, so a silent ring is no failure.
const BEEP_S = 0.4;
const GAP_S = 0.2;
const CYCLE_MS = 3000;
const PITCH_HZ = 480;
const VOLUME = 0.08;

export class Ringtone {
  constructor(win = globalThis) {
    this.win = win;
    this.context = null;
    this.timer = null;
  }

  get ringing() { return this.timer !== null; }

  start() {
    if (this.timer !== null) return;
    const Context = this.win.AudioContext || this.win.webkitAudioContext;
    if (!Context) return;
    try {
      this.context = this.context || new Context();
      this.context.resume?.().catch(() => {});
    } catch { return; }
    this.beep();
    this.timer = this.win.setInterval(() => this.beep(), CYCLE_MS);
  }

  stop() {
    if (this.timer === null) return;
    this.win.clearInterval(this.timer);
    this.timer = null;
    this.context?.suspend?.().catch(() => {});
  }

  beep() {
    const context = this.context;
    const start = context.currentTime;
    for (const at of [start, start + BEEP_S + GAP_S]) {
      const tone = context.createOscillator();
      const level = context.createGain();
      tone.frequency.value = PITCH_HZ;
      level.gain.setValueAtTime(VOLUME, at);
      level.gain.setValueAtTime(0, at + BEEP_S);
      tone.connect(level).connect(context.destination);
      tone.start(at);
      tone.stop(at + BEEP_S);
    }
  }
}
