"use client";

import { useSyncExternalStore } from "react";

const noSubscription = () => () => {};
const onClient = () => true;
const onServer = () => false;

/**
 * False while the server renders and while React hydrates what it rendered, true from then
 * on. For what must match the server's HTML until hydration (times in the viewer's zone),
 * and for controls that do nothing until their handlers are attached: rendered disabled
 * until then, a click on them is not lost on a slow device.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(noSubscription, onClient, onServer);
}
