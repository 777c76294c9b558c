import { describe, expect, it } from "vitest";
import { runR2 } from "@/bench/chaos/r2-postgres-restarted";

/**
 * R2 of the fault matrix (issue 9): Postgres — a throwaway cluster the row starts with
 * initdb on its own port, never the machine's — restarted twice while 10 clients send 400
 * messages through a web node. Needs PostgreSQL installed; fails (not skips) without it.
 */
describe("Postgres restarted under load", () => {
  it("R2: the node survives, sends fail with an answer while it is down, then succeed; nothing acked is lost", async () => {
    const result = await runR2();
    expect(result.failures).toEqual([]);
    expect(result.figures).toMatchObject({ faults: 2, crashes: 0, ackedButLost: 0, duplicates: 0 });
  }, 180_000);
});
