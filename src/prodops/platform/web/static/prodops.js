// ProdOps page behaviour: charts, keyboard help, CSRF for HTMX and fetch. No build step.
(function () {
  "use strict";

  // Pages that declare charts load vega-embed in <head>; charts arriving in HTMX panels load it here, once.
  var vegaLoading = null;
  function withVega(fn) {
    if (window.vegaEmbed) { fn(); return; }
    if (!vegaLoading) {
      vegaLoading = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "/static/vendor/vega-embed.js";
        s.onload = resolve;
        s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    vegaLoading.then(fn, function () {});
  }

  function embed(el, spec) {
    if (!window.vegaEmbed) { withVega(function () { embed(el, spec); }); return; }
    spec.width = spec.width || "container";
    spec.autosize = spec.autosize || { type: "fit", contains: "padding" };
    window.vegaEmbed(el, spec, { actions: { export: true, source: false, compiled: false, editor: false } })
      .catch(function (err) { el.textContent = "The chart could not be drawn: " + err; });
  }

  function drawCharts(root) {
    root.querySelectorAll("figure.chart:not([data-drawn])").forEach(function (el) {
      el.setAttribute("data-drawn", "1");
      var inline = el.querySelector("script.vega-spec");
      if (inline) {
        embed(el, JSON.parse(inline.textContent));
      } else if (el.dataset.vegaSrc) {
        fetch(el.dataset.vegaSrc, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
          .then(function (spec) { embed(el, spec); })
          .catch(function (err) { el.textContent = "The chart data could not be loaded (" + err.message + ")."; });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (e) { drawCharts(e.target); });

  // Every HTMX request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) e.detail.headers["X-CSRF-Token"] = meta.content;
  });

  // Select-all checkbox for bulk actions on list pages.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && t.matches("input[data-select-all]")) {
      document.querySelectorAll('input[name="' + t.dataset.selectAll + '"]').forEach(function (cb) { cb.checked = t.checked; });
    }
  });

  // "?" shows the keyboard shortcuts of the page, "/" focuses search, "g" + key navigates.
  var pendingG = false;
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || e.target.isContentEditable || e.metaKey || e.ctrlKey || e.altKey) return;
    if (e.key === "?") { var d = document.getElementById("shortcuts"); if (d) { d.open ? d.close() : d.showModal(); } e.preventDefault(); return; }
    if (e.key === "/") { var s = document.querySelector('input[type="search"]'); if (s) { s.focus(); e.preventDefault(); } return; }
    if (pendingG) {
      pendingG = false;
      var link = document.querySelector('[data-goto="' + e.key + '"]');
      if (link) { window.location = link.getAttribute("href"); e.preventDefault(); }
      return;
    }
    if (e.key === "g") { pendingG = true; setTimeout(function () { pendingG = false; }, 1200); }
  });
})();
