// The dsys trace viewer (dsys/trace/html.py writes the data; this draws it).
// Rules: no network, no libraries; everything from the trace is put in the page as text
// (textContent, setAttribute), never as markup. Causality comes precomputed (preds, peers).
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var D = JSON.parse(document.getElementById("dsys-trace-data").textContent);
  var root = document.getElementById("dsys-viewer");
  var EV = D.events; // [position in trace, time, node, kind, message type, text, data]
  var N = EV.length;
  var NET = "(network)";
  var GROUP = {start: "node", restart: "node", sync: "node", send: "send", recv: "recv",
    drop: "drop", duplicate: "duplicate", timer_set: "timer", timer_fire: "timer",
    timer_cancel: "timer", crash: "crash", partition: "fault", block: "fault", heal: "fault",
    clock: "fault", invoke: "client", complete: "client", log: "log", note: "note",
    violation: "violation", error: "error"};
  var LANE_H = 44, TOP = 26, LEFT = 92, RIGHT = 14, DENSE = 2500;

  var lanes = D.lanes.slice();
  var hasNet = EV.some(function (e) { return !e[2]; });
  if (hasNet) lanes.push(NET);
  var laneOf = {};
  lanes.forEach(function (l, i) { laneOf[l] = i; });
  function lane(e) { return laneOf[e[2] || NET]; }

  var succs = EV.map(function () { return []; });
  D.preds.forEach(function (ps, i) { ps.forEach(function (p) { succs[p].push(i); }); });
  var marked = {};
  D.marks.forEach(function (m) { if (m.pos !== null && m.pos !== undefined) marked[m.pos] = m; });

  // ----- state ------------------------------------------------------------------------------
  var mode = "time";
  var shown = EV.map(function () { return true; });
  var sel = null, useCone = true, past = {}, future = {};
  var off = {node: {}, kind: {}, type: {}};
  function xval(i) { return mode === "time" ? EV[i][1] : i; }
  function extent() {
    if (!N) return [0, 1];
    var a = xval(0), b = xval(N - 1);
    if (b <= a) b = a + 1;
    var pad = (b - a) * 0.02;
    return [a - pad, b + pad];
  }
  var view = extent();

  // ----- page skeleton ----------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function sv(tag, attrs, parent) {
    var node = document.createElementNS(NS, tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  root.textContent = "";
  root.appendChild(el("h1", {}, D.title));
  var count = root.appendChild(el("div", {"class": "count", id: "dsys-count"}));
  if (D.summary) root.appendChild(el("div", {"class": "summary", id: "dsys-summary"},
    D.summary.text));
  var bar = root.appendChild(el("div", {"class": "toolbar"}));
  function button(label, title, act, id) {
    var b = bar.appendChild(el("button", {type: "button", title: title, id: id}, label));
    b.addEventListener("click", act);
    return b;
  }
  button("\u25c0 prev", "previous event (\u2190 or p)", function () { step(-1); }, "dsys-prev");
  button("next \u25b6", "next event (\u2192 or n)", function () { step(1); }, "dsys-next");
  button("+", "zoom in (+)", function () { zoom(0.5); }, "dsys-zoom-in");
  button("\u2212", "zoom out (\u2212)", function () { zoom(2); }, "dsys-zoom-out");
  button("fit", "show the whole run (0)", function () { view = extent(); draw(); }, "dsys-fit");
  var modeSel = bar.appendChild(el("select", {id: "dsys-mode", title: "what the x axis is"}));
  modeSel.appendChild(el("option", {value: "time"}, "x = time"));
  modeSel.appendChild(el("option", {value: "order"}, "x = event order"));
  modeSel.addEventListener("change", function () {
    mode = modeSel.value; view = extent(); draw();
  });
  var coneLabel = bar.appendChild(el("label", {title: "highlight what happens before (blue) " +
    "and after (orange) the selected event"}));
  var coneBox = coneLabel.appendChild(el("input", {type: "checkbox", id: "dsys-cone"}));
  coneBox.checked = true;
  coneLabel.appendChild(document.createTextNode(" happens-before cone"));
  coneBox.addEventListener("change", function () { useCone = coneBox.checked; draw(); });
  bar.appendChild(el("span", {"class": "hint"},
    "wheel: zoom \u00b7 drag: pan \u00b7 click: details \u00b7 \u2190 \u2192: step \u00b7 Esc: clear"));

  // Filters: nodes, kinds, message types, each a set of checkboxes.
  var filters = root.appendChild(el("details", {"class": "filters", id: "dsys-filters"}));
  filters.appendChild(el("summary", {}, "Filter events"));
  function uniq(values) {
    var seen = {}, out = [];
    values.forEach(function (v) { if (v && !seen[v]) { seen[v] = 1; out.push(v); } });
    return out;
  }
  function fieldset(name, what, values) {
    if (!values.length) return;
    var fs = filters.appendChild(el("fieldset", {"data-group": what}));
    fs.appendChild(el("legend", {}, name));
    values.forEach(function (v) {
      var l = fs.appendChild(el("label", {}));
      var box = l.appendChild(el("input", {type: "checkbox", "data-filter": what, value: v}));
      box.checked = true;
      box.addEventListener("change", function () {
        if (box.checked) delete off[what][v]; else off[what][v] = 1;
        refilter();
      });
      l.appendChild(document.createTextNode(" " + v));
    });
  }
  fieldset("Nodes", "node", lanes);
  fieldset("Kinds", "kind", uniq(EV.map(function (e) { return e[3]; })).sort());
  fieldset("Message types", "type", uniq(EV.map(function (e) { return e[4]; })).sort());

  var legend = root.appendChild(el("div", {"class": "legend", id: "dsys-legend"}));
  var main = root.appendChild(el("div", {"class": "main"}));
  var box = main.appendChild(el("div", {"class": "diagram", id: "dsys-diagram"}));
  var side = main.appendChild(el("div", {"class": "side"}));
  var details = side.appendChild(el("section", {id: "dsys-details"}));
  var problems = side.appendChild(el("section", {id: "dsys-problems"}));
  var svg = sv("svg", {role: "img"}, box);
  svg.appendChild(document.createElementNS(NS, "title")).textContent = D.title;
  var layer = sv("g", {}, svg);

  // ----- glyphs -----------------------------------------------------------------------------
  function glyph(kind, g, x, y) {
    var group = GROUP[kind] || "log";
    switch (group) {
      case "send": return sv("circle", {"class": "g", cx: x, cy: y, r: 3.5}, g);
      case "recv": return sv("circle", {"class": "g", cx: x, cy: y, r: 4}, g);
      case "drop": case "crash":
        var s = group === "crash" ? 7 : 4.5;
        return sv("path", {"class": "g", d: "M" + (x - s) + "," + (y - s) + "L" + (x + s) +
          "," + (y + s) + "M" + (x - s) + "," + (y + s) + "L" + (x + s) + "," + (y - s),
          "stroke-width": group === "crash" ? 3 : 2}, g);
      case "duplicate":
        sv("circle", {"class": "g", cx: x, cy: y, r: 2.5}, g);
        return sv("circle", {"class": "g", cx: x, cy: y, r: 5}, g);
      case "timer": return sv("rect", {"class": "g", x: x - 3, y: y - 3, width: 6, height: 6}, g);
      case "note": return sv("path", {"class": "g", d: "M" + x + "," + (y - 5) + "L" + (x + 5) +
        "," + y + "L" + x + "," + (y + 5) + "L" + (x - 5) + "," + y + "Z"}, g);
      case "client": return sv("rect", {"class": "g", x: x - 5, y: y - 4, width: 10, height: 8,
        rx: 2}, g);
      case "node": return sv("path", {"class": "g", d: "M" + (x - 5) + "," + (y + 5) + "L" + x +
        "," + (y - 5) + "L" + (x + 5) + "," + (y + 5) + "Z"}, g);
      case "violation": case "error": return sv("path", {"class": "g", d: "M" + x + "," +
        (y - 8) + "L" + (x + 7) + "," + (y + 6) + "L" + (x - 7) + "," + (y + 6) + "Z"}, g);
      case "fault": return sv("rect", {"class": "g", x: x - 2, y: y - 8, width: 4, height: 16}, g);
      default: return sv("rect", {"class": "g", x: x - 1, y: y - 5, width: 2, height: 10}, g);
    }
  }
  (function drawLegend() {
    var seen = {};
    EV.forEach(function (e) { seen[e[3]] = 1; });
    var groups = {};
    Object.keys(seen).sort().forEach(function (k) {
      var g = GROUP[k] || "log";
      (groups[g] = groups[g] || []).push(k);
    });
    Object.keys(groups).sort().forEach(function (g) {
      var item = legend.appendChild(el("span", {}));
      var s = sv("svg", {width: 18, height: 18}, item);
      var w = sv("g", {"class": "k-" + groups[g][0] + " k-" + g}, s);
      glyph(groups[g][0], w, 9, 9);
      item.appendChild(document.createTextNode(" " + groups[g].join(", ")));
    });
    var bands = {};
    D.bands.forEach(function (b) { bands[b.kind] = 1; });
    var words = {partition: "partitioned", block: "link cut one way", crash: "node down"};
    Object.keys(bands).sort().forEach(function (k) {
      var item = legend.appendChild(el("span", {}));
      var s = sv("svg", {width: 22, height: 14}, item);
      sv("rect", {"class": "band-" + k, x: 1, y: 1, width: 20, height: 12}, s);
      item.appendChild(document.createTextNode(" " + words[k]));
    });
  })();

  // ----- geometry ---------------------------------------------------------------------------
  // The width is measured once per drawing: reading it after each change of the drawing
  // would make the browser lay the page out again for every element.
  var measured = 800;
  function measure() { measured = Math.max(320, box.clientWidth || 800); return measured; }
  function width() { return measured; }
  function px(v) {
    return LEFT + (v - view[0]) / (view[1] - view[0]) * (measured - LEFT - RIGHT);
  }
  function unpx(p) {
    return view[0] + (p - LEFT) / (measured - LEFT - RIGHT) * (view[1] - view[0]);
  }
  function laneY(l) { return TOP + LANE_H * l + LANE_H / 2; }
  function timeX(t) {
    if (mode === "time") return px(t);
    // In order mode, a time is drawn where the first event at or after it is.
    var lo = 0, hi = N;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (EV[mid][1] < t) lo = mid + 1; else hi = mid; }
    return px(lo - 0.5);
  }
  function niceStep(span) {
    var raw = span / 8, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return p * (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10);
  }
  function fmt(v, stepSize) {
    if (mode === "order") return "#" + Math.round(v);
    var digits = Math.max(0, Math.min(9, -Math.floor(Math.log10(stepSize))));
    return v.toFixed(digits) + "s";
  }

  // ----- drawing ----------------------------------------------------------------------------
  function draw() {
    var W = measure(), H = TOP + LANE_H * lanes.length + 8;
    svg.setAttribute("width", W);
    svg.setAttribute("height", H);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    layer.textContent = "";
    var axis = sv("g", {"class": "axis"}, layer);
    var stepSize = niceStep(view[1] - view[0]);
    if (mode === "order") stepSize = Math.max(1, Math.round(stepSize));
    for (var v = Math.ceil(view[0] / stepSize) * stepSize; v <= view[1]; v += stepSize) {
      var x = px(v);
      sv("line", {x1: x, x2: x, y1: TOP - 6, y2: H}, axis);
      sv("text", {x: x + 2, y: TOP - 10}, axis).textContent = fmt(v, stepSize);
    }
    D.bands.forEach(function (b) {
      var x1 = Math.max(LEFT, timeX(b.start)), x2 = Math.min(W, timeX(b.end));
      if (x2 < LEFT || x1 > W) return;
      var y = TOP, h = LANE_H * lanes.length;
      if (b.node) { y = laneY(laneOf[b.node]) - LANE_H / 2 + 4; h = LANE_H - 8; }
      var r = sv("rect", {"class": "band-" + b.kind, x: x1, y: y, width: Math.max(2, x2 - x1),
        height: h}, layer);
      sv("title", {}, r).textContent = b.label;
      if (!b.node) sv("text", {"class": "band-label", x: x1 + 3, y: TOP + 10}, layer)
        .textContent = b.label;
    });
    D.marks.forEach(function (m) {
      if (m.start === null || m.start === undefined) return;
      var end = m.end === null ? (N ? EV[N - 1][1] : m.start) : m.end;
      var x1 = timeX(m.start), x2 = timeX(end);
      var y = TOP, h = LANE_H * lanes.length;
      if (m.node && laneOf[m.node] !== undefined) { y = laneY(laneOf[m.node]) - LANE_H / 2 + 2;
        h = LANE_H - 4; }
      var r = sv("rect", {"class": "band-mark", x: x1, y: y, width: Math.max(2, x2 - x1),
        height: h}, layer);
      sv("title", {}, r).textContent = m.label;
    });
    lanes.forEach(function (l, i) {
      var y = laneY(i);
      sv("line", {"class": "lane", x1: LEFT, x2: W - RIGHT, y1: y, y2: y}, layer);
      var t = sv("text", {"class": "lane-label", x: 6, y: y + 4}, layer);
      t.textContent = l.length > 12 ? l.slice(0, 11) + "\u2026" : l;
      sv("title", {}, t).textContent = l;
    });
    // Where the page left events out (summarised traces), a dotted line.
    for (var k = 1; k < N; k++) {
      if (EV[k][0] !== EV[k - 1][0] + 1) {
        var gx = (px(xval(k - 1)) + px(xval(k))) / 2;
        if (gx >= LEFT && gx <= W) {
          var gl = sv("line", {"class": "gap", x1: gx, x2: gx, y1: TOP, y2: H}, layer);
          sv("title", {}, gl).textContent = (EV[k][0] - EV[k - 1][0] - 1) +
            " events left out here";
        }
      }
    }
    var lo = unpx(LEFT - 20), hi = unpx(W + 20);
    var active = sel !== null;
    // Messages: from each shown send to each shown arrival, drop or duplicate.
    // Past DENSE events in view, the drawing goes light: the arrows of a class are one path
    // (no clicking them: zoom in for that), and events lose their hover text and ring.
    var inView = 0;
    for (var q = 0; q < N; q++) if (shown[q] && xval(q) >= lo && xval(q) <= hi) inView++;
    var dense = inView > DENSE, paths = {};
    svg.setAttribute("data-dense", dense ? "yes" : "no");
    var msgs = sv("g", {}, layer);
    for (var i = 0; i < N; i++) {
      if (EV[i][3] !== "send" || !shown[i]) continue;
      D.peers[i].forEach(function (j) {
        if (!shown[j]) return;
        var a = xval(i), b = xval(j);
        if (Math.max(a, b) < lo || Math.min(a, b) > hi) return;
        var to = EV[j][3] === "recv" ? lane(EV[j]) : laneOf[EV[j][6].to];
        if (to === undefined) to = lane(EV[j]);
        var cls = "msg" + (EV[j][3] === "drop" ? " lost" : "");
        if (active) {
          if (sel === i || sel === j) cls += " chosen";
          else if (useCone && (past[j] || j === sel) && past[i]) cls += " past";
          else if (useCone && future[i] && future[j]) cls += " future";
          else if (useCone) cls += " dim";
        }
        if (dense) {
          paths[cls] = (paths[cls] || "") + "M" + px(a).toFixed(1) + "," + laneY(lane(EV[i])) +
            "L" + px(b).toFixed(1) + "," + laneY(to);
          return;
        }
        var attrs = {x1: px(a), y1: laneY(lane(EV[i])), x2: px(b), y2: laneY(to),
          "data-send": i, "data-recv": j};
        attrs["class"] = cls;
        sv("line", attrs, msgs);
        var hit = sv("line", {"class": "hit", x1: attrs.x1, y1: attrs.y1, x2: attrs.x2,
          y2: attrs.y2, "data-send": i, "data-recv": j}, msgs);
        sv("title", {}, hit).textContent = (EV[i][4] || "message") + " " + EV[i][2] + " \u2192 " +
          (EV[j][3] === "recv" ? EV[j][2] : EV[j][6].to) + (EV[j][3] === "drop" ? " (lost)" : "");
      });
    }
    Object.keys(paths).sort().forEach(function (cls) {
      sv("path", {"class": cls, d: paths[cls]}, msgs);
    });
    // Events, with the notes' text where there is room for it.
    var labelEnd = {};
    var evs = sv("g", {}, layer);
    var labels = sv("g", {"pointer-events": "none"}, layer);
    for (var n = 0; n < N; n++) {
      if (!shown[n]) continue;
      var xv = xval(n);
      if (xv < lo || xv > hi) continue;
      var e = EV[n], ex = px(xv), ey = laneY(lane(e));
      var cls = "ev k-" + e[3] + " k-" + (GROUP[e[3]] || "log");
      if (marked[n] !== undefined) cls += " marked";
      if (active) {
        if (n === sel) cls += " selected";
        else if (D.peers[sel].indexOf(n) >= 0) cls += " peer";
        else if (useCone && past[n]) cls += " past";
        else if (useCone && future[n]) cls += " future";
        else if (useCone) cls += " dim";
      }
      var g = sv("g", {"class": cls, "data-pos": n}, evs);
      var light = dense && !/selected|peer|marked/.test(cls);
      if (!light) sv("circle", {"class": "ring", cx: ex, cy: ey, r: 9}, g);
      glyph(e[3], g, ex, ey);
      if (!light) {
        sv("title", {}, g).textContent = "#" + e[0] + " " + secs(e[1]) + " " + (e[2] || NET) +
          " " + e[3] + ": " + e[5];
      }
      if (e[3] === "note" || e[3] === "violation") {
        var l = lane(e);
        if (labelEnd[l] === undefined || ex > labelEnd[l]) {
          var txt = e[5].length > 32 ? e[5].slice(0, 31) + "\u2026" : e[5];
          sv("text", {"class": "note-label", x: ex + 7, y: ey - 8}, labels).textContent = txt;
          labelEnd[l] = ex + 10 + txt.length * 5.6;
        }
      }
    }
    var shownCount = shown.filter(Boolean).length;
    count.setAttribute("data-shown", shownCount);
    count.setAttribute("data-total", N);
    count.textContent = shownCount === N ? N + " events" : shownCount + " of " + N +
      " events shown";
  }

  // ----- selection, details, cone -----------------------------------------------------------
  function walk(edges, start) {
    var seen = {}, todo = edges[start].slice();
    while (todo.length) {
      var p = todo.pop();
      if (!seen[p]) { seen[p] = true; Array.prototype.push.apply(todo, edges[p]); }
    }
    return seen;
  }
  function jump(i, label) {
    var b = el("button", {type: "button", "class": "link", "data-goto": i}, label);
    b.addEventListener("click", function () { select(i); });
    return b;
  }
  function secs(t) { return String(+t.toFixed(6)) + "s"; }
  function describe(i) {
    var e = EV[i];
    return (e[2] || NET) + " " + e[3] + " at " + secs(e[1]) + " (#" + e[0] + ")";
  }
  function select(i) {
    sel = i;
    past = {}; future = {};
    details.textContent = "";
    if (i === null) {
      details.appendChild(el("h2", {}, "Details"));
      details.appendChild(el("p", {"class": "hint"}, "Click an event or a message."));
      draw();
      return;
    }
    past = walk(D.preds, i);
    future = walk(succs, i);
    var e = EV[i];
    details.setAttribute("data-pos", i);
    details.appendChild(el("h2", {}, "Event #" + e[0]));
    details.appendChild(el("div", {"data-role": "where"}, describe(i)));
    details.appendChild(el("div", {"data-role": "text"}, e[5]));
    if (marked[i] !== undefined) {
      details.appendChild(el("div", {"data-role": "mark", "class": "summary"}, marked[i].label));
    }
    var pair = details.appendChild(el("div", {"data-role": "pair"}));
    D.peers[i].forEach(function (j) {
      var line = pair.appendChild(el("div", {}));
      var f = EV[j][3];
      var word = f === "send" ? "sent by " : f === "recv" ? "received by " :
        f === "drop" ? "lost (" + (EV[j][6].reason || "dropped") + ") on the way to " :
        "duplicated to ";
      var who = f === "drop" || f === "duplicate" ? EV[j][6].to : EV[j][2];
      line.appendChild(document.createTextNode(word + who + " at " + secs(EV[j][1]) + " "));
      line.appendChild(jump(j, "#" + EV[j][0]));
    });
    if (e[3] === "send" && !D.peers[i].length) {
      pair.appendChild(el("div", {}, "never arrived within the trace"));
    }
    var np = Object.keys(past).length, nf = Object.keys(future).length;
    details.appendChild(el("div", {"data-role": "cone", "data-past": np, "data-future": nf},
      "happens after " + np + " event(s), before " + nf + " event(s)"));
    details.appendChild(el("pre", {"data-role": "payload"}, JSON.stringify(e[6], null, 2)));
    var keep = xval(i);
    if (keep < view[0] || keep > view[1]) {
      var half = (view[1] - view[0]) / 2;
      view = [keep - half, keep + half];
    }
    draw();
  }
  function step(d) {
    var i = sel === null ? (d > 0 ? -1 : N) : sel;
    for (i += d; i >= 0 && i < N; i += d) {
      if (shown[i]) { select(i); return; }
    }
  }
  function refilter() {
    for (var i = 0; i < N; i++) {
      var e = EV[i];
      shown[i] = !off.node[e[2] || NET] && !off.kind[e[3]] && !(e[4] && off.type[e[4]]);
    }
    if (sel !== null && !shown[sel]) select(null); else draw();
  }
  function zoom(f, at) {
    var c = at;
    if (c === undefined) {  // around the selected event if it is in view, else the middle
      c = (view[0] + view[1]) / 2;
      if (sel !== null && xval(sel) >= view[0] && xval(sel) <= view[1]) c = xval(sel);
    }
    var full = extent(), span = Math.min((view[1] - view[0]) * f, (full[1] - full[0]) * 4);
    span = Math.max(span, mode === "order" ? 4 : 1e-9);
    view = [c - (c - view[0]) * span / (view[1] - view[0]),
      c + (view[1] - c) * span / (view[1] - view[0])];
    draw();
  }

  // ----- problems ---------------------------------------------------------------------------
  problems.appendChild(el("h2", {}, "Problems"));
  if (!D.marks.length) {
    problems.appendChild(el("p", {"class": "hint"}, "None recorded in this trace."));
  } else {
    var list = problems.appendChild(el("ul", {}));
    D.marks.forEach(function (m) {
      var item = list.appendChild(el("li", {"data-kind": m.kind}));
      if (m.pos !== null && m.pos !== undefined) item.appendChild(jump(m.pos, m.label));
      else if (m.near !== null && m.near !== undefined) {
        item.appendChild(jump(m.near, m.label));
        item.appendChild(document.createTextNode(" (at " + secs(m.start) + ")"));
      } else {
        item.textContent = m.label + (m.event !== null && m.event !== undefined ?
          " (event #" + m.event + ", left out of this page)" : "");
      }
    });
  }

  // ----- input ------------------------------------------------------------------------------
  svg.addEventListener("click", function (ev) {
    if (dragged) return;
    var t = ev.target.closest ? ev.target.closest("[data-pos],[data-recv]") : null;
    if (!t) return;
    if (t.hasAttribute("data-pos")) select(+t.getAttribute("data-pos"));
    else select(+t.getAttribute("data-recv"));
  });
  box.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = svg.getBoundingClientRect();
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, unpx(ev.clientX - r.left));
  }, {passive: false});
  var dragFrom = null, dragged = false;
  box.addEventListener("pointerdown", function (ev) {
    dragFrom = [ev.clientX, view[0], view[1]]; dragged = false;
  });
  window.addEventListener("pointermove", function (ev) {
    if (!dragFrom) return;
    var dx = ev.clientX - dragFrom[0];
    if (Math.abs(dx) > 3) dragged = true;
    if (!dragged) return;
    var per = (dragFrom[2] - dragFrom[1]) / (width() - LEFT - RIGHT);
    view = [dragFrom[1] - dx * per, dragFrom[2] - dx * per];
    draw();
  });
  window.addEventListener("pointerup", function () {
    dragFrom = null;
    setTimeout(function () { dragged = false; }, 0);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.target && /INPUT|SELECT|TEXTAREA/.test(ev.target.tagName)) return;
    var k = ev.key;
    if (k === "ArrowRight" || k === "n") step(1);
    else if (k === "ArrowLeft" || k === "p") step(-1);
    else if (k === "+" || k === "=") zoom(0.5);
    else if (k === "-") zoom(2);
    else if (k === "0") { view = extent(); draw(); }
    else if (k === "Escape") select(null);
    else return;
    ev.preventDefault();
  });
  window.addEventListener("resize", draw);
  select(null);
})();
