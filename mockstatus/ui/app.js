// mockstatus dashboard (docs/dashboard.md). Plain JavaScript, no build step, no library: it
// runs under the strict Content-Security-Policy the server sends (no inline code, no eval, no
// style attributes: every element is built with the DOM and text goes in as textContent, so a
// request path can never become markup).
"use strict";

const ADMIN = "/__mockstatus";
const TOKEN_KEY = "mockstatus-admin-token";
const MAX_ROWS = 500; // journal rows kept in the page
const CHART_SECONDS = 60;

const model = {
  scenarios: [], errors: [], uploads: [], requests: [], clock: null, controllable: false,
  snapshotAt: 0, selected: null, feed: null,
};
let routesDirty = false; // request events re-render the routes at most once a tick
const perSecond = new Map(); // second -> [2xx, 3xx, 4xx, 5xx, other]

// --- helpers ------------------------------------------------------------------------------------

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, String(v));
    else node[k] = v;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = token();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

async function call(method, path, body, contentType) {
  const init = { method, headers: headers(contentType ? { "Content-Type": contentType } : {}) };
  if (body !== undefined) init.body = body;
  const resp = await fetch(ADMIN + path, init);
  let doc = null;
  try { doc = await resp.json(); } catch (e) { doc = null; }
  if (resp.status === 401) showToken("the token was refused");
  return { status: resp.status, ok: resp.ok, doc };
}

function statusClass(status) { return status >= 200 && status < 600 ? "s" + Math.floor(status / 100) : ""; }

function sessionLabel(s) { return s === "" ? "default" : s; }

function secondsSinceSnapshot() {
  return model.controllable ? 0 : (Date.now() - model.snapshotAt) / 1000;
}

// --- the feed: fetch() streaming (EventSource cannot send Authorization) -------------------------

let feedAbort = null;

async function connect() {
  if (feedAbort) feedAbort.abort();
  feedAbort = new AbortController();
  const conn = $("conn");
  let resp;
  try {
    resp = await fetch(ADMIN + "/events", { headers: headers(), signal: feedAbort.signal });
  } catch (e) {
    setConn(false, "disconnected");
    setTimeout(connect, 2000);
    return;
  }
  if (resp.status === 401) {
    setConn(false, "token needed");
    showToken(token() ? "the token was refused" : "");
    return;
  }
  if (!resp.ok || !resp.body) {
    setConn(false, "feed refused (" + resp.status + ")");
    setTimeout(connect, 5000);
    return;
  }
  hideToken();
  setConn(true, "live");
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        dispatch(block);
      }
    }
  } catch (e) {
    // aborted or the connection dropped: reconnect below
  }
  conn.textContent = "disconnected";
  setConn(false, "disconnected");
  setTimeout(connect, 2000);
}

function setConn(on, text) {
  const conn = $("conn");
  conn.textContent = text;
  conn.className = "conn " + (on ? "on" : "off");
}

function dispatch(block) {
  let kind = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) kind = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return; // a keep-alive comment
  const doc = JSON.parse(data);
  const handler = HANDLERS[kind];
  if (handler) handler(doc);
}

const HANDLERS = {
  snapshot(doc) {
    model.clock = doc.clock;
    model.controllable = doc.clock.controllable;
    model.snapshotAt = Date.now();
    model.feed = doc.feed;
    applyConfig(doc);
    model.requests = [];
    $("journal-rows").replaceChildren();
    for (const r of doc.requests) addRequest(r, false);
    renderFeedInfo(doc);
    renderClock();
    $("advance-row").classList.toggle("hidden", !model.controllable);
  },
  request(doc) {
    addRequest(doc, true);
    const route = doc.route ? findRoute(findScenario(doc.scenario), doc.route) : null;
    if (route && !route.sequence) {  // a sequence's calls come with its `state` events
      const session = doc.session == null ? "" : doc.session;  // absent: the default session
      route.calls[session] = (route.calls[session] || 0) + 1;
      routesDirty = true;
    }
  },
  reload(doc) { applyConfig(doc); },
  upload(doc) { showUpload(doc); },
  state(doc) {
    const scenario = findScenario(doc.scenario);
    if (!scenario) return;
    if (doc.machine !== undefined) {
      scenario.machines[doc.machine] = scenario.machines[doc.machine] || {};
      scenario.machines[doc.machine][doc.session] = doc.states;
    } else {
      const route = findRoute(scenario, doc.route);
      if (route && route.sequence) {
        route.sequence.position[doc.session] = doc.position;
        route.calls[doc.session] = doc.calls;
      }
    }
    renderScenarios();
  },
  ratelimit(doc) {
    const route = findRoute(findScenario(doc.scenario), doc.route);
    if (!route) return;
    doc.policies.forEach((policy, i) => {
      const mine = route.rate_limits[i];
      if (!mine) return;
      const others = mine.buckets.filter((b) => b.session !== doc.session);
      mine.buckets = others.concat(policy.buckets.filter((b) => b.session === doc.session));
      mine.seenAt = Date.now();
    });
    route.rateSeenAt = Date.now();
    renderScenarios();
  },
  override(doc) {
    const route = findRoute(findScenario(doc.scenario), doc.route);
    if (!route) return;
    route.overrides = route.overrides.filter((o) => o.session !== doc.session);
    if (doc.action === "set") route.overrides.push(Object.assign({ setAt: Date.now() }, doc));
    renderScenarios();
  },
};

function findScenario(name) { return model.scenarios.find((s) => s.name === name); }
function findRoute(scenario, name) { return scenario ? scenario.routes.find((r) => r.name === name) : null; }

function applyConfig(doc) {
  model.scenarios = doc.scenarios;
  model.errors = doc.errors;
  model.uploads = doc.uploads;
  model.configAt = Date.now();
  renderErrors();
  renderScenarios();
}

function renderFeedInfo(doc) {
  const f = doc.feed;
  $("feed-info").textContent =
    f.subscribers + " dashboard(s) · " + f.dropped + " events dropped · worker view: 1 of " + doc.workers;
}

function renderClock() {
  if (!model.clock) return;
  const wall = model.clock.wall + secondsSinceSnapshot();
  $("clock").textContent = (model.controllable ? "manual clock " : "clock ") + new Date(wall * 1000).toISOString();
  $("advance-note").textContent = model.controllable ? "" : "the clock is not controllable (start with --clock manual)";
}

// --- journal ------------------------------------------------------------------------------------

function addRequest(r, live) {
  if (model.requests.some((x) => x.seq === r.seq)) return; // the snapshot may hold it already
  model.requests.push(r);
  if (model.requests.length > MAX_ROWS) {
    const gone = model.requests.shift();
    const row = document.querySelector('#journal-rows tr[data-seq="' + gone.seq + '"]');
    if (row) row.remove();
  }
  const row = el("tr", { "data-seq": r.seq, class: matches(r) ? "" : "hidden" },
    el("td", {}, r.seq), el("td", {}, r.method), el("td", { title: r.path }, r.path + (r.query ? "?" + r.query : "")),
    el("td", {}, r.route ? r.scenario + "/" + r.route : r.unmatched ? "(no match)" : "—"),
    el("td", { class: statusClass(r.status) }, r.status), el("td", {}, r.fault || ""),
    el("td", {}, r.duration_ms.toFixed(1)), el("td", {}, r.session == null ? "" : r.session));
  $("journal-rows").prepend(row);
  $("journal-count").textContent = model.requests.length + " requests";
  if (live) countForChart(r);
}

function matches(r) {
  const f = $("filter").value.trim().toLowerCase();
  if (!f) return true;
  return [r.method, r.path, r.route, r.scenario, String(r.status), r.session, r.fault]
    .some((v) => v !== null && v !== undefined && String(v).toLowerCase().includes(f));
}

function applyFilter() {
  for (const row of $("journal-rows").children) {
    const r = model.requests.find((x) => String(x.seq) === row.dataset.seq);
    row.classList.toggle("hidden", !r || !matches(r));
  }
}

async function showDetail(seq) {
  for (const row of $("journal-rows").children) row.classList.toggle("selected", row.dataset.seq === String(seq));
  // the feed carries the row; the whole entry is read from the journal when asked for
  const answer = await call("GET", "/requests?since=" + (seq - 1) + "&limit=1");
  const r = answer.ok ? answer.doc.requests.find((x) => x.seq === seq) : null;
  if (!r) {
    $("detail").replaceChildren(el("p", { class: "muted" }, "Request #" + seq + " is no longer in the journal."));
    return;
  }
  const parts = [
    el("h3", {}, r.method + " " + r.path + (r.query ? "?" + r.query : "") + " → " + r.status),
    el("p", { class: "muted" }, r.http_version + " · " + new Date(r.time * 1000).toISOString() +
      " · " + (r.route ? "route " + r.scenario + "/" + r.route : "no route") + (r.note ? " · " + r.note : "")),
    el("h4", {}, "Headers"),
    el("pre", {}, Object.entries(r.headers).map(([k, v]) => k + ": " + v).join("\n")),
    el("h4", {}, "Body" + (r.body_size !== null ? " (" + r.body_size + " bytes)" : "")),
    el("pre", {}, r.body === null ? "(none read)" : r.body),
  ];
  if (r.near_misses !== undefined) {
    parts.push(el("h4", {}, "Why no route matched"));
    if (!r.near_misses.length) parts.push(el("p", {}, "No route comes close: the built-in endpoints answered."));
    for (const miss of r.near_misses) {
      parts.push(el("pre", { class: "nearmiss" }, JSON.stringify(miss, null, 2)));
    }
  }
  $("detail").replaceChildren(...parts);
}

// --- chart: requests per second by status class (hand-drawn SVG) ------------------------------

function countForChart(r) {
  const second = Math.floor(Date.now() / 1000);
  let row = perSecond.get(second);
  if (!row) { row = [0, 0, 0, 0, 0]; perSecond.set(second, row); }
  const k = Math.floor(r.status / 100);
  row[k >= 2 && k <= 5 ? k - 2 : 4] += 1;
}

function renderChart() {
  const now = Math.floor(Date.now() / 1000);
  for (const s of perSecond.keys()) if (s < now - CHART_SECONDS) perSecond.delete(s);
  const series = [0, 1, 2, 3].map((k) => {
    const points = [];
    for (let i = CHART_SECONDS - 1; i >= 0; i--) points.push((perSecond.get(now - i) || [0, 0, 0, 0, 0])[k]);
    return points;
  });
  const max = Math.max(1, ...series.flat());
  const chart = $("chart");
  const colours = ["#2e8540", "#2b6cb0", "#c77c02", "#c53030"];
  const nodes = [svg("line", { x1: 0, y1: 119, x2: 600, y2: 119, stroke: "#d9dde5" })];
  series.forEach((points, k) => {
    const d = points.map((v, i) => (i * 600 / (CHART_SECONDS - 1)).toFixed(1) + "," + (118 - v * 110 / max).toFixed(1)).join(" ");
    nodes.push(svg("polyline", { points: d, fill: "none", stroke: colours[k], "stroke-width": 2, class: "series" }));
  });
  const label = svg("text", { x: 4, y: 12, "font-size": 11, fill: "#6b7385" });
  label.textContent = "max " + max + " req/s";
  nodes.push(label);
  chart.replaceChildren(...nodes);
  const last = perSecond.get(now - 1) || [0, 0, 0, 0, 0];
  $("chart-legend").replaceChildren(...["2xx", "3xx", "4xx", "5xx"].map((name, k) =>
    el("span", { class: "k" + (k + 2) }, name + ": " + last[k] + "/s")));
}

// --- scenarios and routes -----------------------------------------------------------------------

function renderErrors() {
  const box = $("errors");
  if (!model.errors.length) { box.replaceChildren(); return; }
  box.replaceChildren(el("h3", { class: "error" }, "Load errors (still serving the last good configuration)"),
    ...model.errors.map((e) => el("div", { class: "load-error" },
      el("div", { class: "error" }, e.file + ":" + e.line + ":" + e.column + ": " + e.message),
      e.source_line ? el("pre", { class: "source" }, e.source_line) : null)));
}

function renderScenarios() {
  const box = $("scenarios");
  if (!model.scenarios.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No scenarios loaded."));
    return;
  }
  box.replaceChildren(...model.scenarios.map(renderScenario));
}

function renderScenario(s) {
  const machines = Object.entries(s.machines).map(([machine, bySession]) =>
    el("div", { class: "machine", "data-machine": machine }, "machine ", el("b", {}, machine), ": ",
      Object.entries(bySession).map(([session, states]) =>
        el("span", { class: "tag state", "data-session": session },
          sessionLabel(session) + " → " + Object.entries(states).map(([k, v]) => (k ? k + "=" : "") + v).join(", ")))));
  return el("div", { class: "scenario", "data-scenario": s.name },
    el("h3", {}, s.name, el("span", { class: "tag" }, s.source), el("span", { class: "muted" }, " " + s.file)),
    s.description ? el("p", { class: "muted" }, s.description) : null,
    machines,
    s.routes.map((r) => renderRoute(s, r)));
}

function renderRoute(s, r) {
  const overrides = r.overrides.filter((o) => overrideLeft(o) > 0);
  const down = overrides.length > 0 || (r.outage && r.outage.sessions[""] && spansNow(r.outage.sessions[""]));
  const calls = Object.entries(r.calls).filter(([, n]) => n).map(([s2, n]) => sessionLabel(s2) + ": " + n);
  const parts = [
    el("div", {}, el("span", { class: "name" }, r.name), " ",
      el("span", { class: "muted" }, (r.methods ? r.methods.join(",") + " " : "") + (r.path || "(any path)")),
      r.behaviours.map((b) => el("span", { class: "tag" }, b)),
      overrides.map((o) => el("span", { class: "tag alert override" },
        (o.kind === "fault" ? "fault " + o.fault : "outage " + o.status) + " · " + Math.ceil(overrideLeft(o)) + "s left" +
        (o.session ? " (session " + o.session + ")" : "")))),
    calls.length ? el("div", { class: "muted calls" }, "calls — " + calls.join(", ")) : null,
  ];
  if (r.sequence) {
    parts.push(el("div", { class: "sequence" }, "sequence: ",
      Object.entries(r.sequence.position).map(([sess, pos]) =>
        el("span", { class: "tag position", "data-session": sess }, sessionLabel(sess) + " at step " + (pos + 1) + " of " + r.sequence.steps))));
  }
  for (const policy of r.rate_limits) {
    const elapsed = r.rateSeenAt ? (model.controllable ? 0 : (Date.now() - r.rateSeenAt) / 1000) : secondsSinceSnapshot();
    parts.push(el("div", { class: "ratelimit" }, "rate limit ", el("b", {}, policy.name), " " + policy.limit + " per " + policy.window + "s (" + policy.algorithm + ", key " + policy.key + ")",
      policy.buckets.length ? policy.buckets.map((b) => {
        const reset = Math.max(0, b.reset - elapsed);
        const bar = el("span", {});
        bar.style.width = Math.round(100 * b.remaining / Math.max(1, b.limit)) + "%";
        return el("div", { class: "bucket", "data-session": b.session, "data-key": b.key },
          el("span", { class: "meter" }, bar), " " + b.remaining + "/" + b.limit + " left, reset in " + Math.ceil(reset) + "s · " +
          sessionLabel(b.session) + (b.key ? " · " + b.key : ""));
      }) : el("div", { class: "bucket muted" }, "no bucket yet (full)")));
  }
  if (r.outage) {
    parts.push(el("div", { class: "outage" }, "outage windows (−30 s … now … +120 s, default session)",
      timeline(r.outage.sessions[""] || { spans: [] })));
  }
  parts.push(el("div", { class: "row actions" },
    el("button", { type: "button", class: "danger", "data-action": "outage", "data-scenario": s.name, "data-route": r.name }, "Force outage"),
    el("button", { type: "button", class: "danger", "data-action": "fault", "data-scenario": s.name, "data-route": r.name }, "Force fault"),
    overrides.length ? el("button", { type: "button", "data-action": "cancel", "data-scenario": s.name, "data-route": r.name }, "Cancel override") : null));
  return el("div", { class: "route" + (down ? " down" : ""), "data-route": r.name }, parts);
}

function overrideLeft(o) {
  const since = o.setAt || model.snapshotAt;
  return o.remaining - (model.controllable ? 0 : (Date.now() - since) / 1000);
}

function spansNow(view) {
  const shift = secondsSinceSnapshot();
  return view.spans.some(([a, b]) => a - shift <= 0 && 0 < b - shift);
}

function timeline(view) {
  const past = 30, ahead = 120, width = 600;
  const x = (t) => ((t + past) / (past + ahead)) * width;
  const shift = secondsSinceSnapshot();
  const root = svg("svg", { class: "timeline", viewBox: "0 0 600 22", preserveAspectRatio: "none" });
  root.append(svg("rect", { x: 0, y: 8, width, height: 6, fill: "#e5e8ee" }));
  for (const [a, b] of view.spans) {
    const from = Math.max(-past, a - shift), to = Math.min(ahead, b - shift);
    if (to <= from) continue;
    root.append(svg("rect", { x: x(from), y: 4, width: x(to) - x(from), height: 14, fill: "#c53030", class: "window" }));
  }
  root.append(svg("line", { x1: x(0), y1: 0, x2: x(0), y2: 22, stroke: "#1d2330", "stroke-width": 2, class: "now" }));
  return root;
}

// --- steering -----------------------------------------------------------------------------------

function result(text, bad) {
  const box = $("steer-result");
  box.textContent = text;
  box.className = bad ? "error" : "muted";
}

async function onRouteAction(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const { action, scenario, route } = button.dataset;
  const path = "/scenarios/" + encodeURIComponent(scenario) + "/routes/" + encodeURIComponent(route) + "/override";
  const seconds = $("override-for").value.trim();
  let answer;
  if (action === "cancel") {
    answer = await call("DELETE", path);
  } else if (action === "outage") {
    const status = Number($("override-status").value) || 503;
    answer = await call("POST", path, JSON.stringify({ outage: { for: seconds, respond: { status } } }), "application/json");
  } else {
    answer = await call("POST", path, JSON.stringify({ fault: $("override-fault").value, for: seconds }), "application/json");
  }
  result(answer.ok ? action + " " + scenario + "/" + route + ": done" : (answer.doc && answer.doc.error) || "failed: " + answer.status, !answer.ok);
}

async function resetAll() {
  const answer = await call("POST", "/reset");
  result(answer.ok ? "every session reset" : answer.doc.error, !answer.ok);
}

async function resetSession() {
  const name = $("reset-session-name").value;
  if (!name) { result("name a session to reset", true); return; }
  const answer = await call("POST", "/reset?session=" + encodeURIComponent(name));
  result(answer.ok ? "session " + name + " reset" : answer.doc.error, !answer.ok);
}

async function advance() {
  const seconds = $("advance-seconds").value;
  const answer = await call("POST", "/clock/advance?seconds=" + encodeURIComponent(seconds));
  result(answer.ok ? "clock advanced " + seconds + "s" : answer.doc.error, !answer.ok);
}

async function upload() {
  const name = $("upload-name").value.trim();
  if (!name) { showUploadErrors(["name the scenario"]); return; }
  const answer = await call("PUT", "/scenarios/" + encodeURIComponent(name), $("upload-text").value, "application/yaml");
  if (answer.ok) {
    showUploadErrors([]);
    $("upload-result").textContent = (answer.doc.created ? "created " : "replaced ") + name + " (rank " + answer.doc.rank + ")";
  } else {
    $("upload-result").textContent = "";
    const doc = answer.doc || {};
    showUploadErrors(doc.details ? doc.details.map((d) => "line " + d.line + ", column " + d.column + ": " + d.message) : [doc.error || "failed: " + answer.status]);
  }
}

function showUpload(doc) {
  // another dashboard's (or a client's) upload: shown, not acted on
  $("upload-feed").textContent = "last upload seen: " + doc.name + " " + (doc.ok ? "accepted" : "rejected");
}

function showUploadErrors(lines) {
  $("upload-errors").replaceChildren(...lines.map((line) => el("li", { class: "upload-error" }, line)));
}

async function editScenario(event) {
  const name = event.target.closest("[data-scenario]");
  if (!name || event.target.closest("button")) return;
  $("upload-name").value = name.dataset.scenario;
}

// --- token --------------------------------------------------------------------------------------

function showToken(message) {
  $("token-panel").classList.remove("hidden");
  $("token-error").textContent = message || "";
  $("token-input").focus();
}

function hideToken() { $("token-panel").classList.add("hidden"); }

function submitToken(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
  $("token-input").value = "";
  connect();
}

// --- start --------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", submitToken);
  $("filter").addEventListener("input", applyFilter);
  $("journal-rows").addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-seq]");
    if (row) showDetail(Number(row.dataset.seq));
  });
  $("scenarios").addEventListener("click", onRouteAction);
  $("scenarios").addEventListener("dblclick", editScenario);
  $("reset-all").addEventListener("click", resetAll);
  $("reset-session").addEventListener("click", resetSession);
  $("advance").addEventListener("click", advance);
  $("upload").addEventListener("click", upload);
  setInterval(() => { renderChart(); renderClock(); }, 1000);
  setInterval(renderScenarios, 1000); // countdowns and the time line's "now"
  setInterval(() => { if (routesDirty) { routesDirty = false; renderScenarios(); } }, 200);
  renderChart();
  connect();
});
