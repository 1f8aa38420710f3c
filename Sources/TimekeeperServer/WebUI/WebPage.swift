/// The web page: workflows, a workflow's history, and a timeline of virtual time against wall time with
/// every jump labelled by its cause. Plain HTML and JavaScript polling the JSON endpoints once a second.
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Timekeeper</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #222; }
  h1 { font-size: 20px; margin: 0 0 8px; }
  h2 { font-size: 16px; margin: 18px 0 6px; }
  #clock span { margin-right: 18px; }
  table { border-collapse: collapse; }
  td, th { padding: 2px 10px 2px 0; text-align: left; white-space: nowrap; }
  tr.workflow { cursor: pointer; }
  tr.workflow:hover { background: #eef; }
  .trap { color: #b00; font-weight: bold; white-space: normal; }
  #timeline { border: 1px solid #ccc; background: #fcfcfc; }
  .axis { stroke: #888; stroke-width: 1; }
  .tick { fill: #666; font-size: 11px; }
  .flow { fill: none; stroke: #1f77b4; stroke-width: 2; }
  .jump { stroke: #d62728; stroke-width: 3; }
  .jump-marker { fill: #d62728; }
  .jump-number { fill: #fff; font-size: 11px; font-weight: bold; }
  .jump-label { fill: #d62728; font-size: 12px; }
  #jumps li { margin-bottom: 3px; }
</style>
</head>
<body>
<h1>Timekeeper</h1>
<div id="clock">loading…</div>
<h2>Virtual time against wall time</h2>
<svg id="timeline" width="1100" height="360" role="img" aria-label="virtual clock timeline"></svg>
<ol id="jumps"></ol>
<h2>Workflows</h2>
<table id="workflows"><thead><tr><th>Workflow id</th><th>Type</th><th>Status</th><th>Start (virtual)</th><th>Events</th></tr></thead><tbody></tbody></table>
<h2 id="history-title">History</h2>
<table id="history"><tbody><tr><td>Click a workflow to see its history.</td></tr></tbody></table>
<script>
const NS = "http://www.w3.org/2000/svg";
let selected = null;

function seconds(ts) { return ts ? Date.parse(ts) / 1000 : 0; }
function human(s) {
  const a = Math.abs(s);
  if (a >= 86400 * 365) return (s / 86400 / 365).toFixed(1) + " y";
  if (a >= 86400) return (s / 86400).toFixed(1) + " d";
  if (a >= 3600) return (s / 3600).toFixed(1) + " h";
  if (a >= 60) return (s / 60).toFixed(1) + " min";
  return s.toFixed(1) + " s";
}
function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function drawTimeline(clock) {
  const svg = document.getElementById("timeline");
  svg.replaceChildren();
  const W = 1100, H = 360, left = 70, right = 20, top = 20, bottom = 40;
  const wall0 = seconds(clock.started_wall_time), virt0 = seconds(clock.started_virtual_time);
  const wallNow = seconds(clock.wall_time), virtNow = seconds(clock.virtual_time);
  const jumps = clock.recent_jumps || [];
  // Wall time is linear; virtual time is on a log scale so that a 10-year jump and a 1-second one both show.
  const yOf = (v) => Math.log10(1 + Math.max(0, v - virt0));
  const maxY = Math.max(1, yOf(virtNow) * 1.05);
  const maxX = Math.max(1, wallNow - wall0);
  const X = (w) => left + (w - wall0) / maxX * (W - left - right);
  const Y = (v) => H - bottom - yOf(v) / maxY * (H - top - bottom);
  svg.appendChild(el("line", { class: "axis", x1: left, y1: H - bottom, x2: W - right, y2: H - bottom }));
  svg.appendChild(el("line", { class: "axis", x1: left, y1: top, x2: left, y2: H - bottom }));
  svg.appendChild(el("text", { class: "tick", x: W / 2, y: H - 8 }, "wall time since start: " + human(maxX)));
  for (const [label, s] of [["1 s", 1], ["1 min", 60], ["1 h", 3600], ["1 d", 86400], ["1 y", 31536000], ["10 y", 315360000]]) {
    if (Math.log10(1 + s) > maxY) break;
    const y = Y(virt0 + s);
    svg.appendChild(el("line", { class: "axis", x1: left - 4, y1: y, x2: left, y2: y }));
    svg.appendChild(el("text", { class: "tick", x: 8, y: y + 4 }, "+" + label));
  }
  // The flow: slope 1 while the clock is held, a vertical step at each jump.
  let points = [[X(wall0), Y(virt0)]];
  let virt = virt0, wall = wall0;
  for (const j of jumps) {
    const w = seconds(j.wall_time);
    virt = seconds(j.from_time);
    points.push([X(w), Y(virt)]);
    virt = seconds(j.to_time);
    points.push([X(w), Y(virt)]);
    wall = w;
  }
  points.push([X(wallNow), Y(virtNow)]);
  svg.appendChild(el("polyline", { class: "flow", points: points.map(p => p.join(",")).join(" ") }));
  const list = document.getElementById("jumps");
  list.replaceChildren();
  jumps.forEach((j, i) => {
    const x = X(seconds(j.wall_time)), y1 = Y(seconds(j.from_time)), y2 = Y(seconds(j.to_time));
    const group = el("g", { class: "jump-group", "data-jump": i + 1 });
    group.appendChild(el("line", { class: "jump", x1: x, y1: y1, x2: x, y2: y2 }));
    group.appendChild(el("circle", { class: "jump-marker", cx: x, cy: y2, r: 8 }));
    group.appendChild(el("text", { class: "jump-number", x: x - 3.5, y: y2 + 4 }, String(i + 1)));
    const target = j.target || {};
    const label = "+" + human(seconds(j.to_time) - seconds(j.from_time)) + " → " + (target.kind || "entry")
      + (target.workflow_id ? " of " + target.workflow_id : "");
    const lx = Math.min(x + 12, W - 320);
    group.appendChild(el("text", { class: "jump-label", x: lx, y: y2 + 4 + (i % 3) * 13 }, label));
    svg.appendChild(group);
    const item = document.createElement("li");
    item.textContent = label + " — " + (j.permission || "");
    list.appendChild(item);
  });
}

function drawClock(clock) {
  const holders = (clock.holders || []).map(h => h.count + "× " + h.description).join("; ") || "nothing";
  document.getElementById("clock").innerHTML = "";
  const div = document.getElementById("clock");
  for (const text of ["virtual now " + clock.virtual_time, "lock count " + (clock.lock_count || 0), "held by " + holders]) {
    const span = document.createElement("span");
    span.textContent = text;
    div.appendChild(span);
  }
}

function drawWorkflows(list) {
  const body = document.querySelector("#workflows tbody");
  body.replaceChildren();
  for (const w of list.workflows || []) {
    const row = document.createElement("tr");
    row.className = "workflow";
    row.onclick = () => { selected = w; refreshHistory(); };
    cell(row, w.workflow_id); cell(row, w.workflow_type); cell(row, w.status);
    cell(row, w.start_time); cell(row, String(w.history_length || 0));
    body.appendChild(row);
    if (w.trap) {
      const warn = document.createElement("tr");
      const td = cell(warn, "⚠ " + w.trap, "trap");
      td.colSpan = 5;
      body.appendChild(warn);
    }
  }
}

async function refreshHistory() {
  if (!selected) return;
  const q = new URLSearchParams({ workflow_id: selected.workflow_id, run_id: selected.run_id, namespace: selected.namespace });
  const history = await (await fetch("/api/history?" + q)).json();
  document.getElementById("history-title").textContent = "History of " + selected.workflow_id;
  const body = document.querySelector("#history tbody");
  body.replaceChildren();
  for (const e of (history.history && history.history.events) || []) {
    const row = document.createElement("tr");
    cell(row, e.event_id); cell(row, e.event_time); cell(row, e.event_type);
    body.appendChild(row);
  }
}

async function refresh() {
  try {
    const [clock, workflows] = await Promise.all([
      fetch("/api/clock").then(r => r.json()), fetch("/api/workflows").then(r => r.json())]);
    drawClock(clock);
    drawTimeline(clock);
    drawWorkflows(workflows);
    await refreshHistory();
  } catch (error) {
    document.getElementById("clock").textContent = "server unreachable: " + error;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"""#
}
