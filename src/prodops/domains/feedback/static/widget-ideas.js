/* ProdOps feedback widget, part two: ideas others already asked for, shown under the text while a visitor types
   (titles and statuses of features only). Loaded by widget.js on the first keystroke; asks at most once per pause
   in typing (700 ms) and only when the text changed; a refusal (rate limit, origin) simply shows nothing. */
(function () {
  "use strict";
  var w = window.ProdOpsFeedback && window.ProdOpsFeedback.parts;
  if (!w || w.root.querySelector(".ideas")) return;
  var text = w.field("text");
  var box = document.createElement("div");
  box.className = "ideas";
  box.hidden = true;
  box.setAttribute("aria-live", "polite");
  box.innerHTML = "<style>.ideas{margin:8px 0 0;padding:6px 8px;border-radius:6px;background:#f2f4f7}" +
    ".ideas ul{margin:4px 0 0;padding-left:18px}.ideas span{color:#555}</style>Others asked for:<ul></ul>";
  w.root.getElementById("text-err").insertAdjacentElement("afterend", box);
  var list = box.querySelector("ul"), asked = "", pause = null, seq = 0;

  function show(items) {
    list.textContent = "";
    (items || []).forEach(function (idea) {
      var li = document.createElement("li"), status = document.createElement("span");
      li.textContent = idea.title + " ";
      status.textContent = "(" + idea.status + ")";
      li.appendChild(status);
      list.appendChild(li);
    });
    box.hidden = !list.children.length;
  }

  function suggest() {
    var q = text.value.trim().replace(/\s+/g, " ").slice(0, 500);
    if (q.length < 12) { asked = ""; show([]); return; }
    if (q === asked) return;
    asked = q;
    var mine = ++seq;
    fetch(w.endpoint + "/similar?q=" + encodeURIComponent(q), { mode: "cors", credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (d) { if (mine === seq) show(d.items); }, function () { if (mine === seq) show([]); });
  }

  text.addEventListener("input", function () { clearTimeout(pause); pause = setTimeout(suggest, 700); });
  // Sent: the text is cleared, and so are the ideas.
  text.form.addEventListener("submit", function () { setTimeout(function () { if (!text.value) show([]); }, 1500); });
  suggest();
})();
