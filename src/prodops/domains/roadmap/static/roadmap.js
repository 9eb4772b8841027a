// Roadmap re-planning by drag and drop: cards between now/next/later columns (before the card dropped on), timeline
// bars across months or quarters. Every card also has move buttons, so the keyboard does all of this too.
(function () {
  "use strict";
  var dragged = null;
  var fromCol = null;

  // The timeline column under a point: the grid's width divided by its number of periods.
  function columnAt(grid, x) {
    var n = grid.querySelectorAll(".head").length || 1;
    var rect = grid.getBoundingClientRect();
    return Math.min(n, Math.max(1, Math.floor((x - rect.left) / (rect.width / n)) + 1));
  }

  function root() { return document.getElementById("roadmap"); }

  function post(featureId, values) {
    var r = root();
    var query = r && r.dataset.query ? "?" + r.dataset.query : "";
    window.htmx.ajax("POST", "/roadmap/plan/" + featureId + query, { target: "#roadmap", swap: "outerHTML", values: values });
  }

  document.addEventListener("dragstart", function (e) {
    var el = e.target.closest && e.target.closest("[data-feature][draggable=true]");
    if (!el || (root() && root().dataset.readonly)) return;
    dragged = el;
    var grid = el.closest(".rm-timeline");
    fromCol = grid ? columnAt(grid, e.clientX) : null;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", el.dataset.feature);
  });

  function targetOf(e) {
    return e.target.closest && (e.target.closest(".rm-col") || e.target.closest(".rm-timeline"));
  }

  document.addEventListener("dragover", function (e) {
    if (!dragged) return;
    var t = targetOf(e);
    if (!t) return;
    e.preventDefault();
    document.querySelectorAll(".drop-target").forEach(function (x) { if (x !== t) x.classList.remove("drop-target"); });
    t.classList.add("drop-target");
  });

  document.addEventListener("dragend", function () {
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (x) { x.classList.remove("drop-target"); });
  });

  document.addEventListener("drop", function (e) {
    if (!dragged) return;
    var t = targetOf(e);
    if (!t) return;
    e.preventDefault();
    var id = dragged.dataset.feature;
    if (t.classList.contains("rm-col")) {
      var over = e.target.closest(".rm-card");
      var values = { bucket: t.dataset.bucket };
      if (over && over !== dragged) values.before_id = over.dataset.feature;
      post(id, values);
    } else {
      var to = columnAt(t, e.clientX);
      if (fromCol !== null && to !== fromCol) {
        post(id, { shift: String(to - fromCol), granularity: root().dataset.granularity || "month" });
      }
    }
    dragged = null;
  });
})();
