/*
 * defectops line dashboard. Plain JS, no library, nothing from another host: plants are often
 * offline. Every value from the service goes into the page as text (textContent), never as
 * markup. The render functions are pure (a container and a payload in, DOM out) and exported as
 * window.DefectopsDashboard, so each panel can be checked on a known payload.
 */
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const DRIFT_RANK = { drift: 0, warn: 1, ok: 2 };

  // -- small helpers ------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, String(value));
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function isNum(x) {
    return typeof x === "number" && Number.isFinite(x);
  }

  function fmt(x, digits) {
    return isNum(x) ? x.toFixed(digits === undefined ? 3 : digits) : "—";
  }

  function pct(x, digits) {
    return isNum(x) ? (100 * x).toFixed(digits === undefined ? 1 : digits) + "%" : "—";
  }

  function count(x) {
    return isNum(x) ? Math.round(x).toLocaleString("en-US") : "—";
  }

  function ago(iso) {
    if (!iso) return "";
    const then = new Date(iso);
    if (Number.isNaN(then.getTime())) return "";
    const s = Math.max(0, (Date.now() - then.getTime()) / 1000);
    if (s < 90) return Math.round(s) + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 172800) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " days ago";
  }

  function when(iso) {
    if (!iso) return "—";
    const then = new Date(iso);
    if (Number.isNaN(then.getTime())) return String(iso);
    const pad = (n) => String(n).padStart(2, "0");
    const local = then.getFullYear() + "-" + pad(then.getMonth() + 1) + "-" + pad(then.getDate()) +
      " " + pad(then.getHours()) + ":" + pad(then.getMinutes());
    return local + " (" + ago(iso) + ")";
  }

  /** Chart width in SVG units = the container's pixels, so labels stay readable on a phone. */
  function chartWidth(container, fallback) {
    const w = container && container.clientWidth;
    return Math.round(Math.min(1000, Math.max(280, w || fallback)));
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function empty(text) {
    return el("p", { class: "empty", text: text });
  }

  /** GET or POST and parse JSON; never throws: {ok, status, body, error}. */
  async function call(url, options) {
    try {
      const response = await fetch(url, Object.assign({ cache: "no-store" }, options || {}));
      let body = null;
      try {
        body = await response.json();
      } catch (e) {
        body = null;
      }
      return { ok: response.ok, status: response.status, body: body, error: null };
    } catch (e) {
      return { ok: false, status: 0, body: null, error: String(e && e.message ? e.message : e) };
    }
  }

  function errorText(result) {
    const err = result.body && result.body.error;
    if (err && err.message) return err.message + (err.code ? " (" + err.code + ")" : "");
    if (result.status === 0) return "the service did not answer (" + (result.error || "network") + ")";
    return "HTTP " + result.status;
  }

  // -- champion -------------------------------------------------------------------------------

  function renderChampion(container, registry) {
    clear(container);
    const champion = registry && registry.champion;
    if (!champion) {
      container.append(empty("No champion is being served."));
      return;
    }
    container.append(
      el("div", { class: "version" }, "version ",
        el("span", { "data-testid": "champion-version", text: champion.version })),
      el("div", { class: "muted" },
        "chunk " + (champion.chunk_id ?? "—") + " · " + (champion.model || "?") +
        (champion.strategy ? ", " + champion.strategy : "")),
    );
    const promoted = champion.promoted;
    const facts = el("dl", { class: "facts" });
    const fact = (name, value, testid) => {
      facts.append(el("dt", { text: name }), el("dd", { "data-testid": testid, text: value }));
    };
    fact("threshold", fmt(champion.threshold, 3), "champion-threshold");
    if (promoted) {
      const how = { gate: "promoted by the gate", promote: "promoted by hand",
        rollback: "rolled back to" }[promoted.action] || (promoted.action || "?");
      fact("champion since", when(promoted.at), "champion-since");
      fact("how", how + (promoted.from_version ? ", replacing version " + promoted.from_version
        : " (first champion)") + (promoted.by ? " · " + promoted.by : ""), "champion-how");
      fact("why", promoted.reason || "—", "champion-why");
    } else {
      fact("why", champion.gate_reason || "—", "champion-why");
    }
    fact("trained", when(champion.trained_at), "champion-trained");
    fact("rows seen", count(champion.rows_seen), "champion-rows");
    fact("serving since", when(champion.loaded_at), "champion-loaded");
    container.append(facts);

    const holdout = champion.holdout_rows ? " (" + count(champion.holdout_rows) + " hold-out rows" +
      (isNum(champion.defect_rate) ? ", " + pct(champion.defect_rate) + " defective" : "") + ")" : "";
    container.append(el("h3", { text: "Hold-out metrics" + holdout }));
    const body = el("tbody");
    for (const m of champion.metrics || []) {
      let cls = "";
      if (isNum(m.value) && isNum(m.baseline) && m.value !== m.baseline) {
        const better = m.lower_is_better ? m.value < m.baseline : m.value > m.baseline;
        cls = better ? "better" : "worse";
      }
      body.append(el("tr", { "data-metric": m.name },
        el("td", { text: m.label }),
        el("td", { class: "num " + cls, text: fmt(m.value) }),
        el("td", { class: "num", text: fmt(m.baseline) })));
    }
    container.append(el("div", { class: "table-wrap" }, el("table", { "data-testid": "champion-metrics" },
      el("thead", null, el("tr", null,
        el("th", { text: "metric" }), el("th", { class: "num", text: "champion" }),
        el("th", { class: "num", text: "baseline" }))),
      body)));
    container.append(el("p", { class: "muted",
      text: "Baseline: a model that always answers \u201cno defect\u201d, on the same rows." }));
  }

  // -- live -----------------------------------------------------------------------------------

  function tile(label, value, detail, testid) {
    return el("div", { class: "tile", "data-testid": testid },
      el("div", { class: "label", text: label }),
      el("div", { class: "value", text: value }),
      detail ? el("div", { class: "detail", text: detail }) : null);
  }

  function renderLive(container, live) {
    clear(container);
    if (!live) {
      container.append(empty("No figures: the service did not answer."));
      return;
    }
    const last = live.last_minute || {};
    const lat = last.latency_ms || {};
    const totals = live.totals || {};
    container.append(el("div", { class: "tiles" },
      tile("requests / min", count(last.requests),
        last.errors ? count(last.errors) + " errors" : "no errors", "live-requests"),
      tile("parts scored / min", count(last.predictions), null, "live-predictions"),
      tile("flagged defective", pct(last.flagged_rate),
        count(last.flagged) + " of " + count(last.predictions) +
        (isNum(live.threshold) ? " · threshold " + fmt(live.threshold) : ""), "live-flagged"),
      tile("latency p50 / p95 / p99",
        isNum(lat.p50) ? fmt(lat.p50, 1) + " ms" : "—",
        isNum(lat.p95) ? "p95 " + fmt(lat.p95, 1) + " · p99 " + fmt(lat.p99, 1) + " ms" : "no requests",
        "live-latency")));
    container.append(el("h3", { text: "Parts scored per minute, last " + (live.series || []).length +
      " min (flagged in red)" }));
    container.append(renderLiveChart(live.series || [], chartWidth(container, 360)));
    container.append(el("p", { class: "muted", "data-testid": "live-totals",
      text: "Since start: " + count(totals.requests) + " requests, " + count(totals.predictions) +
        " parts, " + count(totals.flagged) + " flagged (" + pct(totals.flagged_rate) + "), " +
        count(totals.errors) + " errors." }));
  }

  function renderLiveChart(series, width) {
    const W = width || 360, H = 120, L = 36, R = 6, T = 8, B = 20;
    const chart = svgEl("svg", { class: "chart", viewBox: "0 0 " + W + " " + H,
      role: "img", "aria-label": "parts scored per minute", "data-testid": "live-chart" });
    const top = Math.max(1, ...series.map((s) => s.predictions || 0));
    const y = (v) => T + (H - T - B) * (1 - v / top);
    chart.append(svgEl("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    chart.append(svgEl("text", { x: L - 4, y: T + 4, "text-anchor": "end" }, count(top)));
    chart.append(svgEl("text", { x: L - 4, y: H - B, "text-anchor": "end" }, "0"));
    const n = Math.max(series.length, 1);
    const step = (W - L - R) / n;
    series.forEach((s, i) => {
      const x = L + i * step + 1;
      const w = Math.max(1, step - 2);
      const total = s.predictions || 0;
      const flagged = s.flagged || 0;
      const label = new Date(s.start * 1000).toTimeString().slice(0, 5) + ": " + count(total) +
        " parts, " + count(flagged) + " flagged, " + count(s.requests) + " requests";
      const bar = svgEl("rect", { class: "bar", x: x, width: w, y: y(total),
        height: H - B - y(total), "data-testid": "live-bar" });
      bar.append(svgEl("title", {}, label));
      chart.append(bar);
      if (flagged) {
        chart.append(svgEl("rect", { class: "bar-flagged", x: x, width: w, y: y(flagged),
          height: H - B - y(flagged) }));
      }
    });
    if (series.length) {
      const first = new Date(series[0].start * 1000).toTimeString().slice(0, 5);
      chart.append(svgEl("text", { x: L, y: H - 4 }, first));
      chart.append(svgEl("text", { x: W - R, y: H - 4, "text-anchor": "end" }, "now"));
    }
    return chart;
  }

  // -- drift ----------------------------------------------------------------------------------

  function worstFirst(features) {
    return (features || []).slice().sort((a, b) => {
      const ra = DRIFT_RANK[a.status] ?? 3, rb = DRIFT_RANK[b.status] ?? 3;
      if (ra !== rb) return ra - rb;
      const pa = isNum(a.psi) ? a.psi : -1, pb = isNum(b.psi) ? b.psi : -1;
      return pb - pa;
    });
  }

  function driftList(features, testid) {
    const list = el("ul", { class: "drift-list", "data-testid": testid });
    for (const f of worstFirst(features)) {
      list.append(el("li", { "data-testid": "drift-feature", "data-status": f.status,
        "data-feature": f.feature },
        el("span", { class: "feature", text: f.feature + (f.kind ? " (" + f.kind + ")" : "") }),
        el("span", { class: "psi", title: "population stability index",
          text: isNum(f.psi) ? "PSI " + f.psi.toFixed(3) : "PSI —" }),
        el("span", { class: "badge " + (f.status || ""), text: f.status || "?" })));
    }
    return list;
  }

  /**
   * Render GET /monitoring (null when it answered 404 or failed). Both lists are drawn worst
   * first when present; with neither, a clear "no monitoring data yet".
   */
  function renderDrift(container, payload) {
    clear(container);
    const window_ = payload && payload.features && payload.features.length ? payload : null;
    const report = payload && payload.report && (payload.report.features || []).length
      ? payload.report : null;
    if (!window_ && !report) {
      container.append(el("p", { class: "empty", "data-testid": "drift-empty",
        text: "No monitoring data yet." }));
      container.append(el("p", { class: "muted",
        text: "Drift shows here once the service has scored enough parts to compare with the " +
          "champion's training data, or once a monitor report was written." }));
      return;
    }
    const status = payload.status || "unknown";
    container.append(el("p", null, "Overall: ",
      el("span", { class: "badge " + status, "data-testid": "drift-status", text: status })));
    if (window_) {
      const w = payload.window || {};
      container.append(el("h3", { text: "Service window: last " + count(w.size) + " of " +
        count(w.capacity) + " parts" }));
      container.append(driftList(payload.features, "drift-window"));
    }
    if (report) {
      container.append(el("h3", { text: "Latest report: " + (report.batch || "?") + ", " +
        when(report.created_at) + " (" + (report.status || "?") + ")" }));
      container.append(driftList(report.features, "drift-report"));
    }
  }

  // -- learning curve -------------------------------------------------------------------------

  function renderCurve(container, curve, metric) {
    clear(container);
    const points = (curve && curve.points) || [];
    if (!points.length) {
      container.append(empty("No run yet: the curve shows one point per chunk of the last run."));
      return;
    }
    const info = (curve.metrics || []).find((m) => m.name === metric) ||
      { name: metric, label: metric, baseline: null };
    const W = chartWidth(container, 640), H = W < 500 ? 220 : 260, L = 44, R = 14, T = 12, B = 34;
    const values = points.map((p) => (p.values || {})[metric]).filter(isNum);
    let lo = Math.min(0, ...values, isNum(info.baseline) ? info.baseline : 0);
    let hi = Math.max(1, ...values);
    lo = Math.floor(lo * 4) / 4;
    hi = Math.ceil(hi * 4) / 4;
    const x = (i) => points.length === 1 ? (L + W - R) / 2 : L + (W - L - R) * i / (points.length - 1);
    const y = (v) => T + (H - T - B) * (hi - v) / (hi - lo || 1);
    const chart = svgEl("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": info.label + " per chunk", "data-testid": "curve-svg" });
    for (let v = lo; v <= hi + 1e-9; v += 0.25) {
      chart.append(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      chart.append(svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(2)));
    }
    chart.append(svgEl("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    if (isNum(info.baseline)) {
      const line = svgEl("line", { class: "baseline", x1: L, x2: W - R, y1: y(info.baseline),
        y2: y(info.baseline), "data-testid": "curve-baseline" });
      line.append(svgEl("title", {}, "majority-class baseline " + fmt(info.baseline)));
      chart.append(line);
    }
    let d = "";
    let pen = false;
    points.forEach((p, i) => {
      const v = (p.values || {})[metric];
      if (!isNum(v)) { pen = false; return; }
      d += (pen ? " L " : " M ") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      pen = true;
    });
    if (d) chart.append(svgEl("path", { class: "series", d: d.trim(), "data-testid": "curve-line" }));
    const every = Math.ceil(points.length / Math.max(2, Math.floor((W - L - R) / 36)));
    points.forEach((p, i) => {
      const v = (p.values || {})[metric];
      if (i % every === 0 || i === points.length - 1) {
        chart.append(svgEl("text", { x: x(i), y: H - B + 15, "text-anchor": "middle" },
          String(p.chunk_id)));
      }
      if (!isNum(v)) return;
      const title = "chunk " + p.chunk_id + " · version " + p.version + " · " + info.label + " " +
        fmt(v) + (p.promoted ? " · promoted" : " · not promoted") + (p.champion ? " · serving now" : "");
      if (p.champion) {
        chart.append(svgEl("circle", { class: "champion-ring", cx: x(i), cy: y(v), r: 10,
          "data-testid": "curve-champion", "data-chunk": p.chunk_id }));
      }
      const dot = svgEl("circle", { class: "pt" + (p.promoted ? " promoted" : ""), cx: x(i),
        cy: y(v), r: p.promoted ? 6 : 4.5, "data-testid": "curve-point", "data-chunk": p.chunk_id,
        "data-version": p.version, "data-promoted": p.promoted ? "true" : "false" });
      dot.append(svgEl("title", {}, title));
      chart.append(dot);
    });
    chart.append(svgEl("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" },
      "chunk (model trained on data up to it)"));
    container.append(chart);
  }

  // -- models and history ---------------------------------------------------------------------

  function renderModels(container, registry) {
    clear(container);
    const models = (registry && registry.models) || [];
    if (!models.length) {
      container.append(empty("No models yet."));
      return;
    }
    const columns = ["version", "chunk", "gate", "role", "PR-AUC", "F1", "MCC", "accuracy",
      "next-chunk PR-AUC", "reason"];
    const numeric = new Set(["PR-AUC", "F1", "MCC", "accuracy", "next-chunk PR-AUC"]);
    const head = el("tr", null, ...columns.map((h) =>
      el("th", { class: numeric.has(h) ? "num" : null, text: h })));
    const body = el("tbody");
    for (const m of models.slice().reverse()) {
      const metrics = m.metrics || {};
      const gate = m.status === "production" ? "promoted"
        : (m.status === "local_only" ? "kept out" : m.status);
      const cells = [
        el("span", { text: m.version }),
        el("span", { text: m.chunk_id }),
        el("span", { class: "badge " + (m.status === "production" ? "ok" : "warn"), text: gate }),
        el("span", { text: m.role || "—" }),
        fmt(metrics.pr_auc), fmt(metrics.f1), fmt(metrics.mcc), fmt(metrics.accuracy),
        fmt(m.prequential_pr_auc), m.reason || "",
      ];
      body.append(el("tr", { class: m.role === "champion" ? "is-champion" : null,
        "data-testid": "model-row", "data-version": m.version },
        ...cells.map((cell, i) => el("td", {
          class: numeric.has(columns[i]) ? "num" : (columns[i] === "reason" ? "reason" : null),
          "data-label": columns[i] }, cell))));
    }
    const run = registry.run || {};
    container.append(el("p", { class: "muted", text: models.length + " models, " + (run.model || "?") +
      ", " + (run.strategy || "?") + (run.gate_rule ? ", gate " + run.gate_rule : "") +
      (run.finished === false ? " · run in progress" : "") }));
    container.append(el("div", { class: "table-wrap" },
      el("table", { class: "stack", "data-testid": "models-table" },
        el("thead", null, head), body)));
    for (const problem of registry.problems || []) {
      container.append(el("p", { class: "error", text: problem }));
    }
  }

  function renderHistory(container, registry) {
    clear(container);
    const history = (registry && registry.history) || [];
    if (!history.length) {
      container.append(empty("No champion yet: nothing has been promoted."));
      return;
    }
    const list = el("ol", { class: "history", reversed: true });
    for (const h of history) {
      const change = (h.from_version ? "version " + h.from_version + " → " : "first champion: ") +
        "version " + h.to_version;
      list.append(el("li", { "data-testid": "history-entry", "data-action": h.action },
        el("span", { class: "badge " + (h.action === "rollback" ? "warn" : "ok"), text: h.action }),
        " ", el("strong", { text: change }), " — ", h.reason || "",
        el("div", { class: "meta", text: when(h.at) + (h.by ? " · by " + h.by : "") })));
    }
    container.append(list);
  }

  // -- page state and refresh ------------------------------------------------------------------

  const state = { registry: null, live: null, metric: null, busy: false, timer: null };

  function byId(id) {
    return document.getElementById(id);
  }

  function setStatus(text, cls) {
    const pill = byId("service-status");
    pill.textContent = text;
    pill.className = "pill " + (cls || "");
  }

  function updateMetricChoice(curve) {
    const select = byId("curve-metric");
    const metrics = (curve && curve.metrics) || [];
    const names = metrics.map((m) => m.name);
    if (select.options.length !== names.length ||
        names.some((n, i) => select.options[i].value !== n)) {
      clear(select);
      for (const m of metrics) select.append(el("option", { value: m.name, text: m.label }));
    }
    if (!state.metric || !names.includes(state.metric)) state.metric = curve ? curve.metric : null;
    if (state.metric) select.value = state.metric;
  }

  function renderRegistry(registry) {
    const champion = registry && registry.champion;
    byId("empty").hidden = !!champion || !registry;
    const loadError = byId("load-error");
    const err = registry && registry.serving && registry.serving.error;
    loadError.hidden = !err;
    loadError.textContent = err ? "The last model found was refused: " + err : "";
    renderChampion(byId("champion"), registry);
    updateMetricChoice(registry && registry.learning_curve);
    renderCurve(byId("curve"), registry && registry.learning_curve, state.metric);
    const hasCurve = !!(registry && registry.learning_curve &&
      (registry.learning_curve.points || []).length);
    for (const node of document.querySelectorAll("#curve-card .controls, #curve-card .legend")) {
      node.hidden = !hasCurve;
    }
    renderModels(byId("models"), registry);
    renderHistory(byId("history"), registry);
    const open = byId("rollback-open");
    const target = registry && registry.rollback_target;
    open.disabled = !champion || !target;
    open.textContent = champion && target
      ? "Roll back to version " + target + "…"
      : (champion ? "Roll back… (no previous champion)" : "Roll back… (no champion)");
    byId("rollback-what").textContent = champion && target
      ? "Version " + champion.version + " stops serving and version " + target +
        " becomes champion again. The change is recorded in the history."
      : "";
  }

  async function refresh() {
    if (state.busy) return;
    state.busy = true;
    try {
      const [registry, live, monitoring] = await Promise.all([
        call("api/registry"), call("api/live"), call("monitoring")]);
      if (registry.ok) {
        state.registry = registry.body;
        renderRegistry(state.registry);
        const serving = state.registry.serving || {};
        if (serving.ready) setStatus("serving version " + serving.version, "ok");
        else setStatus("no model: not ready", "warn");
      } else {
        setStatus("service unreachable: " + errorText(registry), "bad");
      }
      state.live = live.ok ? live.body : null;
      renderLive(byId("live"), state.live);
      renderDrift(byId("drift"), monitoring.ok ? monitoring.body : null);
      byId("updated").textContent = new Date().toTimeString().slice(0, 8);
    } finally {
      state.busy = false;
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      await refresh();
      schedule();
    }, REFRESH_MS);
  }

  function showMessage(text, ok) {
    const message = byId("rollback-message");
    message.hidden = false;
    message.textContent = text;
    message.className = "message " + (ok ? "ok" : "error");
  }

  async function rollback() {
    const tokenInput = byId("rollback-token");
    const token = tokenInput.value.trim();
    tokenInput.value = ""; // the token lives only for this one request
    if (!token) {
      showMessage("Enter the admin token to roll back.", false);
      return;
    }
    const reason = byId("rollback-reason").value.trim() || "rolled back from the dashboard";
    const confirmButton = byId("rollback-confirm");
    confirmButton.disabled = true;
    try {
      const result = await call("admin/rollback", {
        method: "POST",
        headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
        body: JSON.stringify({ reason: reason }),
      });
      if (result.ok && result.body) {
        showMessage("Rolled back: version " + result.body.model_version + " is serving (was " +
          (result.body.previous_version || "none") + ").", true);
        byId("rollback-form").hidden = true;
      } else {
        showMessage("Rollback refused: " + errorText(result) + ". The champion is unchanged.", false);
      }
    } finally {
      confirmButton.disabled = false;
    }
    await refresh();
  }

  function start() {
    byId("curve-metric").addEventListener("change", (event) => {
      state.metric = event.target.value;
      renderCurve(byId("curve"), state.registry && state.registry.learning_curve, state.metric);
    });
    byId("rollback-open").addEventListener("click", () => {
      byId("rollback-form").hidden = false;
      byId("rollback-message").hidden = true;
      byId("rollback-token").focus();
    });
    byId("rollback-cancel").addEventListener("click", () => {
      byId("rollback-token").value = "";
      byId("rollback-form").hidden = true;
    });
    byId("rollback-confirm").addEventListener("click", rollback);
    byId("rollback-token").addEventListener("keydown", (event) => {
      if (event.key === "Enter") rollback();
    });
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        renderCurve(byId("curve"), state.registry && state.registry.learning_curve, state.metric);
        renderLive(byId("live"), state.live);
      }, 150);
    });
    refresh().then(schedule);
  }

  window.DefectopsDashboard = {
    renderChampion, renderLive, renderDrift, renderCurve, renderModels, renderHistory,
    worstFirst, refresh,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
