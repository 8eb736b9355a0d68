// grid dashboard: follows the agent's /events stream and draws what it says.
// Everything shown is set with textContent or attributes, never as HTML:
// member names are chosen by members, and a name is only ever text here.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const FRESH_S = 180; // WireGuard rekeys every 2 minutes while traffic flows
const SPARK_POINTS = 40;
/** Per net/peer: recent rx and tx rates, bytes per second. */
const rates = new Map();
/** Per net/peer: the last counters seen and when. */
const lastBytes = new Map();
let lastSnapshot = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, String(v));
  }
  return node;
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function handshakeAge(peer, nowS) {
  return peer.latestHandshake === null
    ? null
    : Math.max(0, Math.round(nowS - peer.latestHandshake));
}

function freshness(ageS) {
  return ageS === null ? "never" : ageS <= FRESH_S ? "fresh" : "stale";
}

function track(net, peer, atS) {
  const key = `${net}/${peer.id}`;
  const prev = lastBytes.get(key);
  lastBytes.set(key, { rx: peer.rxBytes, tx: peer.txBytes, at: atS });
  if (!prev || atS <= prev.at) return;
  const dt = atS - prev.at;
  const list = rates.get(key) ?? [];
  list.push({
    rx: Math.max(0, peer.rxBytes - prev.rx) / dt,
    tx: Math.max(0, peer.txBytes - prev.tx) / dt,
  });
  if (list.length > SPARK_POINTS) list.shift();
  rates.set(key, list);
}

/** A small line of the last rates in one direction (`rx` or `tx`), newest on the right. */
function sparkline(net, peer, dir) {
  const list = rates.get(`${net}/${peer.id}`) ?? [];
  const box = svg("svg", { class: "spark", viewBox: "0 0 70 18", role: "img" });
  box.append(svg("title", { text: `${dir} bytes per second, last ${list.length} updates` }));
  if (list.length < 2) return box;
  const max = Math.max(1, ...list.map((r) => r[dir]));
  const step = 70 / (Math.max(list.length, 10) - 1);
  const x0 = 70 - step * (list.length - 1);
  const pts = list.map((r, i) =>
    `${(x0 + i * step).toFixed(1)},${(17 - (r[dir] / max) * 16).toFixed(1)}`
  );
  box.append(svg("polyline", { class: dir, points: pts.join(" ") }));
  return box;
}

function graph(net, nowS) {
  // Up to two peers sit in one row beside this node: a shorter picture.
  const flat = net.peers.length <= 2;
  const W = 340, H = flat ? 170 : 280, cx = W / 2, cy = flat ? 75 : 125, R = 110;
  const box = svg("svg", {
    class: "graph",
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "data-net": net.name,
  });
  box.append(svg("title", { text: `Net ${net.name}: this node and its peers` }));
  const peers = net.peers;
  const spots = peers.map((p, i) => {
    // From the right, clockwise: two peers sit left and right, labels clear of the edges.
    const a = (2 * Math.PI * i) / Math.max(1, peers.length);
    return { p, x: cx + R * Math.cos(a), y: cy + R * 0.8 * Math.sin(a) };
  });
  for (const { p, x, y } of spots) {
    const f = freshness(handshakeAge(p, nowS));
    const line = svg("line", {
      x1: cx,
      y1: cy,
      x2: x.toFixed(1),
      y2: y.toFixed(1),
      class: `p-${p.path} ${f}`,
      "data-peer": p.name,
      "data-path": p.path,
      "data-handshake": f,
    });
    line.append(
      svg("title", { text: `${p.name}: ${p.path}, handshake ${age(handshakeAge(p, nowS))}` }),
    );
    box.append(line);
  }
  const node = (cls, name, x, y, sub) => {
    const g = svg("g", { class: `node ${cls}`, "data-name": name });
    g.append(svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 16 }));
    g.append(svg("text", { x: x.toFixed(1), y: (y + 30).toFixed(1), text: name }));
    if (sub) {
      g.append(svg("text", { x: x.toFixed(1), y: (y + 43).toFixed(1), text: sub, class: "sub" }));
    }
    return g;
  };
  box.append(node("self", net.self ?? "(this node)", cx, cy, net.address ?? ""));
  for (const { p, x, y } of spots) box.append(node("peer", p.name, x, y, p.address));
  return box;
}

function legend() {
  const div = el("div", { class: "legend" });
  for (const p of ["direct", "punched", "relay", "connecting", "unreachable"]) {
    div.append(el("span", { class: `p-${p}`, text: p }));
  }
  div.append(el("span", { text: "dashed: handshake older than 3 min; dotted: none" }));
  return div;
}

function peerTable(net, nowS) {
  const head = [
    "name",
    "tunnel address",
    "endpoint",
    "path",
    "last handshake",
    "rx",
    "tx",
    "link",
    "records",
  ];
  const table = el("table", { class: "peers" });
  table.append(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))));
  const body = el("tbody");
  if (net.peers.length === 0) {
    body.append(
      el(
        "tr",
        {},
        el("td", { colspan: head.length, class: "empty", text: "no other live members" }),
      ),
    );
  }
  for (const p of net.peers) {
    const a = handshakeAge(p, nowS);
    const path = p.path + (p.path === "relay" && p.via ? ` via ${p.via.slice(0, 10)}…` : "");
    const rx = el("td", { text: bytes(p.rxBytes) });
    const tx = el("td", { text: bytes(p.txBytes) });
    rx.append(sparkline(net.name, p, "rx"));
    tx.append(sparkline(net.name, p, "tx"));
    body.append(
      el(
        "tr",
        { class: "peer", "data-name": p.name, "data-id": p.id },
        el("td", { text: p.name, title: p.id }),
        el("td", { class: "mono", text: p.address }),
        el("td", { class: "mono", text: p.endpoint ?? "—" }),
        el("td", { class: `p-${p.path}`, text: path, title: p.why ?? "" }),
        el("td", { class: `handshake ${freshness(a)}`, "data-age": a ?? "", text: age(a) }),
        rx,
        tx,
        el("td", { class: p.link, text: p.link }),
        el("td", {
          class: p.records === "differ" ? "behind" : "",
          text: p.records === "same" ? "in sync" : p.records === "differ" ? "behind" : "unknown",
        }),
      ),
    );
  }
  table.append(body);
  return table;
}

function historyTable(entries) {
  const wrap = el("div", { class: "history" });
  const table = el("table", { class: "history-table" });
  table.append(
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ...["when", "event", "member", "signed by", "detail"].map((h) => el("th", { text: h })),
      ),
    ),
  );
  const body = el("tbody");
  for (const e of entries) {
    const what = {
      genesis: "founded",
      admit: "admitted",
      left: "left",
      revoked: "revoked",
      role: "role",
    }[e.kind] ?? e.kind;
    body.append(
      el(
        "tr",
        { class: `event ${e.kind}`, "data-kind": e.kind, "data-member": e.member },
        el("td", { text: new Date(e.time).toLocaleString() }),
        el("td", { text: what }),
        el("td", { text: e.member, title: e.memberId }),
        el("td", { text: e.by, title: e.byId }),
        el("td", { text: e.detail ?? "" }),
      ),
    );
  }
  table.append(body);
  wrap.append(table);
  return wrap;
}

function renderNet(net, history, nowS) {
  const former = net.former.length ? ` · ${net.former.length} former` : "";
  const section = el("section", { class: "net", "data-net": net.name });
  section.append(
    el(
      "div",
      { class: "net-head" },
      el("h2", { text: net.name }),
      el("span", {
        class: "facts",
        text: `${net.status} · ${net.role} · ${net.self ?? "?"} ${
          net.address ?? ""
        } · ${net.cidr} · ${net.members} members${former} · ${net.records} records · ${net.interface} ${net.interfaceState}`,
      }),
    ),
  );
  const left = el("div", {}, graph(net, nowS), legend());
  const right = el("div", {}, peerTable(net, nowS));
  section.append(el("div", { class: "net-body" }, left, right));
  section.append(el("h3", { text: "Membership history" }), historyTable(history?.entries ?? []));
  return section;
}

function render(update) {
  // The history and the promises come only when they changed: keep the last ones.
  const snap = {
    ...update,
    history: update.history ?? lastSnapshot?.history ?? [],
    promises: update.promises ?? lastSnapshot?.promises ?? [],
  };
  const nowS = snap.at / 1000;
  for (const net of snap.report.nets) for (const p of net.peers) track(net.name, p, nowS);
  const nets = document.getElementById("nets");
  const parts = snap.report.nets.map((net) =>
    renderNet(net, snap.history.find((h) => h.net === net.name), nowS)
  );
  if (parts.length === 0) {
    parts.push(el("p", { class: "empty", text: "This node is in no net yet." }));
  }
  nets.replaceChildren(...parts);

  const engine = document.getElementById("engine");
  const facts = [
    ["grid peers connected", String(snap.report.gridPeers.length)],
    ["anti-entropy rounds", String(snap.counters.antiEntropyRounds)],
    ["reconcile passes", String(snap.counters.reconciles)],
    ["reconcile errors", String(snap.counters.reconcileErrors)],
    [
      "relay",
      snap.report.relay
        ? `${
          snap.report.relay.enabled ? "on" : "off"
        }, ${snap.report.relay.circuits}/${snap.report.relay.maxCircuits} circuits, ${
          bytes(snap.report.relay.bytes)
        }`
        : "—",
    ],
    ["agent memory", bytes(snap.rssBytes)],
    ["updated", new Date(snap.at).toLocaleTimeString()],
  ];
  engine.replaceChildren(
    ...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]),
  );

  document.getElementById("promise-count").textContent = `(${snap.promises.length})`;
  const promises = document.getElementById("promises");
  promises.replaceChildren(
    ...snap.promises.map((p) =>
      el("li", {}, document.createTextNode(p.text), el("span", { class: "hash", text: p.hash }))
    ),
  );
  lastSnapshot = snap;
  document.body.dataset.updated = String(snap.at);
}

function connect() {
  const live = document.getElementById("live");
  const events = new EventSource("/events");
  events.addEventListener("open", () => {
    live.className = "live on";
    live.textContent = "live";
  });
  events.addEventListener("state", (e) => render(JSON.parse(e.data)));
  events.addEventListener("error", () => {
    live.className = "live off";
    live.textContent = lastSnapshot ? "reconnecting…" : "cannot reach the agent";
  });
}

connect();
