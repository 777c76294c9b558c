/**
 * The optional notification sound: a per-device switch (localStorage), and a short two-tone
 * chime made with Web Audio (no file to fetch). Browsers let a page play sound only after
 * someone has interacted with it; before that the chime is silently skipped.
 */
const KEY = "parley-notify-sound";

export function soundEnabled(): boolean {
  try {
    return localStorage.getItem(KEY) === "on";
  } catch {
    return false;
  }
}

const listeners = new Set<() => void>();

/** For useSyncExternalStore: told when the switch changes. */
export function subscribeSound(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setSoundEnabled(on: boolean): void {
  try {
    localStorage.setItem(KEY, on ? "on" : "off");
  } catch {
    // Storage blocked: the switch cannot stick on this device.
  }
  for (const listener of listeners) listener();
}

let context: AudioContext | null = null;

export function playChime(): void {
  if (typeof window === "undefined" || !("AudioContext" in window)) return;
  context ??= new AudioContext();
  if (context.state === "suspended") {
    context.resume().catch(() => undefined);
    if (context.state === "suspended") return;
  }
  const now = context.currentTime;
  for (const [i, freq] of [880, 1320].entries()) {
    const osc = context.createOscillator();
    const gain = context.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + i * 0.12);
    gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.12 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.25);
    osc.connect(gain).connect(context.destination);
    osc.start(now + i * 0.12);
    osc.stop(now + i * 0.12 + 0.3);
  }
}
