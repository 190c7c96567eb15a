(function (script) {
  // The toggle keeps the reader's section: ids match in both languages.
  var toggle = document.querySelector(".lang-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      if (location.hash) toggle.hash = location.hash;
    });
  }
  // The offline worker (static/sw.js) registers after load; switched off,
  // the one a visitor had goes, with what it kept.
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
