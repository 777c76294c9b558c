import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestDbKind } from "@/test/support/db";
import { createBenchDatabase } from "../chat/servers";
import { MAX_STALL_MS, type RowResult, rowRecorder } from "./row";
import { type LoadFigures, runSendLoad } from "./send-load";

export interface R1Options {
  clients: number;
  rooms: number;
  sends: number;
  kills: number;
}

export const R1_CI: R1Options = { clients: 10, rooms: 5, sends: 400, kills: 2 };
/** The figures: 5,000 sends from 50 clients, three kills. */
export const R1_LONG: R1Options = { clients: 50, rooms: 10, sends: 5000, kills: 3 };

/**
 * R1: `kill -9` of the web node (a child process) while clients send, then a restart on the
 * same database. Every message the server acked must be stored, none twice, every room's
 * seq gap-free, and every client's outbox must drain once the node is back.
 */
export async function runR1(kind: TestDbKind, options: R1Options = R1_CI): Promise<RowResult> {
  const r = rowRecorder(
    "R1",
    `kill -9 of the web node ${options.kills} times during ${options.sends} sends from ${options.clients} clients`,
    kind,
  );
  const target = await databaseFor(kind);
  try {
    const figures = await runSendLoad({
      db: target.db,
      clients: options.clients,
      rooms: options.rooms,
      sends: options.sends,
      faults: options.kills,
      fault: (node) => node.restart(),
      timeoutMs: 120_000 + options.sends * 50,
    });
    judgeLoad(r, figures, options.kills);
  } finally {
    await target.drop();
  }
  return r.done();
}

/** The checks R1 and R2 share: nothing acked lost, nothing twice, no gap, outboxes empty. */
export function judgeLoad(r: ReturnType<typeof rowRecorder>, figures: LoadFigures, faults: number) {
  Object.assign(r.figures, figures);
  r.check(figures.faults === faults, `only ${figures.faults} of ${faults} faults struck`);
  r.check(figures.ackedButLost === 0, `${figures.ackedButLost} acked messages were lost`);
  r.check(figures.duplicates === 0, `${figures.duplicates} messages were stored twice`);
  r.check(
    figures.roomsWithSeqGaps === 0,
    `${figures.roomsWithSeqGaps} rooms have a gap in their seq`,
  );
  r.check(figures.crashes === 0, `the web node crashed ${figures.crashes} times`);
  r.check(figures.outboxesNotDrained === 0, `${figures.outboxesNotDrained} outboxes did not drain`);
  r.check(
    figures.acked === figures.sends,
    `${figures.sends - figures.acked} sends were never acked`,
  );
  r.check(
    figures.nodeWorstStallMs <= MAX_STALL_MS,
    `the web node's event loop stalled ${figures.nodeWorstStallMs} ms (over ${MAX_STALL_MS} ms)`,
  );
}

/** A fresh database for the web node: a PGlite directory, or a new database on TEST_DATABASE_URL. */
async function databaseFor(kind: TestDbKind): Promise<{ db: string; drop: () => Promise<void> }> {
  if (kind === "pglite") {
    const dir = await mkdtemp(path.join(tmpdir(), "parley-chaos-"));
    return { db: `pglite:${dir}`, drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error("TEST_DATABASE_URL is not set");
  const created = await createBenchDatabase(adminUrl);
  return { db: created.url, drop: () => created.drop() };
}
