(function (script) {
  // The language toggle keeps the section the reader was at: section ids are
  // the same in both languages (issue 21).
  var toggle = document.querySelector(".lang-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      if (location.hash) toggle.hash = location.hash;
    });
  }
  // The service worker (static/sw.js), after load so a first visit is no
  // heavier; switched off, the worker a visitor had goes, with what it kept.
  if (!("serviceWorker" in navigator)) return;
  window.addEventListener("load", function () {
    if (script.dataset.serviceWorker === "on") {
      navigator.serviceWorker.register(script.dataset.src);
      return;
    }
    navigator.serviceWorker.getRegistrations().then(function (workers) {
      workers.forEach(function (worker) { worker.unregister(); });
    });
    caches.keys().then(function (names) {
      names.forEach(function (name) { caches.delete(name); });
    });
  });
})(document.currentScript);
