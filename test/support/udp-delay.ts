import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { stop, type Lab } from "./netns";

/**
 * Delay, jitter and loss on one lab host's UDP (issue 8: this kernel has no netem).
 * The router's nftables hand every IPv4 datagram the host sends to a small relay in the
 * router (test/support/udp-delay.py, through TPROXY), which holds each one, and each
 * answer, for `delayMs` ± `jitterMs` (uniform, order kept) in each direction. Loss is
 * nftables `numgen random`, on the way in and on the way out. The lab's own `impair`
 * rules sit in its forward chain, which this traffic no longer crosses (it is the
 * router's own now), so they still apply to the host's TCP (signaling) only.
 *
 * For an IPv4-only host (`nat: true`): IPv6 is not relayed.
 */

const RELAY = fileURLToPath(new URL("./udp-delay.py", import.meta.url));
const MARK = "0x4c";
/** udp-delay.py marks what it sends to the host (the output hook does not know its interface yet). */
const TO_HOST_MARK = "0x4d";
const TABLE_ID = "76";

export interface LinkDelay {
  /** Changes the loss on the host's UDP (0–100 %). */
  setLoss(percent: number): Promise<void>;
  /** Datagrams dropped and passed on so far, each way: the loss actually applied. */
  counters(): Promise<{
    upDropped: number;
    upPassed: number;
    downDropped: number;
    downPassed: number;
  }>;
  /** Stops delaying; the host's UDP goes straight through the router again. */
  stop(): Promise<void>;
}

let relays = 0;

export async function delayUdp(
  lab: Lab,
  host: string,
  o: { delayMs: number; jitterMs: number; lossPercent?: number },
): Promise<LinkDelay> {
  const h = lab.host(host);
  if (!(o.delayMs >= 0 && o.jitterMs >= 0 && o.jitterMs <= o.delayMs))
    throw new Error(`delay must be >= jitter >= 0 ms, not ${o.delayMs} ± ${o.jitterMs}`);
  relays += 1;
  const port = 47_000 + relays;
  const table = `udp_delay_${h.name}`;
  const router = lab.router;
  const checkLoss = (percent: number) => {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100)
      throw new Error(`loss must be an integer 0–100 %, not ${percent}`);
  };
  checkLoss(o.lossPercent ?? 0);
  /** Drops `percent` of the UDP matched by `match`. */
  const loss = (match: string, percent: number) =>
    percent > 0 ? `${match} meta l4proto udp numgen random mod 100 < ${percent} counter drop` : "";

  // Datagrams TPROXY marks are delivered locally, to the relay's socket.
  await lab.run(router, "ip", ["rule", "add", "fwmark", MARK, "lookup", TABLE_ID]).catch(() => {});
  await lab.run(router, "ip", [
    "route",
    "replace",
    "local",
    "0.0.0.0/0",
    "dev",
    "lo",
    "table",
    TABLE_ID,
  ]);
  // Not lab.spawn (that is for hosts): deleting the router's namespace kills it all the same.
  const args = [RELAY, String(port), String(o.delayMs), String(o.jitterMs)];
  const relay = spawn("ip", ["netns", "exec", router, "/usr/bin/python3", "-u", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    relay.stdout!.once("data", () => resolve());
    relay.once("exit", (code) => reject(new Error(`the UDP delay relay exited (${code})`)));
  });
  const rules = (percent: number) => `
    table ip ${table} {
      chain in {
        type filter hook prerouting priority mangle; policy accept;
        ${loss(`iifname "${h.uplink}"`, percent)}
        iifname "${h.uplink}" meta l4proto udp counter tproxy to :${port} meta mark set ${MARK} accept
      }
      chain out {
        type filter hook postrouting priority 0; policy accept;
        ${loss(`oifname "${h.uplink}" meta mark ${TO_HOST_MARK}`, percent)}
        oifname "${h.uplink}" meta mark ${TO_HOST_MARK} meta l4proto udp counter
      }
    }`;
  await lab.nft(rules(o.lossPercent ?? 0));
  return {
    async setLoss(percent) {
      checkLoss(percent);
      await lab.nft(`flush table ip ${table}\n${rules(percent)}`);
    },
    async counters() {
      const listing = await lab.run(router, "nft", ["list", "table", "ip", table]);
      const count = (rule: RegExp) =>
        Number(
          listing
            .split("\n")
            .find((line) => rule.test(line))
            ?.match(/packets (\d+)/)?.[1] ?? 0,
        );
      return {
        upDropped: count(/iifname.*drop/),
        upPassed: count(/tproxy/),
        downDropped: count(/oifname.*drop/),
        downPassed: count(/oifname(?!.*drop)/),
      };
    },
    async stop() {
      await lab.nft(`delete table ip ${table}`);
      await stop(relay);
    },
  };
}
