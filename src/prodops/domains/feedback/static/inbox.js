// ProdOps triage inbox: keyboard selection and actions, the link-to-feature picker, highlight offsets.
// Plain JavaScript on top of htmx; the server renders every fragment. Loaded only by the inbox pages.
(function () {
  "use strict";

  if (window.htmx) {
    // Back/forward always asks the server (lists change under triage; a cached snapshot would be stale),
    // and a 422 carries the form again with its errors, so it is swapped in like a success.
    htmx.config.historyCacheSize = 0;
    htmx.config.refreshOnHistoryMiss = true;
    htmx.config.responseHandling = [{ code: "204", swap: false }, { code: "422", swap: true }].concat(
      htmx.config.responseHandling.filter(function (r) { return r.code !== "204"; }));
  }

  var state = { current: null, open: null };

  function $(sel) { return document.querySelector(sel); }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#fb-list tbody tr[data-item]")); }
  function rowOf(id) { return id ? document.getElementById("fb-row-" + id) : null; }
  function canTriage() { return !!$("#fb-item form[action$='/status']"); }
  function openId() { var item = $("#fb-item"); return item ? item.getAttribute("data-item-id") : null; }

  // Classes follow the state, so rows re-rendered by htmx (out of band) keep their marks.
  function paint() {
    rows().forEach(function (r) {
      var id = r.getAttribute("data-item");
      r.classList.toggle("is-current", id === state.current);
      r.classList.toggle("is-open", id === state.open);
      if (id === state.current) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current");
    });
  }

  function select(row, scroll) {
    state.current = row ? row.getAttribute("data-item") : null;
    paint();
    if (row && scroll) row.scrollIntoView({ block: "nearest" });
  }

  function move(delta) {
    var all = rows();
    if (!all.length) return;
    var i = all.indexOf(rowOf(state.current));
    select(all[i < 0 ? 0 : Math.max(0, Math.min(all.length - 1, i + delta))], true);
  }

  function remember(id) {
    var url = new URL(window.location.href);
    if (id) url.searchParams.set("item", id); else url.searchParams.delete("item");
    window.history.replaceState(window.history.state, "", url.toString());
  }

  function openItem(id) {
    if (!id || !$("#fb-inbox")) return Promise.resolve();
    state.open = String(id);
    var row = rowOf(id);
    if (row) select(row, true); else paint();
    remember(id);
    return htmx.ajax("GET", "/feedback/items/" + id, { target: "#fb-detail", swap: "innerHTML" });
  }

  function ensureOpen() {
    if (openId()) return Promise.resolve(openId());
    if (!state.current) return Promise.resolve(null);
    return openItem(state.current).then(function () { return openId(); });
  }

  function archive() {
    var id = openId() || state.current;
    if (!id || (openId() && !canTriage()) || !$("#fb-inbox[data-can-triage='true'], #fb-detail[data-standalone]")) return;
    var next = null;
    var all = rows();
    var i = all.indexOf(rowOf(id));
    if (i >= 0) next = all[i + 1] || null;
    htmx.ajax("POST", "/feedback/items/" + id + "/status", {
      target: "#fb-detail", swap: "innerHTML", values: { status: "archived" }
    }).then(function () {
      if (next && $("#fb-inbox")) openItem(next.getAttribute("data-item"));  // the next item opens after an action
    });
  }

  // The bulk bar opens and counts as soon as something is selected.
  function countSelected() {
    var n = document.querySelectorAll("#fb-list input[name='ids']:checked").length;
    var box = $("#fb-bulk-box");
    var label = $("#fb-selected-count");
    if (box && n) box.open = true;
    if (label) label.textContent = n ? "(" + n + " selected)" : "(select items with x or the boxes)";
  }

  function toggleChecked() {
    var row = rowOf(state.current);
    var box = row && row.querySelector("input[name='ids']");
    if (box) { box.checked = !box.checked; countSelected(); }
  }

  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("#fb-list input[name='ids'], #fb-select-all")) setTimeout(countSelected, 0);
  });

  function focusField(sel) {
    ensureOpen().then(function () {
      // A pane still being re-rendered (after a save) would replace the field we focus: wait for it to settle.
      var tries = 0;
      (function focusWhenSettled() {
        if (document.querySelector(".htmx-request") && tries++ < 40) { setTimeout(focusWhenSettled, 25); return; }
        var el = $(sel);
        if (el) { el.focus(); if (el.select && el.tagName === "INPUT") el.select(); }
      })();
    });
  }

  // --- highlights: a selection inside the text, as code-point offsets into the item's raw text ----------

  function length(text) { return Array.from(text).length; }  // Python counts code points, JS strings count UTF-16 units

  function selectionIn(el) {
    var sel = window.getSelection();
    if (!el || !sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    var range = sel.getRangeAt(0);
    if (!range.intersectsNode(el)) return null;
    var inner = document.createRange();
    inner.selectNodeContents(el);
    if (el.contains(range.startContainer)) inner.setStart(range.startContainer, range.startOffset);
    if (el.contains(range.endContainer)) inner.setEnd(range.endContainer, range.endOffset);
    var before = document.createRange();
    before.selectNodeContents(el);
    before.setEnd(inner.startContainer, inner.startOffset);
    var text = inner.toString();
    var start = length(before.toString());
    var end = start + length(text);
    if (end <= start || !text.trim()) return null;
    return { start: start, end: end, text: text };
  }

  document.addEventListener("selectionchange", function () {
    var button = $("#fb-link-highlight");
    if (button) button.disabled = !selectionIn($("#fb-text"));
  });

  function openLinkDialog() {
    var dialog = $("#fb-link-dialog");
    if (!dialog) return;
    var passage = selectionIn($("#fb-text"));
    ensureOpen().then(function (id) {
      if (!id || !canTriage()) return;
      var form = $("#fb-link-form");
      form.setAttribute("data-item-id", id);
      form.setAttribute("action", "/feedback/items/" + id + "/links");
      $("#fb-hl-start").value = passage ? passage.start : "";
      $("#fb-hl-end").value = passage ? passage.end : "";
      var quote = $("#fb-link-quote");
      quote.textContent = passage ? "“" + passage.text + "”" : "";
      quote.hidden = !passage;
      $("#fb-link-title").textContent = passage ? "Link this passage to a feature" : "Link this item to a feature";
      $("#fb-link-errors").textContent = "";
      var q = $("#fb-link-q");
      q.value = "";
      dialog.showModal();
      q.focus();
      htmx.trigger(q, "fb-open");
    });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.id !== "fb-link-form") return;
    e.preventDefault();
    var id = form.getAttribute("data-item-id");
    if (!id) return;
    htmx.ajax("POST", "/feedback/items/" + id + "/links", { source: form, target: "#fb-detail", swap: "innerHTML" });
  });

  // A write answered with HX-Trigger: fb-changed; the link dialog has done its job.
  document.body.addEventListener("fb-changed", function () {
    var dialog = $("#fb-link-dialog");
    if (dialog && dialog.open) dialog.close();
  });

  document.addEventListener("mousedown", function (e) {
    // Keep the text selection when the button is pressed.
    if (e.target.closest && e.target.closest("#fb-link-highlight")) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!t.closest) return;
    if (t.closest("#fb-link-open") || t.closest("#fb-link-highlight")) { e.preventDefault(); openLinkDialog(); return; }
    if (t.closest("#fb-link-dialog [data-close]")) { $("#fb-link-dialog").close(); return; }
    var similar = t.closest("#fb-intel a[data-open]");
    if (similar && $("#fb-inbox") && !(e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0)) {
      e.preventDefault();  // a similar item opens in the pane, like a row
      openItem(similar.getAttribute("data-open"));
      return;
    }
    var row = t.closest("#fb-list tr[data-item]");
    if (!row || t.closest("input, button, select, label")) return;
    if (t.closest("a") && (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0)) return;  // open in a new tab
    e.preventDefault();
    openItem(row.getAttribute("data-item"));
  });

  document.addEventListener("keydown", function (e) {
    var t = e.target;
    var tag = (t.tagName || "").toLowerCase();
    var typing = tag === "input" || tag === "textarea" || tag === "select" || t.isContentEditable;
    if (e.key === "Escape" && typing && !t.closest("dialog")) { t.blur(); return; }
    if (typing || e.metaKey || e.ctrlKey || e.altKey || document.querySelector("dialog[open]")) return;
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter": case "o":
        if (tag === "a" || tag === "button" || tag === "summary") return;
        if (state.current) openItem(state.current); else return;
        break;
      case "e": archive(); break;
      case "l": openLinkDialog(); break;
      case "t": focusField("#fb-tags"); break;
      case "a": focusField("#fb-assignee"); break;
      case "x": toggleChecked(); break;
      default: return;
    }
    e.preventDefault();
  });

  // Filter form: leave empty fields out, so the address bar shows only the active filters.
  document.addEventListener("htmx:configRequest", function (e) {
    if (!e.detail.elt || e.detail.elt.id !== "fb-filters") return;
    var params = e.detail.parameters;
    var keys = typeof params.keys === "function" ? Array.from(params.keys()) : Object.keys(params);
    keys.forEach(function (k) {
      var values = typeof params.getAll === "function" ? params.getAll(k) : [].concat(params[k]);
      var blank = values.every(function (v) { return v === "" || v === null; });
      // New + triaged is what the inbox shows anyway: keep the address short.
      var usual = k === "status" && values.length === 2 && values.indexOf("new") >= 0 && values.indexOf("triaged") >= 0;
      if (blank || usual) {
        if (typeof params.delete === "function") params.delete(k); else delete params[k];
      }
    });
  });

  // After a saved change the keys drive the list again (htmx would leave the focus in the re-rendered field);
  // after an error the focus stays, to fix it.
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail.elt;
    if (!elt || !elt.closest || !elt.closest("#fb-detail") || !e.detail.successful) return;
    var active = document.activeElement;
    if (active && active !== document.body && active.closest && active.closest("#fb-detail")) active.blur();
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && e.target.id === "fb-results") {
      if (!rowOf(state.current)) { var first = rows()[0]; state.current = first ? first.getAttribute("data-item") : null; }
    }
    paint();
  });

  function start() {
    var inbox = $("#fb-inbox");
    if (!inbox) return;
    var first = rows()[0];
    state.current = first ? first.getAttribute("data-item") : null;
    var selected = inbox.getAttribute("data-selected");
    if (selected) openItem(selected); else paint();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
