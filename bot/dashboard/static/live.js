// The live class view: fetch the fresh part of the page every few seconds, no reload.
// The server escapes every learner string; this script only swaps server-made HTML.
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-live");
  var seconds = parseInt(body.getAttribute("data-refresh") || "5", 10);
  var main = document.getElementById("live");
  var failures = 0;
  function refresh() {
    fetch(url, { cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        main.innerHTML = html;
        failures = 0;
        body.removeAttribute("data-offline");
      })
      .catch(function () {
        failures += 1;
        body.setAttribute("data-offline", String(failures));
      })
      .then(function () {
        window.setTimeout(refresh, Math.min(60, seconds * (1 + failures)) * 1000);
      });
  }
  window.setTimeout(refresh, seconds * 1000);
}());
