// The service worker: keeps the app shell (styles, scripts, icons) for a quick start and shows a
// plain offline page when the portal cannot be reached. Pages and the API (the dashboard's live
// feed among it) always go to the network: they are private and must be current. SHELL and
// OFFLINE are put in front of this file by smartlight.views.service_worker.
const CACHE = "smartlight-shell-" + SHELL.join("|").length + "-" + SHELL.length;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE)));
  }
});
