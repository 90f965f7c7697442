/* Just.Trades push service worker: shows the notifications the server pushes (Web Push). */
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

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
      icon: "/static/img/logo.svg",
      badge: "/static/img/logo.svg",
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
