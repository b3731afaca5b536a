// The widget's look, inside its shadow root: nothing here reaches the host page, and the host
// page's rules reach only the host element (reset with `all: initial`).

export const STYLE = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, sans-serif; font-size: 15px; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0;
  border-radius: 24px; padding: 12px 20px; background: #1a6b3c; color: #fff; cursor: pointer;
  box-shadow: 0 2px 8px rgba(0,0,0,.3); }
.panel { position: fixed; right: 20px; bottom: 76px; z-index: 2147483000; width: 320px;
  max-height: calc(100vh - 96px); overflow: auto; background: #fff; color: #1b1b1b;
  border-radius: 10px; padding: 16px; box-shadow: 0 4px 18px rgba(0,0,0,.35); }
[hidden] { display: none !important; }
h2 { margin: 0 0 10px; font-size: 17px; }
label { display: block; margin: 8px 0 2px; }
input[type=text], input[type=email] { width: 100%; padding: 7px; border: 1px solid #888;
  border-radius: 5px; }
.check { display: flex; gap: 6px; align-items: center; }
.field-problem, .problem { color: #a4161a; margin: 4px 0; }
.status { font-weight: 600; margin: 10px 0 4px; }
.timer { font-variant-numeric: tabular-nums; color: #444; }
.row { display: flex; gap: 8px; margin-top: 12px; flex-wrap: wrap; }
button { padding: 8px 14px; border-radius: 6px; border: 1px solid #666; background: #f3f3f3;
  color: #1b1b1b; cursor: pointer; }
button.go { background: #1a6b3c; color: #fff; border-color: #1a6b3c; }
button.stop { background: #a4161a; color: #fff; border-color: #a4161a; }
button[aria-pressed=true] { background: #444; color: #fff; }
button:focus-visible, input:focus-visible { outline: 3px solid #f4a259; outline-offset: 2px; }
.media { position: relative; margin-top: 10px; }
video.remote { width: 100%; background: #000; border-radius: 6px; }
video.local { position: absolute; right: 6px; bottom: 6px; width: 30%; border: 1px solid #fff;
  border-radius: 4px; background: #222; }
`;
