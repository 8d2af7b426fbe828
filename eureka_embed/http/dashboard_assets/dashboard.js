"use strict";
// The dashboard, drawn from GET dashboard/data and redrawn whenever a watch of it returns.
// Every value from the registry reaches the page through textContent or a checked href:
// never as markup.
(function () {
  const PAGE = 100;
  // Relative to the page, wherever the app is mounted; but without the user:password@ a
  // browser keeps in the page's URL, which fetch refuses.
  // The page is served at its mount's root, reached as /registry or /registry/ alike.
  const here = location.origin + location.pathname.replace(/\/?$/, "/");
  const DATA = new URL("dashboard/data", here).href;
  const ACTIONS = new URL("dashboard/actions", here).href;
  const state = { data: null, index: null, offset: 0, page: 0, rows: [], open: new Set() };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }
  function badge(status) {
    const known = ["UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"];
    return el("span", { class: "status status-" + (known.includes(status) ? status : "UNKNOWN"), text: status });
  }
  function link(url, label) {
    // The server sends only http(s) URLs; checked again here, the page's own rule.
    if (typeof url !== "string" || !/^https?:\/\//i.test(url)) return null;
    return el("a", { href: url, rel: "noopener noreferrer", target: "_blank", text: label });
  }
  function now() { return Date.now() + state.offset; }
  function ago(ms) {
    if (!ms) return "never";
    let s = Math.max(0, Math.round((now() - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s ago";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function when(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "-"; }
  function bytes(n) { return n == null ? "unknown" : (n / 1048576).toFixed(1) + " MiB"; }
  function fact(label, value) { return el("div", {}, el("dt", { text: label }), el("dd", { text: String(value) })); }
  function fill(node, ...children) { node.replaceChildren(...children.filter((c) => c != null)); }

  function drawInfo(info) {
    const sp = info.selfPreservationEnabled
      ? (info.selfPreservationActive
        ? el("p", { class: "warning", text: "Self-preservation is active: fewer renewals arrived in the last minute (" +
          info.renewsLastMinute + ") than the threshold (" + info.renewsThreshold + "), so expired leases are kept " +
          "rather than evicted. Some instances listed as UP may be gone; this ends by itself once renewals come back." })
        : el("p", { class: "note", text: "Self-preservation is standing by: " + info.renewsLastMinute +
          " renewals arrived in the last minute, above the threshold of " + info.renewsThreshold +
          ", so expired leases are evicted normally. Should renewals fall to the threshold (a network split, say), " +
          "the registry would stop evicting." }))
      : el("p", { class: "note", text: "Self-preservation is disabled: expired leases are always evicted." });
    fill($("sp"), sp);
    fill($("facts"),
      fact("Version", info.version), fact("Uptime", info.uptime), fact("Started", when(info.startedAt)),
      fact("Server", info.server), fact("Store", info.store), fact("Python", info.python), fact("CPUs", info.cpus ?? "unknown"),
      fact("Memory in use", bytes(info.memoryBytes)), fact("Renews threshold", info.renewsThreshold),
      fact("Renews (last min)", info.renewsLastMinute), fact("Expected clients", info.expectedClients),
      fact("Evicted (total)", info.evictedTotal), fact("Applications", info.applications),
      fact("Instances", info.instances));
    const peers = info.peers || [];
    if (info.peersError) fill($("peers"), el("p", { class: "muted", text: info.peersError }));
    else if (!peers.length) fill($("peers"), el("p", { class: "muted", text: "No peers: this node runs standalone." }));
    else {
      const up = peers.filter((p) => p.status === "UP").length;
      fill($("peers"), el("p", { text: up + " available, " + (peers.length - up) + " unavailable" }),
        el("ul", { class: "plain" }, ...peers.map((p) => el("li", {}, badge(String(p.status || "UNKNOWN")), " ",
          String(p.url), el("span", { class: "muted", text: " · last success " + (p.lastSuccessAt ? ago(p.lastSuccessAt) : "never") +
            " · queue " + (p.queueLength ?? 0) + (p.lastError ? " · last error: " + p.lastError : "") })))));
    }
    const regions = info.remoteRegions || [];
    if (!regions.length) fill($("regions"), el("p", { class: "muted", text: "No remote regions: reads with ?regions= get this region only." }));
    else fill($("regions"), el("ul", { class: "plain" }, ...regions.map((r) => el("li", {},
      el("span", { class: "status status-" + (r.ok ? "UP" : "DOWN"), text: r.ok ? "OK" : "FAILING" }), " ",
      el("strong", { text: String(r.name) }), " " + String(r.url),
      el("span", { class: "muted", text: " · " + r.instances + " instances · last fetch " + ago(r.lastSuccessAt) +
        (r.ok || !r.lastSuccessAt ? "" : " (serving that copy)") })))));
  }

  function drawChart(samples, info) {
    const ns = "http://www.w3.org/2000/svg";
    const W = 600, H = 160, L = 8, R = 8, T = 10, B = 22;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "renewals per minute and instances over the last hour");
    const end = info.now - (info.now % 60000), start = end - 59 * 60000;
    const x = (ms) => L + ((ms - start) / (59 * 60000)) * (W - L - R);
    const line = (key, colour) => {
      const max = Math.max(1, ...samples.map((s) => s[key]));
      let d = "", last = null;
      for (const s of samples) {
        const px = x(s[0]).toFixed(1), py = (T + (1 - s[key] / max) * (H - T - B)).toFixed(1);
        d += (last !== null && s[0] - last === 60000 ? "L" : "M") + px + " " + py;  // a gap: a missing minute
        last = s[0];
        const dot = document.createElementNS(ns, "circle");
        dot.setAttribute("cx", px); dot.setAttribute("cy", py); dot.setAttribute("r", "2.5");
        dot.setAttribute("fill", colour);
        svg.append(dot);
      }
      const path = document.createElementNS(ns, "path");
      path.setAttribute("d", d || "M0 0");
      path.setAttribute("fill", "none");
      path.setAttribute("stroke", colour);
      path.setAttribute("stroke-width", "2");
      svg.append(path);
      return max;
    };
    const axis = document.createElementNS(ns, "line");
    for (const [k, v] of Object.entries({ x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#b8c4d0" })) axis.setAttribute(k, v);
    svg.append(axis);
    for (const [label, at, anchor] of [["60 min ago", L, "start"], ["now", W - R, "end"]]) {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", at); t.setAttribute("y", H - 6); t.setAttribute("font-size", "12");
      t.setAttribute("fill", "#5a6877"); t.setAttribute("text-anchor", anchor);
      t.textContent = label;
      svg.append(t);
    }
    const renewMax = line(1, "#1a73e8"), countMax = line(2, "#e8710a");
    const latest = samples[samples.length - 1];
    fill($("chart"), svg, el("div", { class: "legend" },
      el("span", {}, el("span", { class: "swatch", style: "background:#1a73e8" }),
        "renewals per minute (now " + (latest ? latest[1] : 0) + ", peak " + renewMax + ")"),
      el("span", {}, el("span", { class: "swatch", style: "background:#e8710a" }),
        "instances (now " + (latest ? latest[2] : 0) + ", peak " + countMax + ")")));
  }

  function drawApps(rows) {
    const apps = new Map();
    for (const r of rows) {
      let a = apps.get(r[0]);
      if (!a) apps.set(r[0], (a = { total: 0, status: {}, zones: {} }));
      a.total++;
      a.status[r[6]] = (a.status[r[6]] || 0) + 1;
      const z = r[8] || "(no zone)";
      a.zones[z] = (a.zones[z] || 0) + 1;
    }
    if (!apps.size) { fill($("apps"), el("p", { class: "muted", text: "No instances are registered." })); return; }
    const counts = (o) => Object.entries(o).sort().map(([k, v]) => k + " " + v).join(", ");
    const body = el("tbody");
    const sorted = [...apps].sort((p, q) => (p[0] < q[0] ? -1 : 1));
    // A registry of many small applications must not freeze the page: the rest are a search away.
    for (const [name, a] of sorted.slice(0, PAGE)) {
      const filter = el("button", { type: "button", text: name, title: "show the instances of " + name });
      filter.addEventListener("click", () => { $("q").value = name; state.page = 0; applyFilter(); $("instances").scrollIntoView(); });
      body.append(el("tr", {}, el("td", {}, filter), el("td", { text: String(a.total) }),
        el("td", { text: counts(a.status) }), el("td", { text: counts(a.zones) })));
    }
    fill($("apps"), el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["Application", "Instances", "By status", "By zone"].map((h) => el("th", { scope: "col", text: h })))),
      body)), sorted.length > PAGE
      ? el("p", { class: "muted", text: `and ${sorted.length - PAGE} more applications: search for them below` })
      : null);
  }

  function searchText(r) {
    if (r._s === undefined) {
      const meta = r[14] ? Object.entries(r[14]).map(([k, v]) => k + "=" + v).join(" ") : "";
      r._s = [r[0], r[1], r[2], r[3], meta].join(" ").toLowerCase();
    }
    return r._s;
  }
  function applyFilter() {
    const q = $("q").value.trim().toLowerCase(), status = $("status").value;
    const all = state.data ? state.data.instances : [];
    state.rows = all.filter((r) => (!status || r[6] === status) && (!q || searchText(r).includes(q)));
    const pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    drawInstances();
  }

  function instanceRow(r, canAct) {
    const key = r[0] + "\u0000" + r[1];
    const d = el("details", { class: "instance" });
    d.open = state.open.has(key);
    d.addEventListener("toggle", () => { if (d.open) state.open.add(key); else state.open.delete(key); });
    const addr = r[3] + ":" + (r[4] || "-") + (r[5] ? " (secure " + r[5] + ")" : "");
    d.append(el("summary", {}, badge(r[6]), el("span", { class: "iid", text: r[1] }),
      el("span", { class: "muted", text: r[0] }), el("span", { class: "addr", text: r[2] + " · " + addr }),
      r[8] ? el("span", { class: "zone", text: "zone " + r[8] }) : null,
      el("span", { class: "age", "data-ms": String(r[10]), text: "renewed " + ago(r[10]) })));
    const facts = el("dl", { class: "facts" }, fact("Host name", r[2]), fact("Address", addr),
      fact("Status", r[6]), fact("Override", r[7] || "none"), fact("Zone", r[8] || "none"),
      fact("Registered", when(r[9])), fact("Last renewal", when(r[10])));
    for (const [k, v] of Object.entries(r[14] || {})) facts.append(fact("metadata " + k, v));
    const links = el("p", {}, ...[[r[11], "status page"], [r[12], "health"], [r[13], "home page"]]
      .map(([u, label]) => link(u, label)).filter(Boolean).flatMap((a) => [a, " "]));
    const body = el("div", { class: "body" }, facts, links.childNodes.length ? links : null);
    if (canAct) {
      const actions = el("div", { class: "actions" });
      const act = (action, label, danger) => {
        const b = el("button", { type: "button", "data-action": action, class: danger ? "danger" : "", text: label });
        b.addEventListener("click", () => confirmAction(action, label, r[0], r[1], b));
        actions.append(b);
      };
      if (r[6] !== "OUT_OF_SERVICE") act("out_of_service", "Take out of service");
      if (r[6] !== "UP" || r[7]) act("in_service", "Put back in service");
      if (r[7]) act("remove_override", "Remove the override");
      act("deregister", "Deregister", true);
      body.append(actions);
    }
    d.append(body);
    return d;
  }

  function drawInstances() {
    const list = $("list"), rows = state.rows, total = state.data ? state.data.instances.length : 0;
    const first = state.page * PAGE, shown = rows.slice(first, first + PAGE);
    const canAct = !!(state.data && state.data.canAct);
    fill(list, ...shown.map((r) => instanceRow(r, canAct)));
    if (!shown.length) list.append(el("p", { class: "muted", text: total ? "No instance matches." : "No instances are registered." }));
    $("count").textContent = rows.length
      ? `showing ${first + 1}–${first + shown.length} of ${rows.length}` + (rows.length !== total ? ` (of ${total})` : "")
      : "";
    $("prev").disabled = state.page === 0;
    $("next").disabled = first + PAGE >= rows.length;
  }

  function drawLeases(id, entries) {
    fill($(id), entries.length
      ? el("ul", { class: "plain" }, ...entries.map((e) => el("li", {}, el("span", { class: "muted", text: when(e[0]) + " " }),
        e[1] === "registered" ? null : el("span", { text: e[1] + " " }), el("strong", { text: e[2] }), " " + e[3])))
      : el("p", { class: "muted", text: "None since this server started." }));
  }

  function draw(data) {
    state.data = data;
    state.offset = data.info.now - Date.now();
    $("subtitle").textContent = "Eureka-compatible service registry · " + when(data.info.now);
    drawInfo(data.info);
    drawChart(data.chart, data.info);
    drawApps(data.instances);
    applyFilter();
    drawLeases("registered", data.registered);
    drawLeases("ended", data.ended);
    // For whoever measures the page (the browser tests): when the first data was on screen.
    if (!performance.getEntriesByName("dashboard-drawn").length) performance.mark("dashboard-drawn");
  }

  const dialog = () => $("confirm");
  function confirmAction(action, label, app, id, button) {
    $("confirm-text").textContent = label + ": " + id + " of " + app + "?";
    const ok = $("confirm-ok");
    ok.textContent = label;
    ok.onclick = async () => {
      dialog().close();
      button.disabled = true;
      try {
        const answer = await fetch(ACTIONS, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-Eureka-Dashboard": "1" },
          body: JSON.stringify({ action, app, id }),
        });
        toast(answer.ok ? label + " done: " + id : "Refused (" + answer.status + "): " + (await answer.text()));
      } catch (e) {
        toast("The server did not answer: " + e);
      }
      button.disabled = false;
    };
    dialog().showModal();
    $("confirm-cancel").focus();
  }
  function toast(message) {
    const t = $("toast");
    t.textContent = message;
    t.className = "show";
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.className = ""; }, 5000);
  }

  async function watch() {
    for (;;) {
      const url = state.index === null ? DATA : DATA + "?index=" + encodeURIComponent(state.index) + "&wait=30s";
      try {
        const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        state.index = answer.headers.get("X-Eureka-Index");
        draw(await answer.json());
        $("live").className = "on";
        $("live").textContent = "live";
      } catch (e) {
        $("live").className = "";
        $("live").textContent = "reconnecting…";
        state.index = null;
        await new Promise((ok) => setTimeout(ok, 2000));
      }
    }
  }

  function start() {
    let typing;
    $("q").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { state.page = 0; applyFilter(); }, 120); });
    $("status").addEventListener("change", () => { state.page = 0; applyFilter(); });
    $("prev").addEventListener("click", () => { state.page--; drawInstances(); });
    $("next").addEventListener("click", () => { state.page++; drawInstances(); });
    $("confirm-cancel").addEventListener("click", () => dialog().close());
    setInterval(() => {
      for (const node of document.querySelectorAll(".age[data-ms]")) node.textContent = "renewed " + ago(Number(node.dataset.ms));
    }, 1000);
    watch();
  }
  start();
})();
