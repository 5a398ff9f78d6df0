// kguard authz paths -o html: hovering or clicking a path in the list
// highlights its nodes and edges. The drawing itself is kguard's (SVG);
// this script only wires it up. It reports on <body>: data-rendered, the
// number of paths wired; data-errors, any script error.
(function () {
  "use strict";
  var body = document.body;
  var errors = [];
  function fail(msg) {
    errors.push(String(msg));
    body.dataset.errors = errors.join("\n");
  }
  window.onerror = function (msg, src, line) {
    fail(msg + (line ? " (line " + line + ")" : ""));
  };
  body.dataset.errors = "";

  var data = JSON.parse(document.getElementById("kguard-paths-data").textContent);
  var svg = document.getElementById("graph");
  var pinned = null;

  function byIds(ids, what, p) {
    var out = [];
    for (var i = 0; i < ids.length; i++) {
      var el = document.getElementById(ids[i]);
      if (!el) {
        fail("path " + p.id + ": no " + what + " " + ids[i] + " in the drawing");
        return null;
      }
      out.push(el);
    }
    return out;
  }

  function mark(els, p) {
    for (var i = 0; i < els.length; i++) {
      var list = els[i].getAttribute("data-paths");
      els[i].setAttribute("data-paths", list ? list + " " + p.id : p.id);
    }
  }

  function light(item, els, sev, on) {
    var cls = ["hl", "hl-" + sev];
    for (var i = 0; i < els.length; i++) {
      if (on) { els[i].classList.add.apply(els[i].classList, cls); }
      else { els[i].classList.remove.apply(els[i].classList, cls); }
    }
    item.classList.toggle("hl", on);
    svg.classList.toggle("focus", on);
  }

  var wired = [];
  data.paths.forEach(function (p) {
    var item = document.getElementById(p.id);
    if (!item) { fail("path " + p.id + ": not listed"); return; }
    var nodes = byIds(p.nodes, "node", p);
    var edges = byIds(p.edges, "edge", p);
    if (!nodes || !edges) { return; }
    var els = nodes.concat(edges);
    mark(els, p);
    var w = { item: item, els: els, sev: p.severity };
    wired.push(w);
    item.addEventListener("mouseenter", function () { if (!pinned) { light(item, els, p.severity, true); } });
    item.addEventListener("mouseleave", function () { if (!pinned) { light(item, els, p.severity, false); } });
    function toggle() {
      if (pinned) { light(pinned.item, pinned.els, pinned.sev, false); }
      if (pinned === w) { pinned = null; item.classList.remove("pinned"); return; }
      if (pinned) { pinned.item.classList.remove("pinned"); }
      pinned = w;
      item.classList.add("pinned");
      light(item, els, p.severity, true);
    }
    item.addEventListener("click", toggle);
    item.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(); }
    });
  });
  // a link to page.html#p3 opens with path p3 highlighted
  var hash = window.location.hash.slice(1);
  for (var i = 0; i < wired.length; i++) {
    if (wired[i].item.id === hash) { wired[i].item.click(); }
  }
  body.dataset.rendered = String(wired.length);
})();
