// The site's own service worker (issue 23): after one visit the topic page,
// the wallet card, the privacy notice, the not-found pages and the stylesheet
// open without a connection. app/service_worker.py serves this file as
// /sw.js with CONFIG before it: {enabled, version, keep: [paths],
// forms: {path: offline notice HTML}}.
"use strict";

const CACHE = "kept-pages-" + CONFIG.version;

self.addEventListener("install", (event) => {
  // Disabled: install at once so "activate" clears what an older one kept.
  const keep = CONFIG.enabled
    ? caches.open(CACHE).then((cache) => cache.addAll(CONFIG.keep))
    : Promise.resolve();
  event.waitUntil(keep.then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  // An old version's cache (or, disabled, every one) goes.
  const drop = caches.keys().then((names) =>
    Promise.all(
      names
        .filter((name) => !CONFIG.enabled || name !== CACHE)
        .map((name) => caches.delete(name)),
    ),
  );
  const done = CONFIG.enabled
    ? drop.then(() => self.clients.claim())
    : drop.then(() => self.registration.unregister());
  event.waitUntil(done);
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  // Never a POST, nothing typed: only plain GETs of this site.
  if (!CONFIG.enabled || request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.search) return;
  const notice = CONFIG.forms[url.pathname];
  if (notice !== undefined && request.mode === "navigate") {
    // The form is never kept; offline it says nothing can be sent.
    event.respondWith(
      fetch(request).catch(() => html(notice)),
    );
  } else if (CONFIG.keep.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname));
  }
});

// The network's answer whenever there is one, so an edit reaches every
// reader at once; the kept copy, marked as such, only when it fails.
async function networkFirst(request, path) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const kept = await cache.match(path);
    if (!kept) throw error;
    return markedAsKept(kept);
  }
  if (response.ok) await cache.put(path, response.clone());
  return response;
}

// The page carries its "kept copy" line hidden (templates/base.html).
async function markedAsKept(kept) {
  if (!(kept.headers.get("Content-Type") || "").startsWith("text/html")) {
    return kept;
  }
  const text = (await kept.text()).replace(
    "data-kept-copy hidden",
    "data-kept-copy",
  );
  return new Response(text, { status: kept.status, headers: kept.headers });
}

function html(text) {
  return new Response(text, {
    headers: { "Content-Type": "text/html; charset=utf-8" },
  });
}
