import { describe, expect, it } from "vitest";
import { createCpuPacer, threadClock, type PacerClock } from "@/lib/notify/push-worker";

/** A thread simulated on fake clocks: `work(ms)` spends CPU and wall time alike. */
function fakeThread() {
  let wall = 0;
  let cpu = 0;
  const clock: PacerClock = {
    wallMs: () => wall,
    cpuMs: () => cpu,
    sleep: async (ms) => {
      wall += ms;
    },
  };
  return {
    clock,
    work(ms: number) {
      wall += ms;
      cpu += ms;
    },
    get wall() {
      return wall;
    },
    get cpu() {
      return cpu;
    },
  };
}

describe("the push worker's CPU pacer", () => {
  it("lets a burst through at once, then holds the thread to its share of a core", async () => {
    const thread = fakeThread();
    const pacer = createCpuPacer(0.5, 20, thread.clock);
    // A small fan-out: 20 pushes of 0.5 ms, within the burst, never wait.
    for (let i = 0; i < 20; i++) {
      await pacer.ready();
      thread.work(0.5);
    }
    expect(thread.wall).toBe(10);
    // A large one: 2,000 pushes of 0.5 ms of CPU take twice that in wall time, less the burst.
    for (let i = 0; i < 2000; i++) {
      await pacer.ready();
      thread.work(0.5);
    }
    const cpu = thread.cpu;
    expect(cpu).toBe(1010);
    expect(thread.wall).toBeGreaterThanOrEqual(2 * cpu - 2 * 20 - 1);
    expect(thread.wall).toBeLessThanOrEqual(2 * cpu);
  });

  it("refills while idle, no more than the burst", async () => {
    const thread = fakeThread();
    const pacer = createCpuPacer(0.25, 20, thread.clock);
    await pacer.ready();
    thread.work(40);
    const before = thread.wall;
    await pacer.ready();
    // 40 ms spent against a 20 ms bucket: 20 ms overdrawn, 80 ms at a quarter of a core.
    expect(thread.wall - before).toBe(80);
    // An hour idle fills the bucket to 20 ms only: 30 ms of work then waits again.
    await thread.clock.sleep(3_600_000);
    await pacer.ready();
    thread.work(30);
    const idle = thread.wall;
    await pacer.ready();
    expect(thread.wall - idle).toBe(40);
  });

  it("a share of a whole core never waits", async () => {
    const thread = fakeThread();
    const pacer = createCpuPacer(1, 20, thread.clock);
    for (let i = 0; i < 100; i++) {
      await pacer.ready();
      thread.work(5);
    }
    expect(thread.wall).toBe(500);
  });

  it("on this thread's real CPU clock, busy work at a fifth of a core takes five times as long", async () => {
    const pacer = createCpuPacer(0.2, 5, threadClock);
    const spin = (ms: number) => {
      const end = threadClock.cpuMs() + ms;
      while (threadClock.cpuMs() < end);
    };
    const cpu0 = threadClock.cpuMs();
    const t0 = performance.now();
    for (let i = 0; i < 40; i++) {
      await pacer.ready();
      spin(2);
    }
    const cpu = threadClock.cpuMs() - cpu0;
    const wall = performance.now() - t0;
    // 80 ms of spinning (and the clock reads', the timers' own CPU) at 20 % of a core, less
    // the 5 ms burst and the last spin, which no wait follows: unpaced, the ratio is ~1.
    expect(cpu).toBeGreaterThanOrEqual(80);
    expect(cpu / wall).toBeGreaterThan(0.15);
    expect(cpu / wall).toBeLessThan(0.22);
  });
});
