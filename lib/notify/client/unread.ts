import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { chatKeys } from "@/lib/chat/client/keys";
import { command, getSocket } from "@/lib/realtime/client";
import { fetchRooms } from "@/lib/rooms/client";
import type { PushPayload } from "../schemas";

const PREFIX = /^\(\d+\+?\) /;

/**
 * The open app's own signals, on every signed-in page: the number of unread messages in
 * the page title and the app's badge (`navigator.setAppBadge`, installed apps), and a
 * desktop notification while the tab is hidden on a device that gets no Web Push (with
 * it, the push already shows one; the server decides what is worth one either way).
 */
export function useUnreadSignals(): void {
  const queryClient = useQueryClient();
  const { data: rooms } = useQuery({ queryKey: chatKeys.rooms, queryFn: fetchRooms });
  const unread = (rooms ?? []).reduce((n, r) => n + r.unreadCount, 0);
  const roomIds = (rooms ?? []).map((r) => r.id).join(",");

  // Keep the counts live: watch every room of the list (as the home page does).
  useEffect(() => {
    const socket = getSocket();
    const refresh = () => void queryClient.invalidateQueries({ queryKey: chatKeys.rooms });
    const watch = () => {
      if (!roomIds) return;
      command("rooms.watch", { roomIds: roomIds.split(",") }).catch(() => undefined);
    };
    socket.on("connect", watch);
    socket.on("room.activity", refresh);
    socket.on("read.updated", refresh);
    socket.on("rooms.changed", refresh);
    if (socket.connected) watch();
    return () => {
      socket.off("connect", watch);
      socket.off("room.activity", refresh);
      socket.off("read.updated", refresh);
      socket.off("rooms.changed", refresh);
    };
  }, [roomIds, queryClient]);

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
    const onNotification = (payload: PushPayload) => void showWhileHidden(payload);
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
