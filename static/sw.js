/* Just.Trades service worker: the installable app (an offline page when the server cannot be
   reached) and the notifications the server pushes (Web Push). Pages are never cached: a
   trader must see live numbers or nothing. */
"use strict";

const OFFLINE_CACHE = "jt-offline-v1";
const OFFLINE_URL = "/static/offline.html";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(OFFLINE_CACHE)
      .then((cache) => cache.addAll([OFFLINE_URL, "/static/css/app.css"]))
      .then(() => self.skipWaiting())
  );
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== OFFLINE_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.mode !== "navigate") return;  // API calls, static files: the network as usual
  event.respondWith(
    fetch(request).catch(() => caches.match(OFFLINE_URL, { cacheName: OFFLINE_CACHE }))
  );
});

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { title: "Just.Trades", body: event.data ? event.data.text() : "" };
  }
  const title = data.title || "Just.Trades";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: data.body || "",
      tag: data.tag || undefined,
      icon: "/static/img/icon-192.png",
      badge: "/static/img/icon-192.png",
      data: { url: data.url || "/" },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const w of windows) {
        if (new URL(w.url).origin === target.origin && "focus" in w) {
          if ("navigate" in w && w.url !== target.href) w.navigate(target.href);
          return w.focus();
        }
      }
      return self.clients.openWindow(target.href);
    })
  );
});
