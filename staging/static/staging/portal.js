// Checks the staging name while it is typed, with the same rules the server applies on submit.
(function () {
  "use strict";

  function watchName(input) {
    var feedback = document.getElementById("name-feedback");
    var url = input.dataset.checkUrl;
    var timer = null;
    var latest = 0;

    function show(ok, message) {
      feedback.textContent = message;
      feedback.classList.toggle("feedback--ok", ok);
      feedback.classList.toggle("feedback--bad", !ok);
      if (ok) {
        input.removeAttribute("aria-invalid");
      } else {
        input.setAttribute("aria-invalid", "true");
      }
    }

    function check() {
      // Answers can arrive out of order; only the one for the latest keystroke counts.
      var ticket = ++latest;
      fetch(url + "?name=" + encodeURIComponent(input.value.trim()), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) { return response.json(); })
        .then(function (answer) {
          if (ticket === latest) show(answer.ok, answer.message);
        })
        .catch(function () { /* the server checks again on submit */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.querySelector("input[data-check-url]");
    if (input) watchName(input);
  });

  // The dashboard's site list is fetched again every few seconds; the server answers 304 when
  // nothing changed, so the page (and the keyboard focus in it) is left alone.
  document.addEventListener("htmx:configRequest", function (event) {
    var etag = event.detail.elt.dataset && event.detail.elt.dataset.etag;
    if (etag) event.detail.headers["If-None-Match"] = etag;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 304) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      return;
    }
    var etag = xhr.getResponseHeader("ETag");
    if (etag && event.detail.elt.dataset && "etag" in event.detail.elt.dataset) {
      event.detail.elt.dataset.etag = etag;
    }
  });

  // "Copy link" buttons; delegated, because htmx replaces them as the list changes.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.setAttribute("data-copied", "");
      var status = document.getElementById("copy-status");
      if (status) status.textContent = "Link copied.";
      setTimeout(function () { button.removeAttribute("data-copied"); }, 2000);
    });
  });
})();
