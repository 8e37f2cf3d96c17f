// ccproxy conversation viewer. Captured content is untrusted: it reaches the DOM only as
// text nodes (textContent), never as HTML; links are made only for http(s) URLs.
"use strict";
(function () {
  const body = document.body;
  const app = document.getElementById("app");
  const statusEl = document.getElementById("status");
  const live = body.dataset.mode === "live";
  let exported = null;
  if (!live) {
    exported = JSON.parse(document.getElementById("ccproxy-data").textContent);
  }
  const state = { sort: "last", desc: true, text: "", client: "", provider: "", model: "", sessions: [] };

  // ---- DOM helpers -------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function details(summary, cls, fill, open) {
    const d = el("details", { class: cls });
    d.append(el("summary", {}, summary));
    let filled = false;
    const doFill = () => {
      if (!filled) {
        filled = true;
        const c = fill();
        if (c) d.append(c);
      }
    };
    if (open) {
      d.open = true;
      doFill();
    }
    d.addEventListener("toggle", () => d.open && doFill());
    return d;
  }
  function size(n) {
    if (n === null || n === undefined) return "?";
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    return (n / 1048576).toFixed(1) + " MB";
  }
  function num(n) {
    return (n || 0).toLocaleString("en-US");
  }
  function when(t) {
    return t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) : "-";
  }
  function pretty(v) {
    return typeof v === "string" ? v : JSON.stringify(v, null, 2);
  }
  function prettyBody(side) {
    if (side.base64) return "(" + side.body.length + " bytes of base64: binary body)";
    try {
      return JSON.stringify(JSON.parse(side.body), null, 2);
    } catch (e) {
      return side.body; // an event stream or plain text
    }
  }

  // ---- safe markdown: a small subset, built as DOM nodes ------------------------------------
  const SAFE_URL = /^https?:\/\/[^\s]+$/i;
  function inline(text) {
    const out = [];
    const re = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*)|(\[[^\]\n]+\]\([^)\s]+\))/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) out.push(text.slice(last, m.index));
      const t = m[0];
      if (m[1]) out.push(el("code", {}, t.slice(1, -1)));
      else if (m[2]) out.push(el("strong", {}, t.slice(2, -2)));
      else if (m[3]) out.push(el("em", {}, t.slice(1, -1)));
      else {
        const label = t.slice(1, t.indexOf("]("));
        const url = t.slice(t.indexOf("](") + 2, -1);
        // anything but http(s) (javascript:, data:, ...) stays visible text
        out.push(SAFE_URL.test(url) ? el("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, label) : t);
      }
      last = m.index + t.length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
  function markdown(text) {
    const root = el("div", { class: "md" });
    const lines = String(text).split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (line.startsWith("```")) {
        const code = [];
        i++;
        while (i < lines.length && !lines[i].startsWith("```")) code.push(lines[i++]);
        i++;
        root.append(el("pre", { class: "code" }, code.join("\n")));
        continue;
      }
      const h = /^(#{1,6})\s+(.*)$/.exec(line);
      if (h) {
        root.append(el("h" + Math.min(h[1].length + 2, 6), {}, inline(h[2])));
        i++;
        continue;
      }
      if (/^\s*([-*+]|\d+\.)\s+/.test(line)) {
        const ordered = /^\s*\d+\./.test(line);
        const list = el(ordered ? "ol" : "ul", {});
        while (i < lines.length && /^\s*([-*+]|\d+\.)\s+/.test(lines[i])) {
          list.append(el("li", {}, inline(lines[i].replace(/^\s*([-*+]|\d+\.)\s+/, ""))));
          i++;
        }
        root.append(list);
        continue;
      }
      if (line.startsWith(">")) {
        const quote = [];
        while (i < lines.length && lines[i].startsWith(">")) quote.push(lines[i++].replace(/^>\s?/, ""));
        root.append(el("blockquote", {}, inline(quote.join("\n"))));
        continue;
      }
      if (!line.trim()) {
        i++;
        continue;
      }
      const para = [];
      while (i < lines.length && lines[i].trim() && !/^(```|#{1,6}\s|>|\s*([-*+]|\d+\.)\s)/.test(lines[i])) {
        para.push(lines[i++]);
      }
      if (!para.length) para.push(lines[i++]);
      root.append(el("p", {}, inline(para.join("\n"))));
    }
    return root;
  }

  // ---- data ----------------------------------------------------------------------------------
  async function getJSON(path) {
    const r = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status + " " + (await r.text()).slice(0, 300));
    return r.json();
  }
  function loadSessions() {
    return live ? getJSON("/ui/api/sessions") : Promise.resolve(exported.sessions);
  }
  function loadConversation(key) {
    if (!live) return Promise.resolve(exported.conversations[key] || null);
    return getJSON("/ui/api/session?key=" + encodeURIComponent(key));
  }
  function loadRaw(turn) {
    if (turn.raw) return Promise.resolve(turn.raw);
    return getJSON("/ui/api/raw?id=" + encodeURIComponent(turn.flow_id));
  }

  // ---- sessions list -------------------------------------------------------------------------
  const COLUMNS = [
    ["clients", "Client"],
    ["providers", "Provider"],
    ["models", "Model(s)"],
    ["turns", "Turns"],
    ["first", "First"],
    ["last", "Last"],
    ["input_tokens", "In"],
    ["output_tokens", "Out"],
    ["cache_read_tokens", "Cache read"],
    ["cache_write_tokens", "Cache write"],
    ["cost_usd", "Cost"],
    ["errors", "Errors"],
  ];
  function sortKey(s, key) {
    const v = s[key];
    return Array.isArray(v) ? v.join(",") : v === null || v === undefined ? -1 : v;
  }
  function filtered() {
    const text = state.text.toLowerCase();
    let rows = state.sessions.filter(
      (s) =>
        (!state.client || s.clients.includes(state.client)) &&
        (!state.provider || s.providers.includes(state.provider)) &&
        (!state.model || s.models.includes(state.model)) &&
        (!text || [s.key, s.hint, ...s.clients, ...s.providers, ...s.models].join(" ").toLowerCase().includes(text)),
    );
    rows = rows.slice().sort((a, b) => {
      const x = sortKey(a, state.sort);
      const y = sortKey(b, state.sort);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return state.desc ? -c : c;
    });
    return rows;
  }
  function select(name, label, values) {
    const s = el("select", { id: "filter-" + name, "aria-label": label }, el("option", { value: "" }, "any " + label));
    for (const v of values) s.append(el("option", { value: v }, v));
    s.value = state[name];
    s.addEventListener("change", () => {
      state[name] = s.value;
      drawTable();
    });
    return s;
  }
  function uniq(field) {
    return [...new Set(state.sessions.flatMap((s) => s[field]))].sort();
  }
  function drawTable() {
    const table = document.getElementById("sessions");
    if (!table) return;
    const head = el(
      "tr",
      {},
      el("th", {}, "Session"),
      COLUMNS.map(([key, label]) =>
        el(
          "th",
          {
            class: "sortable" + (state.sort === key ? (state.desc ? " desc" : " asc") : ""),
            "data-sort": key,
            onclick: () => {
              state.desc = state.sort === key ? !state.desc : true;
              state.sort = key;
              drawTable();
            },
          },
          label,
        ),
      ),
    );
    const rows = filtered().map((s) =>
      el(
        "tr",
        { class: "session", "data-key": s.key },
        el("td", {}, el("a", { href: "#/s/" + encodeURIComponent(s.key) }, s.key), el("div", { class: "hint" }, s.hint)),
        el("td", {}, s.clients.join(", ")),
        el("td", {}, s.providers.join(", ")),
        el("td", {}, s.models.join(", ")),
        el("td", { class: "n" }, s.turns),
        el("td", { class: "t" }, when(s.first)),
        el("td", { class: "t" }, when(s.last)),
        el("td", { class: "n" }, num(s.input_tokens)),
        el("td", { class: "n" }, num(s.output_tokens)),
        el("td", { class: "n" }, num(s.cache_read_tokens)),
        el("td", { class: "n" }, num(s.cache_write_tokens)),
        el("td", { class: "n" }, s.cost_usd === null ? "-" : "$" + s.cost_usd.toFixed(4)),
        el("td", { class: "n" + (s.errors ? " err" : "") }, s.errors),
      ),
    );
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
    document.getElementById("count").textContent = rows.length + " of " + state.sessions.length + " session(s)";
  }
  async function showList(refresh) {
    state.sessions = await loadSessions();
    if (refresh && document.getElementById("sessions")) {
      drawTable(); // a live update keeps the filters (and the caret in the text box) as they are
      return;
    }
    const text = el("input", { id: "filter-text", type: "search", placeholder: "filter text", value: state.text });
    text.addEventListener("input", () => {
      state.text = text.value;
      drawTable();
    });
    app.replaceChildren(
      el(
        "div",
        { class: "filters" },
        text,
        select("client", "client", uniq("clients")),
        select("provider", "provider", uniq("providers")),
        select("model", "model", uniq("models")),
        el("span", { id: "count" }),
      ),
      el("table", { id: "sessions" }),
    );
    drawTable();
  }

  // ---- conversation ----------------------------------------------------------------------------
  const IMAGE = /^image\/(png|jpeg|gif|webp)$/;
  function renderPart(p) {
    switch (p.type) {
      case "text":
        return el("div", { class: "part text" }, markdown(p.text));
      case "thinking":
        return details(
          p.redacted ? "Thinking (redacted)" : "Thinking (" + num(p.text.length) + " chars)",
          "part thinking",
          () => el("pre", { class: "wrap" }, p.text),
        );
      case "tool_use":
        return el(
          "div",
          { class: "part tool-use" + (p.paired ? " paired" : ""), "data-tool-id": p.id || "" },
          el("div", { class: "label" }, "⚙ tool call ", el("b", {}, p.name), " ", el("code", {}, p.id || "")),
          el("pre", { class: "wrap" }, pretty(p.input)),
          p.paired ? el("div", { class: "pair-note" }, "↳ its result follows in the next turn") : null,
        );
      case "tool_result":
        return el(
          "div",
          { class: "part tool-result" + (p.is_error ? " err" : "") + (p.paired ? " paired" : ""), "data-tool-id": p.tool_use_id || "" },
          el("div", { class: "label" }, "↳ result of ", el("b", {}, p.name || "?"), " ", el("code", {}, p.tool_use_id || "")),
          p.content.map(renderPart),
        );
      case "image":
        if (p.data && IMAGE.test(p.media_type || "")) {
          return el("div", { class: "part image" }, el("img", { src: "data:" + p.media_type + ";base64," + p.data, alt: p.name || "image" }));
        }
        return el("div", { class: "part image" }, "[image " + (p.media_type || "") + " " + size(p.size) + (p.url ? " " + p.url : "") + "]");
      case "document":
      case "audio":
        return el("div", { class: "part document" }, p.type + ": ", el("b", {}, p.name || "(unnamed)"), " " + (p.media_type || "") + " " + size(p.size) + (p.url ? " " + p.url : ""));
      default:
        return el("pre", { class: "part other wrap" }, pretty(p.data));
    }
  }
  function renderMessage(m, n) {
    return el("div", { class: "msg role-" + m.role }, el("div", { class: "role" }, "#" + n + " " + m.role), m.parts.map(renderPart));
  }
  function renderRequest(req, earlier, offset) {
    if (req.error) return el("div", { class: "err" }, "request not shown: " + req.error);
    const box = el("div", { class: "request" });
    if (req.system !== null && req.system !== undefined) {
      box.append(details("System prompt (" + size(req.system_size) + ")", "system", () => el("pre", { class: "wrap" }, req.system)));
    }
    if (req.tools.length) {
      box.append(
        details("Tools (" + req.tools.length + ")", "tools", () =>
          el("div", {}, req.tools.map((t) => details(t.name, "tool", () => el("div", {}, el("p", {}, t.description || ""), el("pre", {}, pretty(t.schema || t.builtin)))))),
        ),
      );
    }
    if (earlier && earlier().length) {
      box.append(details(offset + " earlier message(s), unchanged", "history", () => el("div", {}, earlier().map((m, i) => renderMessage(m, i + 1)))));
    }
    req.messages.forEach((m, i) => box.append(renderMessage(m, offset + i + 1)));
    return box;
  }
  function renderResponse(resp, timeline) {
    if (!resp) return el("div", { class: "response err" }, "no response");
    const box = el("div", { class: "response" }, el("div", { class: "role" }, "response · HTTP " + resp.status));
    if (resp.error) box.append(el("div", { class: "err" }, resp.error));
    (resp.parts || []).forEach((p) => box.append(renderPart(p)));
    const u = resp.usage;
    box.append(
      el(
        "div",
        { class: "facts" },
        el("span", { class: "stop" }, "stop: " + (resp.stop_reason || "-")),
        u ? el("span", { class: "usage" }, "in " + num(u.input_tokens) + " · out " + num(u.output_tokens) + " · cache read " + num(u.cache_read_tokens) + " · cache write " + num(u.cache_write_tokens)) : null,
        timeline ? el("span", { class: "timeline" }, "stream: TTFB " + timeline.ttfb_ms + " ms · last event " + timeline.last_event_ms + " ms · " + timeline.events + " events") : null,
      ),
    );
    return box;
  }
  function renderChanges(ch) {
    const box = el("div", { class: "changes" });
    if (ch.first) {
      box.append("first turn of its thread: " + ch.appended + " message(s)");
      return box;
    }
    box.append("since turn " + (ch.previous + 1) + ": +" + ch.appended + " message(s) appended");
    if (ch.rewritten) box.append(el("span", { class: "flag rewritten" }, ch.rewritten + " earlier message(s) changed"));
    if (ch.system_changed) box.append(el("span", { class: "flag system-changed" }, "⚠ system prompt changed (" + size(ch.system_size_before) + " before) — a cache miss"));
    const tools = [
      ch.tools_added.length ? "added " + ch.tools_added.join(", ") : "",
      ch.tools_removed.length ? "removed " + ch.tools_removed.join(", ") : "",
      ch.tools_changed.length ? "changed " + ch.tools_changed.join(", ") : "",
    ].filter(Boolean);
    if (tools.length) box.append(el("span", { class: "flag tools-changed" }, "⚠ tools " + tools.join("; ")));
    return box;
  }
  function renderRaw(turn) {
    return details("Raw request/response (redacted)", "raw", () => {
      const holder = el("div", {}, "loading…");
      loadRaw(turn).then(
        (raw) =>
          holder.replaceChildren(
            ...Object.entries(raw)
              .filter(([, v]) => v)
              .map(([k, v]) => el("div", { class: "raw-side" }, el("h4", {}, k), el("pre", {}, JSON.stringify(v.head, null, 2)), el("pre", { class: "wrap" }, prettyBody(v)))),
          ),
        (e) => holder.replaceChildren(el("span", { class: "err" }, String(e))),
      );
      return holder;
    });
  }
  function renderTurn(turn, history) {
    const t = el("section", { class: "turn", id: "turn-" + turn.index, "data-flow": turn.flow_id || "" });
    const req = turn.request;
    const model = req.model || (turn.response && turn.response.model) || "";
    t.append(
      el(
        "h3",
        {},
        "Turn " + (turn.index + 1) + " · " + when(turn.time) + " · " + (turn.provider || "-") + " · " + model + " · " + turn.client + " · " + (turn.client_wire || "?") + (turn.converted ? " → " + turn.upstream_wire : ""),
      ),
    );
    if (turn.error) t.append(el("div", { class: "err" }, turn.error));
    t.append(renderChanges(turn.changes));
    const ch = turn.changes;
    const earlier = ch.first ? null : () => history(ch.previous).slice(0, ch.common);
    const clientView = el("div", { class: "side client-view" }, el("h4", {}, "as the client sent it (" + turn.client_wire + ")"), renderRequest(req, earlier, ch.first ? 0 : ch.common), renderResponse(turn.response, turn.timeline));
    const sides = el("div", { class: "sides" }, clientView);
    t.append(sides);
    if (turn.converted && turn.upstream) {
      let upstream = null;
      const button = el("button", { class: "upstream-toggle", type: "button" }, "show upstream view (" + turn.upstream_wire + ")");
      button.addEventListener("click", () => {
        if (upstream) {
          upstream.remove();
          upstream = null;
          button.textContent = "show upstream view (" + turn.upstream_wire + ")";
          return;
        }
        const u = turn.upstream;
        upstream = el("div", { class: "side upstream-view" }, el("h4", {}, "forwarded to " + u.host + " (" + turn.upstream_wire + ")"), renderRequest(u.request, null, 0), renderResponse(u.response, null));
        sides.append(upstream);
        button.textContent = "hide upstream view";
      });
      t.insertBefore(button, sides);
    }
    t.append(renderRaw(turn));
    return t;
  }
  let shown = null; // {key, ids, holder, history}: the session on screen, for live appends
  async function showSession(key, refresh) {
    const conv = await loadConversation(key);
    if (!conv) {
      shown = null;
      app.replaceChildren(el("p", { class: "err" }, "no such session"));
      return;
    }
    const turns = conv.turns;
    const ids = turns.map((t) => t.flow_id);
    if (refresh && shown && shown.key === key && shown.ids.every((id, i) => ids[i] === id)) {
      // a live update appends the new turns and leaves what the reader opened as it is
      shown.turns.splice(0, shown.turns.length, ...turns);
      for (const t of turns.slice(shown.ids.length)) shown.holder.append(renderTurn(t, shown.history));
      shown.ids = ids;
      return;
    }
    const full = {};
    const history = (i) => {
      if (!(i in full)) {
        const t = turns[i];
        const ch = t.changes;
        full[i] = ch.first ? t.request.messages || [] : history(ch.previous).slice(0, ch.common).concat(t.request.messages || []);
      }
      return full[i];
    };
    const s = conv.session;
    app.replaceChildren(
      el("p", {}, el("a", { href: "#/" }, "← sessions")),
      el("h2", { id: "session-key" }, s.key),
      el("p", { class: "facts" }, s.turns + " turn(s) · " + s.clients.join(", ") + " · " + s.providers.join(", ") + " · " + s.models.join(", ") + " · in " + num(s.input_tokens) + " · out " + num(s.output_tokens)),
      el("div", { id: "turns" }, turns.map((t) => renderTurn(t, history))),
    );
    shown = { key, ids, turns, history, holder: document.getElementById("turns") };
  }

  // ---- routing and live updates --------------------------------------------------------------------
  let drawing = Promise.resolve();
  function route(refresh) {
    const hash = location.hash || "#/";
    const job = hash.startsWith("#/s/")
      ? () => showSession(decodeURIComponent(hash.slice(4)), refresh === true)
      : () => showList(refresh === true);
    drawing = drawing
      .then(job)
      .catch((e) => app.replaceChildren(el("p", { class: "err" }, String(e))))
      .then(() => {
        body.dataset.rendered = String(Number(body.dataset.rendered || 0) + 1);
      });
  }
  window.addEventListener("hashchange", route);
  route();
  if (live && window.EventSource) {
    // The daemon answers each event request as soon as a flow completes; EventSource
    // reconnects with Last-Event-ID, so no flow is missed between two answers.
    const source = new EventSource("/ui/api/events");
    source.addEventListener("flow", (e) => {
      body.dataset.live = e.lastEventId;
      route(true);
    });
    // Every answer ends its connection, so an error followed by a prompt reopen is normal.
    let lost = null;
    source.addEventListener("open", () => {
      clearTimeout(lost);
      statusEl.textContent = "● live";
    });
    source.addEventListener("error", () => {
      clearTimeout(lost);
      lost = setTimeout(() => (statusEl.textContent = "○ reconnecting"), 3000);
    });
  } else if (!live) {
    statusEl.textContent = "exported " + exported.exported_at;
  }
})();
