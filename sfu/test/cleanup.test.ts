import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startSfu, type TestSfu } from "./harness";

let sfu: TestSfu;
beforeAll(async () => {
  sfu = await startSfu();
});
afterAll(async () => {
  await sfu?.stop();
});

describe("cleanup", () => {
  it("frees every peer, transport, producer and consumer after 20 join/leave cycles", async () => {
    const host = await sfu.bot("room-cycles", "Host");
    await host.publish({ mic: true });
    const cycle = async (i: number) => {
      const guest = await sfu.bot("room-cycles", `Guest ${i}`);
      await guest.publish({ mic: true, camera: true });
      await guest.waitFor(() => guest.totalPackets() > 3, 10_000, "host's audio");
      await host.waitFor(
        () =>
          [...host.received.values()].some((t) => t.info?.peerId === guest.peerId && t.packets > 3),
        10_000,
        "guest's media",
      );
      // Half leave politely, half vanish.
      if (i % 2 === 0) await guest.leave();
      else await guest.close();
    };
    await cycle(0);
    await eventually(async () => (await sfu.stats()).peers === 1, 5_000, "warm-up guest gone");
    const warm = await sfu.stats();
    for (let i = 1; i <= 20; i++) await cycle(i);
    await eventually(
      async () => {
        const s = await sfu.stats();
        return s.peers === 1 && s.transports === 2 && s.producers === 1 && s.consumers === 0;
      },
      10_000,
      "only the host left",
    );
    await host.leave();
    await eventually(
      async () => {
        const s = await sfu.stats();
        return (
          s.rooms === 0 &&
          s.peers === 0 &&
          s.transports === 0 &&
          s.producers === 0 &&
          s.consumers === 0
        );
      },
      10_000,
      "everything freed",
    );
    const after = await sfu.stats();
    // 20 cycles made 40 peer connections; a leak of each would show as tens of MB.
    expect(after.memory.rss - warm.memory.rss).toBeLessThan(64 * 1024 * 1024);
    expect(after.memory.heapUsed - warm.memory.heapUsed).toBeLessThan(24 * 1024 * 1024);
  }, 90_000);
});
