/* ProdOps in-app NPS survey: asks a signed-in user "How likely are you to recommend us?" and "why?", in a Shadow DOM.
   <script src="https://HOST/surveys/snippet.js" data-site="SITE_KEY" data-survey="SURVEY_ID" data-email="USER_EMAIL"
   async></script> (data-lang optional). The server says whether to ask (nobody is asked twice within the survey
   throttle). No cookies, no storage, no requests to anyone but the ProdOps server that served this script. */
(function () {
  "use strict";
  var me = document.currentScript || document.querySelector('script[data-survey][src*="/surveys/snippet.js"]');
  if (!me || window.ProdOpsSurvey) return;
  window.ProdOpsSurvey = { version: 1 };
  var email = me.getAttribute("data-email") || "";
  var lang = me.getAttribute("data-lang") || document.documentElement.lang || "";
  var endpoint = new URL(me.src, location.href).origin + "/api/v1/surveys/in-app/" +
    encodeURIComponent(me.getAttribute("data-site") || "") + "/" + encodeURIComponent(me.getAttribute("data-survey") || "");
  if (!email) return;

  var CSS = ":host{all:initial}*{box-sizing:border-box;font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}" +
    "[hidden]{display:none!important}.box{position:fixed;left:50%;bottom:16px;transform:translateX(-50%);z-index:2147483000;" +
    "width:min(560px,calc(100vw - 24px));background:#fff;color:#1b1b1b;border:1px solid #bbb;border-radius:10px;padding:14px;" +
    "box-shadow:0 8px 28px rgba(0,0,0,.25)}.head{display:flex;justify-content:space-between;gap:8px}" +
    "h2{margin:0 0 8px;font-size:15px;font-weight:700}button{cursor:pointer;border-radius:6px}" +
    ".x{background:none;border:0;font-size:20px;line-height:1;color:#333}.scale{display:flex;gap:4px;flex-wrap:wrap}" +
    ".scale button{min-width:36px;padding:6px 0;border:1px solid #777;background:#fff;color:#111}" +
    ".scale button[aria-pressed=true]{background:#1d4ed8;color:#fff;border-color:#1d4ed8}" +
    ".ends{display:flex;justify-content:space-between;color:#555;font-size:12px;margin:4px 0 8px}" +
    "label{display:block;font-weight:600;margin:8px 0 4px}textarea{width:100%;min-height:70px;padding:6px;border:1px solid #777;border-radius:6px}" +
    ".send{border:0;padding:8px 14px;background:#1d4ed8;color:#fff;font-weight:600;margin-top:8px}" +
    ".skip{border:0;background:none;color:#333;text-decoration:underline;margin-left:8px}:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}.msg{margin:8px 0 0}";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  function show(q) {
    var host = el("div", { "data-prodops-survey": "" });
    var root = host.attachShadow({ mode: "open" });
    var style = el("style"); style.textContent = CSS; root.appendChild(style);
    var box = el("div", { "class": "box", role: "dialog", "aria-labelledby": "q" });
    var head = el("div", { "class": "head" });
    head.appendChild(el("h2", { id: "q" }, q.question));
    var close = el("button", { "class": "x", type: "button", "aria-label": "Close" }, "×");
    head.appendChild(close); box.appendChild(head);
    var scale = el("div", { "class": "scale", role: "group", "aria-labelledby": "q" });
    var chosen = null;
    for (var n = 0; n <= 10; n++) {
      var b = el("button", { type: "button", "aria-pressed": "false", "data-score": String(n) }, String(n));
      scale.appendChild(b);
    }
    box.appendChild(scale);
    var ends = el("div", { "class": "ends" });
    ends.appendChild(el("span", {}, "Not at all likely")); ends.appendChild(el("span", {}, "Extremely likely"));
    box.appendChild(ends);
    var form = el("form", { hidden: "" });
    var label = el("label", { "for": "why" });
    var why = el("textarea", { id: "why", maxlength: "5000" });
    var hp = el("div", { "class": "hp", "aria-hidden": "true" });
    var trap = el("input", { name: "website", tabindex: "-1", autocomplete: "off" });
    hp.appendChild(trap);
    form.appendChild(label); form.appendChild(why); form.appendChild(hp);
    form.appendChild(el("button", { "class": "send", type: "submit" }, "Send"));
    var skip = el("button", { "class": "skip", type: "button" }, "Skip");
    form.appendChild(skip);
    box.appendChild(form);
    var msg = el("p", { "class": "msg", role: "status", "aria-live": "polite" });
    box.appendChild(msg);
    root.appendChild(box);
    document.body.appendChild(host);

    scale.addEventListener("click", function (e) {
      var t = e.target;
      if (!t || !t.getAttribute || t.getAttribute("data-score") === null) return;
      chosen = parseInt(t.getAttribute("data-score"), 10);
      Array.prototype.forEach.call(scale.children, function (c) { c.setAttribute("aria-pressed", String(c === t)); });
      label.textContent = chosen <= q.low_max ? q.why_low : q.why;
      form.hidden = false;
      why.focus();
    });
    function send(comment) {
      if (chosen === null) return;
      fetch(endpoint, {
        method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email: email, score: chosen, comment: comment, language: q.language, website: trap.value })
      }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        scale.hidden = true; ends.hidden = true; form.hidden = true; msg.textContent = q.thank_you;
        setTimeout(function () { host.remove(); }, 2500);
      }).catch(function () { msg.textContent = "Sorry, your answer could not be sent. Please try again."; });
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); send(why.value.trim()); });
    skip.addEventListener("click", function () { send(""); });
    close.addEventListener("click", function () { host.remove(); });
  }

  fetch(endpoint + "?email=" + encodeURIComponent(email) + "&lang=" + encodeURIComponent(lang), { mode: "cors", credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (q) { if (q && q.ask) show(q); })
    .catch(function () { /* never break the host page */ });
})();
