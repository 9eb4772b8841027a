/* ProdOps feedback widget: a "Feedback" button and a small form, isolated in a Shadow DOM.
   <script src="https://HOST/feedback/widget.js" data-site="KEY" async></script>; options and the ProdOpsFeedback
   API (identify, open, close, calls queued before load) are in the README. While a visitor types, a second script
   (widget-ideas.js, fetched on the first keystroke) shows ideas others asked for. No cookies, no storage, no
   requests to anyone but the ProdOps server that served this script. */
(function () {
  "use strict";
  var me = document.currentScript || document.querySelector('script[data-site][src*="/feedback/widget.js"]');
  if (!me || (window.ProdOpsFeedback && window.ProdOpsFeedback.version)) return;
  var endpoint = new URL(me.src, location.href).origin + "/api/v1/feedback/widget/" +
    encodeURIComponent(me.getAttribute("data-site") || "");
  var queued = Array.isArray(window.ProdOpsFeedback) ? window.ProdOpsFeedback : [];

  var CSS = ":host{all:initial}*{box-sizing:border-box;font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}" +
    "[hidden]{display:none!important}" +
    "button{cursor:pointer;border:0;border-radius:6px;padding:8px 14px;background:#1d4ed8;color:#fff;font-weight:600}" +
    "button:disabled{opacity:.6;cursor:wait}:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".open{position:fixed;right:16px;bottom:16px;z-index:2147483000;box-shadow:0 2px 8px rgba(0,0,0,.25)}" +
    ".panel{position:fixed;right:16px;bottom:64px;z-index:2147483001;width:min(340px,calc(100vw - 32px));" +
    "background:#fff;color:#1b1b1b;border:1px solid #bbb;border-radius:10px;padding:14px;box-shadow:0 8px 28px rgba(0,0,0,.25)}" +
    ".head{display:flex;justify-content:space-between;align-items:center}h2{margin:0;font-size:16px;font-weight:700}" +
    ".x{background:none;color:#333;padding:0 8px;font-size:22px;line-height:1}" +
    "label{display:block;margin:10px 0 3px;font-weight:600}label span{font-weight:400;color:#555}" +
    "textarea,input{display:block;width:100%;padding:6px 8px;border:1px solid #777;border-radius:6px;background:#fff;color:#111}" +
    "textarea{resize:vertical;min-height:90px}[aria-invalid=true]{border-color:#b3261e}" +
    ".err{display:block;color:#b3261e;margin-top:2px}.msg{margin:10px 0}.msg.bad{color:#b3261e}.msg.ok{color:#146c2e}" +
    ".hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}";
  var HTML = '<button class="open" type="button" aria-haspopup="dialog" aria-expanded="false">Feedback</button>' +
    '<div class="panel" role="dialog" aria-labelledby="t" hidden><form novalidate>' +
    '<div class="head"><h2 id="t">Send feedback</h2><button class="x" type="button" aria-label="Close">×</button></div>' +
    '<label for="text">What would you like to tell us?</label>' +
    '<textarea id="text" name="text" rows="5" maxlength="5000" required aria-describedby="text-err"></textarea>' +
    '<small class="err" id="text-err"></small>' +
    '<label for="email">E-mail <span>(so we can reply)</span></label>' +
    '<input id="email" name="email" type="email" autocomplete="email" maxlength="320" aria-describedby="email-err">' +
    '<small class="err" id="email-err"></small>' +
    '<label for="name">Name <span>(optional)</span></label>' +
    '<input id="name" name="name" autocomplete="name" maxlength="200" aria-describedby="name-err">' +
    '<small class="err" id="name-err"></small>' +
    '<div class="hp" aria-hidden="true"><label for="pf-hp">Leave this field empty</label>' +
    '<input id="pf-hp" name="pf_hp" tabindex="-1" autocomplete="off"></div>' +
    '<p class="msg" role="status" aria-live="polite"></p>' +
    '<button class="send" type="submit">Send feedback</button></form></div>';

  var host = document.createElement("div");
  host.setAttribute("data-prodops-feedback", "");
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML = "<style>" + CSS + "</style>" + HTML;
  var $ = function (sel) { return root.querySelector(sel); };
  var opener = $(".open"), panel = $(".panel"), form = $("form"), msg = $(".msg"), send = $(".send");
  // Named lookups: form.name would be the form element's own property, not the field.
  var field = function (n) { return form.elements.namedItem(n); };
  if (me.getAttribute("data-button") === "false") opener.hidden = true;

  function say(text, kind) { msg.textContent = text || ""; msg.className = "msg" + (kind ? " " + kind : ""); }

  function clearErrors() {
    ["text", "email", "name"].forEach(function (n) {
      field(n).removeAttribute("aria-invalid");
      $("#" + n + "-err").textContent = "";
    });
    say("");
  }

  function fieldError(name, text) {
    var el = root.getElementById(name + "-err");
    if (!el) return false;
    el.textContent = text;
    field(name).setAttribute("aria-invalid", "true");
    return true;
  }

  function open() {
    panel.hidden = false;
    opener.setAttribute("aria-expanded", "true");
    field("text").focus();
  }

  function close() {
    panel.hidden = true;
    opener.setAttribute("aria-expanded", "false");
    if (!opener.hidden) opener.focus();
  }

  opener.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  field("text").addEventListener("input", function load() {
    field("text").removeEventListener("input", load);
    var s = document.createElement("script");
    s.src = new URL(me.src, location.href).origin + "/feedback/widget-ideas.js";
    document.head.appendChild(s);
  });
  $(".x").addEventListener("click", close);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { e.stopPropagation(); close(); } });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearErrors();
    if (!field("text").value.trim()) { fieldError("text", "Write your feedback first."); field("text").focus(); return; }
    var body = {
      text: field("text").value,
      email: field("email").value.trim() || null,
      name: field("name").value.trim(),
      // Without the query string or fragment: they can hold tokens that are nobody else's business.
      page_url: (location.origin + location.pathname).slice(0, 2000),
      website: field("pf_hp").value
    };
    send.disabled = true;
    say("Sending…");
    fetch(endpoint, {
      method: "POST", mode: "cors", credentials: "omit", cache: "no-store",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { r: r, data: data }; });
    }).then(function (res) {
      var d = res.data.detail;
      if (res.r.ok) { field("text").value = ""; say(res.data.message || "Thank you!", "ok"); return; }
      if (Array.isArray(d)) {
        var general = [];
        d.forEach(function (p) {
          var name = p.loc && p.loc.length ? p.loc[p.loc.length - 1] : "";
          if (!fieldError(name, p.msg)) general.push(p.msg);
        });
        say(general.length ? general.join(" ") : "Please check the form.", "bad");
      } else {
        say(typeof d === "string" ? d : "Sending failed (error " + res.r.status + "). Try again later.", "bad");
      }
    }, function () {
      say("Your feedback could not be sent: this page may not be allowed to send feedback, or you are offline.", "bad");
    }).then(function () { send.disabled = false; });
  });

  var api = {
    version: 1,
    parts: { root: root, field: field, endpoint: endpoint },
    open: open,
    close: close,
    identify: function (who) {
      who = who || {};
      field("email").value = who.email || "";
      field("name").value = who.name || "";
    },
    push: function (call) {
      if (call && call[0] !== "push" && typeof api[call[0]] === "function") api[call[0]].apply(api, call.slice(1));
    }
  };
  window.ProdOpsFeedback = api;
  queued.forEach(api.push);

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
