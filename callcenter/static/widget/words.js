// What the visitor reads. The server's own message for an error wins (it may name the open
// hours); these are for the cases only the browser sees, and a fallback per error code.

export const WORDS = {
  button: "Call us",
  start: "Start the call",
  withVideo: "With video",
  cancel: "Close",
  hangUp: "Hang up",
  mute: "Mute",
  unmute: "Unmute",
  cameraOff: "Camera off",
  cameraOn: "Camera on",
  connecting: "Connecting…",
  waiting: (position) => (position ? `Waiting for the next agent (position ${position})`
    : "Waiting for the next agent"),
  connected: "Connected",
  ended: "Call ended",
  tooLong: "The call reached its time limit and was ended.",
  required: "Please fill this in",
  panelTitle: "Call us",
};

const BY_CODE = {
  network: "We could not reach the call service. Please check your connection and try again.",
  closed: "We are closed right now. Please call again during our opening hours.",
  nobody_available: "Nobody is available to take your call right now. Please try again later.",
  too_many: "Too many calls right now. Please try again in a moment.",
  unknown_widget: "This call button is not set up correctly (unknown widget).",
  origin_refused: "This call button is not allowed on this website.",
  bad_fields: "Please check the fields below.",
};

export const PROBLEMS = {
  microphone: "We could not use your microphone. Please allow microphone access in your " +
    "browser and try again.",
  camera: "We could not use your camera. Allow camera access, or call without video.",
  noMedia: "Your browser cannot make calls from this page (no microphone access here).",
  webrtc: "Your network blocks the call's audio (WebRTC). Try another network, or turn off " +
    "a VPN or firewall that blocks it.",
  refused: "The call could not be started. Please try again.",
};

// The text for an error answer {error, message}: the server's message, else ours.
export function problemText(error, retryAfter) {
  let text = error?.message || BY_CODE[error?.error] || PROBLEMS.refused;
  if (error?.error === "too_many" && retryAfter && !/\d/.test(text)) {
    text += ` (try again in ${retryAfter} s)`;
  }
  return text;
}

// mm:ss (h:mm:ss from an hour) for the call timer.
export function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(s / 3600);
  const rest = `${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  return hours ? `${hours}:${rest}` : rest;
}
