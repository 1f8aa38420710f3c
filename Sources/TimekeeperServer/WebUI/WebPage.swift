/// The web page: workflows (filtered by a list query, kept in the URL's `#query=`), a workflow's history,
/// and a timeline of virtual time against wall time with every jump labelled by its cause. Plain HTML and
/// JavaScript polling the JSON endpoints once a second.
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
  .jump-leader { stroke: #d62728; stroke-width: 1; stroke-dasharray: 2 2; }
  #filter { margin: 0 0 8px; }
  #query { width: 640px; font: 13px ui-monospace, monospace; }
  #query-error { color: #b00; margin-left: 8px; }
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
<form id="filter"><input id="query" type="search" spellcheck="false" aria-label="list filter"
  placeholder="list filter, e.g. WorkflowType = 'Hello' AND ExecutionStatus = 'Running'">
  <button type="submit">Filter</button><span id="query-error" role="alert"></span></form>
<table id="workflows"><thead><tr><th>Workflow id</th><th>Type</th><th>Status</th><th>Start (virtual)</th><th>Events</th></tr></thead><tbody></tbody></table>
<h2 id="history-title">History</h2>
<table id="history"><tbody><tr><td>Click a workflow to see its history.</td></tr></tbody></table>
<script>
const NS = "http://www.w3.org/2000/svg";
let selected = null;
// The list filter the table shows (as applied, not as being typed); kept in the URL as #query=….
let applied = "";
let polls = 0;

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
  // Jumps made at (nearly) the same wall instant share an x, and their tops often nearly share a y too.
  // Each marker keeps its place at the top of its step if that is free, else takes the nearest free place
  // on the same level to the right (else the left), with a dotted leader back to the step. Jumps whose x
  // are within a marker of each other form a cluster, whose labels stand in one column right of its
  // markers (left of them near the right edge), each at its marker's level if that is free of markers,
  // labels and the line, else at the nearest free level, with a dotted leader from its marker; the last
  // jump's label is placed first so that leaders do not cross. Labels carry their jump's number.
  const R = 8, pad = 1, placed = [], line = [];
  const overlaps = (a, b) => a.x < b.x + b.w + pad && b.x < a.x + a.w + pad && a.y < b.y + b.h + pad && b.y < a.y + a.h + pad;
  const fits = (box, avoidLine) => box.x >= 0 && box.y >= 0 && box.x + box.w <= W && box.y + box.h <= H
    && !placed.some(p => overlaps(p, box)) && !(avoidLine && line.some(p => overlaps(p, box)));
  // The line as small boxes every few pixels (it is at most W + H long: virtual time only goes forward).
  for (let k = 1; k < points.length; k++) {
    const [ax, ay] = points[k - 1], [bx, by] = points[k];
    const n = Math.max(1, Math.ceil(Math.hypot(bx - ax, by - ay) / 6));
    for (let t = 0; t <= n; t++) line.push({ x: ax + (bx - ax) * t / n - 1, y: ay + (by - ay) * t / n - 1, w: 2, h: 2 });
  }
  const circleBox = (cx, cy) => ({ x: cx - R, y: cy - R, w: 2 * R, h: 2 * R });
  // Every step first, so that no step is drawn over another jump's marker.
  const steps = el("g", { class: "jump-steps" });
  svg.appendChild(steps);
  const clusters = [];
  const groups = jumps.map((j, i) => {
    const x = X(seconds(j.wall_time)), y1 = Y(seconds(j.from_time)), y2 = Y(seconds(j.to_time));
    steps.appendChild(el("line", { class: "jump", x1: x, y1: y1, x2: x, y2: y2 }));
    const group = el("g", { class: "jump-group", "data-jump": i + 1, "data-anchor": x.toFixed(1) + "," + y2.toFixed(1) });
    svg.appendChild(group);
    const target = j.target || {};
    const label = "+" + human(seconds(j.to_time) - seconds(j.from_time)) + " → " + (target.kind || "entry")
      + (target.workflow_id ? " of " + target.workflow_id : "");
    const g = { j, i, x, y2, group, label };
    const last = clusters[clusters.length - 1];
    if (last && Math.abs(x - last[0].x) <= 2 * R) last.push(g); else clusters.push([g]);
    return g;
  });
  const spacing = 2 * R + 3;
  for (const cluster of clusters) {
    // Markers move right, in order, unless the cluster's row would leave the chart there.
    const side = cluster[0].x + cluster.length * spacing + R <= W ? 1 : -1;
    for (const g of cluster) {
      const candidates = [g.x];
      for (const dir of [side, -side]) for (let k = 1; k < 60; k++) candidates.push(g.x + dir * k * spacing);
      g.cx = candidates.find(cx => (cx >= g.x || cx - R >= left) && fits(circleBox(cx, g.y2))) ?? g.x;
      placed.push(circleBox(g.cx, g.y2));
    }
  }
  const box = (node) => { const b = node.getBBox(); return [b.x, b.y, b.width, b.height].map(v => v.toFixed(1)).join(","); };
  for (const cluster of clusters) {
    const right = Math.max(...cluster.map(g => Math.max(g.x, g.cx))) + R + 4;
    const leftEdge = Math.min(...cluster.map(g => Math.min(g.x, g.cx))) - R - 4;
    for (const g of cluster.slice().reverse()) {
      const { j, i, x, y2, group, cx } = g;
      if (cx !== x) group.appendChild(el("line", { class: "jump-leader", x1: x, y1: y2, x2: cx, y2: y2 }));
      group.appendChild(el("circle", { class: "jump-marker", cx: cx, cy: y2, r: R }));
      const number = el("text", { class: "jump-number", x: cx, y: y2 + 4, "text-anchor": "middle" }, String(i + 1));
      if (i + 1 >= 100) number.setAttribute("font-size", "8");
      group.appendChild(number);
      const text = el("text", { class: "jump-label", x: 0, y: 0 }, (i + 1) + ": " + g.label);
      group.appendChild(text);
      const shape = text.getBBox();  // relative to the text's origin (its baseline's start)
      const level = Math.ceil(shape.height) + 1;
      let spot = null;
      for (const lx of [right, leftEdge - shape.width]) {
        for (let step = 0; step < 2 * H / level && !spot; step++) {
          const dy = (step % 2 ? -1 : 1) * Math.ceil(step / 2) * level;
          const area = { x: lx + shape.x, y: y2 + 4 + dy + shape.y, w: shape.width, h: shape.height };
          if (fits(area, true)) spot = { lx, dy, area };
        }
      }
      spot = spot || { lx: Math.min(right, W - shape.width), dy: 0, area: null };
      text.setAttribute("x", spot.lx);
      text.setAttribute("y", y2 + 4 + spot.dy);
      if (spot.area) placed.push(spot.area);
      const end = spot.lx > cx ? spot.lx - 2 : spot.lx + shape.width + 2;
      if (spot.dy !== 0 || Math.abs(end - cx) > R + 3) {
        group.insertBefore(el("line", { class: "jump-leader", x1: cx, y1: y2, x2: end, y2: y2 + spot.dy }), group.firstChild);
      }
      // Where the marker, its number and its label ended up on screen (the browser test reads these).
      group.setAttribute("data-marker", box(group.querySelector("circle")));
      group.setAttribute("data-number", box(number));
      group.setAttribute("data-label", box(text));
    }
  }
  for (const g of groups) {
    const item = document.createElement("li");
    item.textContent = g.label + " — " + (g.j.permission || "");
    list.appendChild(item);
  }
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
  document.getElementById("query-error").textContent = "";
  document.getElementById("workflows").hidden = false;
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

// A query that does not parse: the server's message (it names where) in place of the table.
function drawQueryError(message) {
  document.getElementById("query-error").textContent = message;
  document.getElementById("workflows").hidden = true;
}

async function fetchWorkflows(query) {
  const response = await fetch(query ? "/api/workflows?" + new URLSearchParams({ query }) : "/api/workflows");
  const body = await response.json();
  return response.ok ? { body } : { error: body.error || response.statusText };
}

function queryFromHash() {
  const match = /^#query=(.*)$/.exec(location.hash);
  if (!match) return "";
  try { return decodeURIComponent(match[1]); } catch { return match[1]; }
}

function apply(query, fromHash) {
  applied = query.trim();
  document.getElementById("query").value = query;
  document.getElementById("filter").setAttribute("data-applied", applied);
  if (!fromHash) history.replaceState(null, "", applied ? "#query=" + encodeURIComponent(applied) : location.pathname + location.search);
  refresh();
}

async function refresh() {
  const query = applied;
  try {
    const [clock, workflows] = await Promise.all([fetch("/api/clock").then(r => r.json()), fetchWorkflows(query)]);
    drawClock(clock);
    drawTimeline(clock);
    if (query === applied) workflows.error === undefined ? drawWorkflows(workflows.body) : drawQueryError(workflows.error);
    document.body.setAttribute("data-polls", ++polls);
    await refreshHistory();
  } catch (error) {
    document.getElementById("clock").textContent = "server unreachable: " + error;
  }
}
document.getElementById("filter").onsubmit = (event) => { event.preventDefault(); apply(document.getElementById("query").value, false); };
window.addEventListener("hashchange", () => apply(queryFromHash(), true));
apply(queryFromHash(), true);
setInterval(refresh, 1000);
</script>
</body>
</html>
"""#
}
