import { useEffect } from "react";
import { getSocket } from "@/lib/realtime/client";
import { useRoomList } from "@/lib/rooms/use-room-list";
import type { PushPayload } from "../schemas";
import { playChime, soundEnabled } from "./sound";

const PREFIX = /^\(\d+\+?\) /;

/**
 * The open app's own signals, on every signed-in page: the number of unread messages in
 * the page title and the app's badge (`navigator.setAppBadge`, installed apps), and a
 * desktop notification while the tab is hidden on a device that gets no Web Push (with
 * it, the push already shows one; the server decides what is worth one either way).
 */
export function useUnreadSignals(): void {
  // The page's live list of your rooms (lib/rooms/use-room-list.tsx), the sidebar's too.
  const rooms = useRoomList();
  const unread = rooms.reduce((n, r) => n + r.unreadCount, 0);

  // "(3) Room · Parley", kept when the page changes its own title.
  useEffect(() => {
    const apply = () => {
      const base = document.title.replace(PREFIX, "");
      const next = unread > 0 ? `(${unread > 99 ? "99+" : unread}) ${base}` : base;
      if (document.title !== next) document.title = next;
    };
    apply();
    const titleEl = document.querySelector("title");
    const observer = new MutationObserver(apply);
    if (titleEl) observer.observe(titleEl, { childList: true, characterData: true, subtree: true });
    if ("setAppBadge" in navigator) {
      const badge = unread > 0 ? navigator.setAppBadge(unread) : navigator.clearAppBadge();
      badge.catch(() => undefined);
    }
    return () => observer.disconnect();
  }, [unread]);

  useEffect(() => {
    const socket = getSocket();
    const onNotification = (payload: PushPayload) => {
      if (soundEnabled()) playChime();
      void showWhileHidden(payload);
    };
    socket.on("notification", onNotification);
    return () => {
      socket.off("notification", onNotification);
    };
  }, []);
}

async function showWhileHidden(payload: PushPayload): Promise<void> {
  if (document.visibilityState !== "hidden") return;
  if (!("serviceWorker" in navigator) || !("Notification" in window)) return;
  if (Notification.permission !== "granted") return;
  const registration = await navigator.serviceWorker.getRegistration();
  if (!registration?.active) return;
  // A device with Web Push gets this as a push already.
  if (await registration.pushManager?.getSubscription()) return;
  // The worker shows it, so it looks and clicks like a push (public/sw.js `show`).
  registration.active.postMessage({ type: "show", payload });
}
