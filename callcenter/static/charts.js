// Today's charts per 15-minute interval (uPlot, bundled from npm into vendor/uplot.js by
// `make`): offered / answered / abandoned, service level, peak callers waiting. The intervals
// come with today's figures ({start, queue, offered, answered, abandoned, service_level,
// peak_waiting}, queue null for all queues); without the bundle the page works, chartless.
let uPlot = null;
let loading = null;
const charts = {};

function load() {
  loading ??= import("./vendor/uplot.js").then((m) => { uPlot = m.default; }).catch(() => {
    const note = document.getElementById("charts-note");
    note.textContent = "Charts are unavailable: their library was not built (run make).";
    note.hidden = false;
  });
  return loading;
}

const SERIES = {
  "chart-calls": [["offered", "Offered", "#1f6feb"], ["answered", "Answered", "#1a7f37"],
    ["abandoned", "Abandoned", "#b42318"]],
  "chart-sl": [["service_level", "Service level %", "#8250df"]],
  "chart-peak": [["peak_waiting", "Peak waiting", "#8a5a00"]],
};

export async function drawCharts(figures, queue) {
  await load();
  if (!uPlot) return;
  const wanted = queue || null;
  const intervals = (figures?.intervals || []).filter((i) => (i.queue ?? null) === wanted);
  const note = document.getElementById("charts-note");
  note.textContent = intervals.length ? "" : "No 15-minute intervals in today's figures yet.";
  note.hidden = !note.textContent;
  const times = intervals.map((i) => Date.parse(i.start) / 1000);
  for (const [id, series] of Object.entries(SERIES)) {
    const data = [times, ...series.map(([key]) => intervals.map((i) => {
      const v = i[key];
      if (v === null || v === undefined) return null;
      return key === "service_level" ? Math.round(v * 100) : v;
    }))];
    const box = document.getElementById(id);
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", describe(series, intervals));
    if (charts[id]) { charts[id].setData(data); continue; }
    charts[id] = new uPlot({
      width: Math.max(280, (box.parentElement.clientWidth || 340) - 20), height: 180,
      series: [{}, ...series.map(([, label, stroke]) => ({ label, stroke, width: 2,
        ...(id === "chart-calls" ? { paths: uPlot.paths.bars({ size: [0.6, 12] }), fill: `${stroke}55` } : {}) }))],
      axes: [{}, { size: 40 }],
      scales: {
        // Half an interval of room each side, so the first and last bars show whole.
        x: { time: true, range: (u, min, max) => [min - 450, max + 450] },
        ...(id === "chart-sl" ? { y: { range: [0, 100] } } : {}),
      },
    }, data, box);
  }
}

// What a screen reader hears instead of the picture: the busiest interval.
function describe(series, intervals) {
  if (!intervals.length) return "No calls today yet";
  const [key, label] = series[0];
  let best = intervals[0];
  for (const i of intervals) if ((i[key] ?? -1) > (best[key] ?? -1)) best = i;
  const at = new Date(best.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return `${label}: ${intervals.length} intervals today; highest ${best[key] ?? "—"} at ${at}`;
}
