/**
 * GET /: the dashboard, one self-contained page (inline CSS and script, no external asset) that
 * follows GET /events. Everything from the daemon is put on the page as text (textContent), never
 * as markup. The Content-Security-Policy allows exactly this page's style and script (by hash)
 * and connections to its own origin.
 */
import { createHash } from "node:crypto";

const STYLE = `
:root { color-scheme: light dark; --bg:#f6f7f9; --fg:#1b1f24; --mute:#5d6673; --card:#fff; --line:#d8dde3;
  --busy:#2f6fde; --idle:#2a9d57; --starting:#d99a1e; --creating:#b5a4e8; --destroying:#9aa3ad; --bad:#c93c37; }
@media (prefers-color-scheme: dark) { :root { --bg:#111418; --fg:#e6e9ed; --mute:#98a2ae; --card:#1a1e24; --line:#2c333c; } }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:center; padding:.75rem 1rem; border-bottom:1px solid var(--line); }
h1 { font-size:1.1rem; margin:0; }
h2 { font-size:.95rem; margin:0 0 .5rem; color:var(--mute); font-weight:600; text-transform:uppercase; letter-spacing:.04em; }
main { display:grid; gap:1rem; padding:1rem; grid-template-columns:repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.75rem 1rem; min-width:0; }
section.wide { grid-column:1 / -1; }
.badge { padding:.15rem .6rem; border-radius:999px; font-weight:600; font-size:.85rem; color:#fff; background:var(--idle); }
.badge.bad { background:var(--bad); }
.badge.off { background:var(--destroying); }
#health-text { color:var(--mute); font-size:.9rem; flex:1 1 16rem; overflow-wrap:anywhere; }
.bar { display:flex; height:1.25rem; border-radius:4px; overflow:hidden; background:var(--line); margin:.25rem 0 .5rem; }
.bar span { display:block; height:100%; }
.busy { background:var(--busy); } .idle { background:var(--idle); } .starting { background:var(--starting); }
.creating { background:var(--creating); } .destroying { background:var(--destroying); }
.legend { display:flex; flex-wrap:wrap; gap:.25rem 1rem; font-size:.9rem; margin-bottom:.6rem; }
.legend i { display:inline-block; width:.7rem; height:.7rem; border-radius:2px; margin-right:.3rem; vertical-align:-.05rem; }
.big { font-size:1.6rem; font-weight:700; }
.scroll { overflow-x:auto; }
table { width:100%; border-collapse:collapse; font-size:.9rem; }
th, td { text-align:left; padding:.3rem .5rem .3rem 0; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--mute); font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.state { padding:.05rem .45rem; border-radius:4px; color:#fff; font-size:.8rem; }
.empty { color:var(--mute); }
dl { display:grid; grid-template-columns:auto 1fr; gap:.25rem 1rem; margin:0; }
dt { color:var(--mute); } dd { margin:0; font-variant-numeric:tabular-nums; }
#conn { font-size:.8rem; color:var(--mute); }
`;

/**
 * The page's own script, sent as text and run in the viewer's browser: its Date.now and timers
 * are the browser's (the ages it shows tick there), not the daemon's, whose time goes through the
 * Clock.
 */
const SCRIPT = `
"use strict";
const $ = (id) => document.getElementById(id);
const STATES = ["busy", "idle", "starting", "creating", "destroying"];
let last = null;
let skew = 0;
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function dur(s) {
  if (s === null || s === undefined) return "–";
  if (s < 10) return s.toFixed(1) + " s";
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.floor(s / 60) + " m " + String(Math.round(s % 60)).padStart(2, "0") + " s";
  return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " m";
}
function mem(b) {
  if (b === null || b === undefined) return "–";
  return b >= 1073741824 ? (b / 1073741824).toFixed(2) + " GiB" : (b / 1048576).toFixed(0) + " MiB";
}
function now() { return Date.now() + skew; }
function row(cells) {
  const tr = el("tr");
  for (const c of cells) tr.append(c instanceof Node ? c : el("td", c));
  return tr;
}
function num(text) { return el("td", text, "num"); }
function render() {
  const s = last;
  if (!s) return;
  const h = $("health");
  h.textContent = s.health.ok ? "healthy" : "unhealthy";
  h.className = "badge" + (s.health.ok ? "" : " bad");
  $("health-text").textContent = s.health.text;
  const c = s.capacity;
  const used = c.busy + c.idle + c.starting + c.creating + c.destroying;
  $("cap-used").textContent = String(used);
  $("cap-max").textContent = String(c.max);
  const bar = $("cap-bar");
  bar.replaceChildren();
  const legend = $("cap-legend");
  legend.replaceChildren();
  for (const k of STATES) {
    const part = el("span", null, k);
    part.style.width = (c.max > 0 ? (100 * c[k]) / c.max : 0) + "%";
    bar.append(part);
    const item = el("span");
    item.append(el("i", null, k), k + " " + c[k]);
    legend.append(item);
  }
  $("cap-pool").textContent = String(c.minIdle);
  $("cap-queued").textContent = c.queued === null ? "–" : String(c.queued);
  const tbody = $("containers");
  tbody.replaceChildren();
  for (const k of s.containers) {
    const st = el("span", k.state, "state " + k.state);
    const td = el("td");
    td.append(st);
    tbody.append(row([k.name + (k.pool ? " (pool)" : ""), k.job === null ? "–" : "#" + k.job, td, num(dur((now() - k.since) / 1000))]));
  }
  $("containers-empty").hidden = s.containers.length > 0;
  const g = s.github;
  $("gh-remaining").textContent = g.remaining === null ? "–" : g.remaining + (g.limit ? " of " + g.limit : "");
  $("gh-reset").textContent = g.resetAt === null ? "–" : "in " + dur(Math.max(0, g.resetAt - now()) / 1000);
  $("gh-paused").textContent = g.pausedUntil === null ? "no" : "yes, for " + dur(Math.max(0, g.pausedUntil - now()) / 1000);
  const jobs = $("jobs");
  jobs.replaceChildren();
  for (const j of s.jobs) {
    jobs.append(row([
      j.job === null ? "–" : "#" + j.job, j.runner, j.conclusion || j.reason,
      num(dur(j.queueWaitS)), num(dur(j.startupS)), num(dur(j.durationS)),
      num(j.cpuS === null ? "–" : j.cpuS.toFixed(1) + " s"), num(mem(j.peakMemoryBytes)),
      num(new Date(j.at).toLocaleTimeString()),
    ]));
  }
  $("jobs-empty").hidden = s.jobs.length > 0;
}
let source = null;
let retry = null;
function connect() {
  if (source || document.hidden) return;
  source = new EventSource("events");
  source.addEventListener("snapshot", (m) => {
    last = JSON.parse(m.data);
    skew = last.now - Date.now();
    $("conn").textContent = "live";
    render();
  });
  source.onerror = () => {
    $("conn").textContent = "reconnecting…";
    if (source && source.readyState === EventSource.CLOSED) {
      source = null;
      clearTimeout(retry);
      retry = setTimeout(connect, 5000);
    }
  };
}
document.addEventListener("visibilitychange", () => {
  if (document.hidden && source) { source.close(); source = null; $("conn").textContent = "paused"; }
  else connect();
});
setInterval(render, 1000);
connect();
`;

const BODY = `<header>
<h1>runner-controller</h1><span id="health" class="badge off">…</span><span id="health-text"></span><span id="conn">connecting…</span>
</header>
<main>
<section><h2>Capacity</h2>
<div><span class="big" id="cap-used">–</span> of <span id="cap-max">–</span> containers</div>
<div class="bar" id="cap-bar"></div><div class="legend" id="cap-legend"></div>
<dl><dt>warm pool</dt><dd id="cap-pool">–</dd><dt>jobs queued</dt><dd id="cap-queued">–</dd></dl>
</section>
<section><h2>GitHub</h2>
<dl><dt>requests left</dt><dd id="gh-remaining">–</dd><dt>window resets</dt><dd id="gh-reset">–</dd><dt>paused</dt><dd id="gh-paused">–</dd></dl>
</section>
<section class="wide"><h2>Containers</h2><div class="scroll"><table>
<thead><tr><th>name</th><th>job</th><th>state</th><th class="num">age</th></tr></thead>
<tbody id="containers"></tbody></table></div><p id="containers-empty" class="empty">none</p>
</section>
<section class="wide"><h2>Last 50 jobs</h2><div class="scroll"><table>
<thead><tr><th>job</th><th>runner</th><th>result</th><th class="num">queue wait</th><th class="num">start-up</th><th class="num">duration</th><th class="num">CPU</th><th class="num">peak memory</th><th class="num">ended</th></tr></thead>
<tbody id="jobs"></tbody></table></div><p id="jobs-empty" class="empty">none yet</p>
</section>
</main>`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>runner-controller</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head><body>
${BODY}
<script>${SCRIPT}</script>
</body></html>
`;

const hash = (text: string): string => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** Only this page's own style and script, connections to its own origin, nothing else. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `style-src ${hash(STYLE)}`,
  `script-src ${hash(SCRIPT)}`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");
