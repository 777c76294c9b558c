import { notifyApi } from "./api";

/**
 * This device's side of Web Push: the service worker (public/sw.js), permission, and the
 * subscription handed to the server.
 */

export function pushSupported(): boolean {
  return (
    typeof window !== "undefined" &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window
  );
}

/** Registers the service worker once per page load; every page calls it. */
export function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (typeof window === "undefined" || !("serviceWorker" in navigator))
    return Promise.resolve(null);
  return navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((err: unknown) => {
    console.warn("service worker not registered", err);
    return null;
  });
}

/**
 * Asks for permission, subscribes with this server's VAPID key and registers the
 * subscription with Parley. Throws a readable error when the person or the browser says no.
 */
export async function enablePush(): Promise<void> {
  if (!pushSupported()) throw new Error("This browser cannot show notifications from Parley");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new Error("Notifications are blocked for Parley in this browser's site settings");
  }
  await registerServiceWorker();
  const registration = await navigator.serviceWorker.ready;
  const { publicKey } = await notifyApi.devices();
  const existing = await registration.pushManager.getSubscription();
  const subscription =
    existing ??
    (await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: fromBase64url(publicKey),
    }));
  await notifyApi.subscribe(subscription.toJSON());
}

function fromBase64url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
