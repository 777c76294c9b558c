import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Lab, labAvailable } from "./netns";
import { delayUdp } from "./udp-delay";

/**
 * The UDP delay relay (test/support/udp-delay.ts) the real-network call test puts on a
 * participant's link: datagrams both ways take delay ± jitter, in order; loss drops its
 * share each way; stopping it restores the plain path; bad settings are refused.
 */

const echo = `const d = require("node:dgram").createSocket("udp4");
d.on("message", (m, r) => d.send(m, r.port, r.address));
d.bind(9000, () => console.log("ready"));`;

/** Sends 200 datagrams 5 ms apart to argv[1]:9000; prints the round trips and the order. */
const ping = `const d = require("node:dgram").createSocket("udp4");
const rtts = [], order = []; let i = 0;
d.on("message", (m) => { const [n, t] = String(m).split(":"); order.push(Number(n)); rtts.push(Date.now() - Number(t)); });
const tick = setInterval(() => {
  d.send(i + ":" + Date.now(), 9000, process.argv[1]);
  if (++i === 200) { clearInterval(tick); setTimeout(() => { console.log(JSON.stringify({ rtts, order })); process.exit(0); }, 400); }
}, 5);`;

describe.runIf(labAvailable())("UDP delay, jitter and loss on a lab host", () => {
  let lab: Lab;
  const roundTrips = async () =>
    JSON.parse(
      await lab.run(lab.host("home").netns, process.execPath, [
        "-e",
        ping,
        lab.host("server").ipv4[0]!,
      ]),
    ) as {
      rtts: number[];
      order: number[];
    };

  beforeAll(async () => {
    lab = await Lab.create([{ name: "server" }, { name: "home", nat: true }]);
    const server = lab.spawn("server", process.execPath, ["-e", echo], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise((resolve) => server.stdout!.once("data", resolve));
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  test("delays both ways by delay ± jitter, keeps order, drops the loss each way, and stops", async () => {
    const link = await delayUdp(lab, "home", { delayMs: 60, jitterMs: 20 });
    const delayed = await roundTrips();
    expect(delayed.rtts).toHaveLength(200);
    expect(Math.min(...delayed.rtts)).toBeGreaterThanOrEqual(78);
    expect(Math.max(...delayed.rtts)).toBeLessThan(220);
    expect(delayed.order).toEqual([...delayed.order].sort((a, b) => a - b));

    await link.setLoss(30);
    const lossy = await roundTrips();
    const counted = await link.counters();
    // 30 % each way: about half the round trips survive.
    expect(lossy.rtts.length).toBeGreaterThan(60);
    expect(lossy.rtts.length).toBeLessThan(140);
    expect(counted.upDropped).toBeGreaterThan(30);
    expect(counted.downDropped).toBeGreaterThan(15);
    await expect(link.setLoss(101)).rejects.toThrow(/0–100/);

    await link.stop();
    const plain = await roundTrips();
    expect(plain.rtts).toHaveLength(200);
    expect(Math.max(...plain.rtts)).toBeLessThan(60);
  });

  test("refuses settings that make no sense, before changing anything", async () => {
    await expect(delayUdp(lab, "home", { delayMs: 10, jitterMs: 20 })).rejects.toThrow(/jitter/);
    await expect(
      delayUdp(lab, "home", { delayMs: 60, jitterMs: 20, lossPercent: 2.5 }),
    ).rejects.toThrow(/0–100/);
    await expect(delayUdp(lab, "nobody", { delayMs: 60, jitterMs: 20 })).rejects.toThrow(/no host/);
    expect(await lab.run(lab.router, "nft", ["list", "tables"])).not.toContain("udp_delay");
  });
});
