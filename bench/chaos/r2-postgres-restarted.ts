import { createBenchDatabase } from "../chat/servers";
import { startPgCluster } from "@/test/support/pg-cluster";
import { judgeLoad } from "./r1-web-node-killed";
import { type RowResult, rowRecorder, sleep } from "./row";
import { runSendLoad } from "./send-load";

export interface R2Options {
  clients: number;
  rooms: number;
  sends: number;
  restarts: number;
  /** How long Postgres stays down each time. */
  downMs: number;
}

export const R2_CI: R2Options = { clients: 10, rooms: 5, sends: 400, restarts: 2, downMs: 2000 };
export const R2_LONG: R2Options = {
  clients: 50,
  rooms: 10,
  sends: 5000,
  restarts: 2,
  downMs: 5000,
};

/**
 * R2 (Postgres only): the database restarted twice under the R1 load, on a throwaway
 * cluster this row starts with `initdb` on its own port. The web node must not crash;
 * sends fail with a clear error while the database is down (counted), then succeed; and
 * nothing acked is lost, nothing stored twice, no seq gap.
 */
export async function runR2(options: R2Options = R2_CI): Promise<RowResult> {
  const r = rowRecorder(
    "R2",
    `Postgres restarted ${options.restarts} times (down ${options.downMs / 1000} s) during ${options.sends} sends from ${options.clients} clients`,
    "postgres",
  );
  const cluster = await startPgCluster();
  try {
    const database = await createBenchDatabase(cluster.url);
    const figures = await runSendLoad({
      db: database.url,
      clients: options.clients,
      rooms: options.rooms,
      sends: options.sends,
      faults: options.restarts,
      fault: async () => {
        await cluster.stop("fast");
        await sleep(options.downMs);
        await cluster.start();
      },
      timeoutMs: 120_000 + options.sends * 50,
    });
    judgeLoad(r, figures, options.restarts);
    // Sends while it was down must have failed with an error answer, not hung.
    r.check(figures.failedAttempts > 0, "no send failed while Postgres was down: was it down?");
    r.check(
      figures.unansweredAttempts === 0,
      `${figures.unansweredAttempts} sends got no answer while Postgres was down`,
    );
  } finally {
    await cluster.destroy();
  }
  return r.done();
}
