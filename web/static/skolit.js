// Skolit web: progressive enhancement only. Every page works without this file; with it, forms marked
// data-autosave save as you go, search forms marked data-live-search update their results as you type, and an
// error summary takes the focus when the page opens. No third-party code; the CSP allows scripts from this site only.
(function () {
  "use strict";

  function csrf(form) {
    var field = form.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  // Autosave: POST the form to its own action with X-Autosave: 1; the page answers 200 JSON {"saved": true} (or 422 with
  // {"errors": {...}}). The status line (aria-live) says what happened; the Save button still works without script.
  function autosave(form) {
    var status = form.querySelector("[data-autosave-status]");
    var say = function (key) { if (status) { status.textContent = status.getAttribute("data-" + key) || ""; } };
    var save = debounce(function () {
      say("saving");
      var body = new URLSearchParams(new FormData(form));
      fetch(form.getAttribute("action") || window.location.pathname, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-Autosave": "1", "X-CSRF-Token": csrf(form) }
      }).then(function (r) {
        // saved only when the page answered its JSON: a redirect to sign in again (the session ended) is not a save
        var json = (r.headers.get("content-type") || "").indexOf("application/json") === 0;
        say(r.ok && json && !r.redirected ? "saved" : "failed");
      }, function () { say("failed"); });
    }, 800);
    form.addEventListener("change", save);
    form.addEventListener("input", function (e) { if (e.target && e.target.tagName === "TEXTAREA") { save(); } });
  }

  // Live search: a GET form whose results are in [data-results]; the page answers X-Partial: results with that part only.
  function liveSearch(form) {
    var results = document.querySelector(form.getAttribute("data-live-search"));
    if (!results) { return; }
    var run = debounce(function () {
      var query = new URLSearchParams(new FormData(form)).toString();
      fetch((form.getAttribute("action") || window.location.pathname) + "?" + query, { headers: { "X-Partial": "results" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          results.innerHTML = html;
          window.history.replaceState(null, "", "?" + query);
        });
    }, 300);
    form.addEventListener("input", run);
    form.addEventListener("change", run);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-autosave]"), autosave);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-live-search]"), liveSearch);
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) { summary.focus(); }
  });
})();
