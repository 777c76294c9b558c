/**
 * Parley's service worker (docs/notifications.md): shows Web Push notifications, opens the
 * room at the message on a click, closes notifications of rooms read elsewhere, and serves
 * an offline page when the server cannot be reached. Plain JavaScript, served as is.
 */
const SHELL_CACHE = "parley-shell-v1";
const OFFLINE_URL = "/offline.html";
const SHELL = [OFFLINE_URL, "/icons/icon-192.png", "/icons/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key !== SHELL_CACHE) await caches.delete(key);
      }
      // Control the pages already open, so the first visit is covered too.
      await self.clients.claim();
    })(),
  );
});

// Pages always come from the network (they are per-user and live); only when it fails
// does the offline page stand in. Everything else is left to the browser.
self.addEventListener("fetch", (event) => {
  if (event.request.mode !== "navigate") return;
  event.respondWith(
    fetch(event.request).catch(async () => (await caches.match(OFFLINE_URL)) || Response.error()),
  );
});

self.addEventListener("push", (event) => {
  let payload;
  try {
    payload = event.data ? event.data.json() : null;
  } catch {
    payload = null;
  }
  // Browsers require every push to show something (userVisibleOnly).
  if (!payload || typeof payload.title !== "string") {
    payload = { kind: "message", title: "Parley", body: "New message", tag: "parley", url: "/" };
  }
  event.waitUntil(showPush(payload).then(closeReadNotifications));
});

/** Shows a push; a burst in one room collapses into one notification that counts them. */
async function showPush(p) {
  const previous = p.tag ? await self.registration.getNotifications({ tag: p.tag }) : [];
  const count = (previous[0] && previous[0].data && previous[0].data.count) || 0;
  const body = count > 0 && p.kind === "message" ? `${p.body}\n(+${count} more)` : p.body;
  const options = {
    body,
    tag: p.tag,
    icon: p.icon || "/icons/icon-192.png",
    badge: "/icons/badge-96.png",
    timestamp: p.timestamp,
    renotify: p.kind === "call",
    data: { url: p.url, roomId: p.roomId, seq: p.seq, kind: p.kind, count: count + 1 },
  };
  if (p.kind === "call") {
    options.actions = [
      { action: "join", title: "Join" },
      { action: "dismiss", title: "Dismiss" },
    ];
    options.requireInteraction = true;
  }
  await self.registration.showNotification(p.title, options);
}

/**
 * Closes notifications of messages already read on some device: the server says how far
 * each room is read. Runs whenever the worker wakes for a push (a browser allows no
 * invisible pushes, so there is no separate "read" push).
 */
async function closeReadNotifications() {
  const shown = (await self.registration.getNotifications()).filter(
    (n) => n.data && n.data.kind === "message" && n.data.roomId,
  );
  if (shown.length === 0) return;
  const roomIds = [...new Set(shown.map((n) => n.data.roomId))];
  try {
    const res = await fetch(`/api/notifications/read?roomIds=${roomIds.join(",")}`, {
      credentials: "same-origin",
      headers: { accept: "application/json" },
    });
    if (!res.ok) return;
    const { read } = await res.json();
    for (const n of shown) {
      if (typeof read[n.data.roomId] === "number" && read[n.data.roomId] >= n.data.seq) n.close();
    }
  } catch {
    // Offline: they stay until the next time.
  }
}

// An open page on a device without Web Push hands over what it was told while hidden
// (lib/notify/client/unread.ts), so it shows and clicks like a push.
self.addEventListener("message", (event) => {
  const message = event.data;
  if (!message || message.type !== "show" || !message.payload) return;
  if (event.origin && event.origin !== self.location.origin) return;
  event.waitUntil(showPush(message.payload));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  if (event.action === "dismiss") return;
  event.waitUntil(openNotification(event.notification));
});

/**
 * Opens what a notification points at: the room, at the message (`?m=<seq>`). A Parley
 * window already open is focused and taken there (the one on that room if there is one);
 * otherwise a new one opens. A call's `Join` opens its room, where `Join call` is.
 */
async function openNotification(notification) {
  const data = notification.data || {};
  const target = new URL(data.url || "/", self.location.origin);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const ours = windows.filter((w) => new URL(w.url).origin === self.location.origin);
  const client = ours.find((w) => new URL(w.url).pathname === target.pathname) || ours[0];
  if (client) {
    try {
      await client.focus();
    } catch {
      // Focusing needs the click's user activation; without it, navigating still works.
    }
    if ("navigate" in client) {
      const navigated = await client.navigate(target.href).catch(() => null);
      if (navigated) return;
    }
  }
  await self.clients.openWindow(target.href);
}
