// The supervisor page's service worker: keeps the app shell so the page opens without
// network. Commands are never answered from here: they go to the network or stay in the
// page's outbox (IndexedDB) until they can.

const VERSION = {{ version | tojson }};
const CACHE = `cityloop-supervisor-${VERSION}`;
const SHELL = "/supervisor/";
const ASSETS = {{ assets | tojson }};
const NETWORK_WAIT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // Around the HTTP cache: the assets of this version, not older copies.
    await cache.addAll(ASSETS.map((url) => new Request(url, { cache: "reload" })));
    // The shell of whoever is signed in; the sign-in page it redirects to otherwise is not
    // kept in its place.
    const shell = await fetch(SHELL, { cache: "reload", redirect: "manual" });
    if (shell.ok) await cache.put(SHELL, shell);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("cityloop-supervisor-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

/** The network's answer when it comes in time, else the kept copy; a good answer is kept. */
async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await withTimeout(fetch(request), NETWORK_WAIT_MS);
    if (response.ok) await cache.put(key, response.clone());
    // A redirect (to sign in) or a refusal is the answer; only a console that cannot
    // answer now falls back to the kept copy.
    if (response.status < 500 || !(await cache.match(key))) return response;
  } catch {
    // No network: the kept copy below.
  }
  const kept = await cache.match(key);
  return kept || Response.error();
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request, { ignoreSearch: true });
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); },
      (error) => { clearTimeout(timer); reject(error); });
  });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith(SHELL)) {
    // The shell carries who is signed in: fresh from the network, kept for offline.
    event.respondWith(networkFirst(request, SHELL));
  } else if (url.pathname.startsWith("/static/supervisor/")) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname === "/supervisor/manifest.webmanifest") {
    event.respondWith(networkFirst(request, url.pathname));
  }
});
