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
})();
