import { readJson } from "@/lib/api-client";
import type { NotifyLevel, PrefsView, RoomNotifyView, SubscriptionView } from "../schemas";

/** The notifications API from the browser (app/api/notifications, app/api/rooms/<slug>/notifications). */
async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, {
    ...init,
    headers: {
      accept: "application/json",
      ...(init.body ? { "content-type": "application/json" } : {}),
    },
  });
  return readJson<T>(res);
}

export const notifyApi = {
  devices: () =>
    call<{ publicKey: string; subscriptions: SubscriptionView[] }>(
      "/api/notifications/subscriptions",
    ),
  subscribe: (subscription: PushSubscriptionJSON) =>
    call<SubscriptionView>("/api/notifications/subscriptions", {
      method: "POST",
      body: JSON.stringify(subscription),
    }),
  removeDevice: (id: string) =>
    call<null>(`/api/notifications/subscriptions?id=${encodeURIComponent(id)}`, {
      method: "DELETE",
    }),
  prefs: () => call<PrefsView>("/api/notifications/prefs"),
  updatePrefs: (input: { dndMinutes?: number; privacy?: boolean; emailDigest?: boolean }) =>
    call<PrefsView>("/api/notifications/prefs", { method: "PATCH", body: JSON.stringify(input) }),
  room: (slug: string) =>
    call<RoomNotifyView>(`/api/rooms/${encodeURIComponent(slug)}/notifications`),
  updateRoom: (slug: string, input: { level?: NotifyLevel | null; muted?: boolean }) =>
    call<RoomNotifyView>(`/api/rooms/${encodeURIComponent(slug)}/notifications`, {
      method: "PATCH",
      body: JSON.stringify(input),
    }),
};
