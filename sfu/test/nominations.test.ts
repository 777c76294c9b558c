import type { RTCPeerConnection } from "werift";
import { describe, expect, it } from "vitest";
import { followNominations } from "../werift-patches";

/**
 * The lite agent follows the browser's nominations (sfu/werift-patches.ts,
 * `followNominations`), checked on a stand-in for werift's agent: Chromium nominates the
 * connection it selected, and moves — to a better pair once it works, or to a worse one
 * when the better stops working (UDP blocked: TURN over TCP), as e2e/call-network.spec.ts
 * does with a real coturn.
 */

interface Pair {
  protocol: { transport?: { closed?: boolean }; getOpenSocket?(addr: [string, number]): unknown };
  remoteAddr: [string, number];
  priority: number;
  nominated: boolean;
  state: number;
}

function liteAgent(pairs: Pair[]) {
  const agent = {
    iceLite: true,
    nominated: undefined as Pair | undefined,
    checkList: pairs,
    closed: [] as [string, number][],
    // werift's own: the first nomination wins, for good.
    checkIncoming(
      message: { attributesKeys: string[] },
      addr: [string, number],
      protocol: unknown,
    ) {
      if (!message.attributesKeys.includes("USE-CANDIDATE") || agent.nominated) return;
      agent.nominated = pairs.find((p) => p.protocol === protocol && p.remoteAddr[1] === addr[1]);
    },
    handleConnectionClosed(_protocol: unknown, remoteAddr: [string, number]) {
      agent.closed.push(remoteAddr);
    },
  };
  const pc = {
    dtlsTransports: [{ iceTransport: { connection: agent } }],
  } as unknown as RTCPeerConnection;
  followNominations(pc);
  return agent;
}

const udp = (port: number, priority: number, closed = false): Pair => ({
  protocol: { transport: { closed } },
  remoteAddr: ["10.77.2.2", port],
  priority,
  nominated: false,
  state: 3,
});
const nominate = (agent: ReturnType<typeof liteAgent>, pair: Pair) =>
  agent.checkIncoming(
    { attributesKeys: ["USERNAME", "USE-CANDIDATE"] },
    pair.remoteAddr,
    pair.protocol,
  );

describe("the lite agent follows the browser's nominations", () => {
  it("moves to a better pair, and to a worse one when the browser moves there", () => {
    const tcp = udp(50_001, 100);
    const best = udp(50_002, 300);
    const relayOverTcp = udp(50_003, 50);
    const agent = liteAgent([tcp, best, relayOverTcp]);
    nominate(agent, tcp);
    expect(agent.nominated).toBe(tcp);
    nominate(agent, best);
    expect(agent.nominated).toBe(best);
    // The browser's UDP to its TURN server is blocked: it moves to its relay over TCP,
    // whose priority is lower. Staying on `best` would send into a dead path.
    nominate(agent, relayOverTcp);
    expect(agent.nominated).toBe(relayOverTcp);
  });

  it("ignores checks without USE-CANDIDATE and nominations of pairs whose socket is closed", () => {
    const first = udp(50_001, 100);
    const gone = udp(50_002, 300, true);
    const agent = liteAgent([first, gone]);
    nominate(agent, first);
    agent.checkIncoming({ attributesKeys: ["USERNAME"] }, gone.remoteAddr, gone.protocol);
    expect(agent.nominated).toBe(first);
    nominate(agent, gone);
    expect(agent.nominated).toBe(first);
  });

  it("falls back to the best other nominated pair when the selected connection closes", () => {
    const low = udp(50_001, 100);
    const high = udp(50_002, 200);
    const selected = udp(50_003, 150);
    const agent = liteAgent([low, high, selected]);
    for (const pair of [low, high, selected]) nominate(agent, pair);
    expect(agent.nominated).toBe(selected);
    agent.handleConnectionClosed(selected.protocol, selected.remoteAddr);
    expect(agent.nominated).toBe(high);
    expect(agent.closed).toEqual([]);
  });
});
