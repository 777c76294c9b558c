/**
 * R7's /api/health poller, on its own thread (./r7-bad-input.ts starts it). The corpus on
 * the main thread builds gzip bombs and large bodies synchronously; a poll timed on that
 * thread would count the corpus's own work as the server's delay. Here each poll's time is
 * the request's alone.
 *
 * Loaded by `new Worker(url)` outside any bundler: node: modules only, type syntax Node can
 * strip.
 */
import { parentPort, workerData } from "node:worker_threads";

export interface HealthFigures {
  /** Each poll's time, ms. */
  ms: number[];
  failures: number;
}

const { url, intervalMs } = workerData as { url: string; intervalMs: number };
const figures: HealthFigures = { ms: [], failures: 0 };
let running = true;
parentPort!.once("message", () => {
  running = false;
});

while (running) {
  const start = performance.now();
  const ok = await fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    async (res) => (await res.text(), res.status === 200),
    () => false,
  );
  figures.ms.push(performance.now() - start);
  if (!ok) figures.failures++;
  await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
parentPort!.postMessage(figures);
