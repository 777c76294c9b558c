import { createServer, type Server } from "node:http";
import { connect } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Feature } from "@/lib/server/feature";
import { logger } from "@/lib/server/log";
import { Bot } from "@/sfu/bot/bot";
import { mintCallToken } from "@/sfu/token";
import { LOOPBACK, eventually } from "@/sfu/test/harness";
import { TEST_SECRETS, testConfig } from "@/test/support/config";
import { createCallsFeature } from "./node";
import { SfuProcess } from "./sfu-process";

const secret = randomBytes(32).toString("base64url");

function portIsOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

describe("the calls feature of the web node", () => {
  let web: Server;
  let feature: Feature;
  let url: string;

  beforeAll(async () => {
    process.env.SFU_MEDIA_IP = "127.0.0.1";
    process.env.SFU_ICE_TCP = "false";
    process.env.LOG_LEVEL = "warn";
    feature = await createCallsFeature({
      env: testConfig(),
      secrets: { ...TEST_SECRETS, callTokenSecret: secret },
    });
    web = createServer((req, res) => {
      if (!feature.handleRequest?.(req, res)) res.writeHead(404).end();
    });
    web.on("upgrade", (req, socket, head) => {
      if (!feature.handleUpgrade?.(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
    const address = web.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    await eventually(async () => (await feature.ready?.()) === true, 20_000, "SFU child ready");
  });

  afterAll(async () => {
    await feature?.close?.();
    web?.closeAllConnections();
    await new Promise((resolve) => web?.close(resolve));
  });

  it("carries a call through the proxy on the app's origin (WebSocket and long-polling)", async () => {
    const join = async (name: string, polling: boolean) =>
      Bot.join({
        url,
        path: "/sfu/local/socket.io/",
        polling,
        token: await mintCallToken(secret, {
          roomId: "room-p",
          userId: name,
          displayName: name,
          mayPublish: true,
        }),
        roomId: "room-p",
        network: LOOPBACK,
      });
    const alice = await join("alice", false);
    const bob = await join("bob", true);
    await alice.publish({ mic: true, camera: true });
    await bob.waitFor(
      () => bob.received.size === 2 && [...bob.received.values()].every((t) => t.packets > 10),
      10_000,
      "media",
    );
    expect(bob.errors).toEqual([]);
    await alice.leave();
    await bob.leave();
  });

  it("answers 503 for an unknown node and leaves other paths alone", async () => {
    const res = await fetch(`${url}/sfu/elsewhere/socket.io/?EIO=4&transport=polling`);
    expect(res.status).toBe(503);
    expect((await fetch(`${url}/api/health`)).status).toBe(404);
  });
});

describe("the SFU child process", () => {
  it("restarts after it dies and stops for good on close", async () => {
    const child = new SfuProcess({
      callTokenSecret: secret,
      log: logger("test"),
      env: { SFU_MEDIA_IP: "127.0.0.1", LOG_LEVEL: "warn" },
    });
    child.start();
    await child.whenReady();
    const firstPid = child.pid!;
    const firstPort = child.port!;
    expect(await portIsOpen(firstPort)).toBe(true);
    process.kill(firstPid, "SIGKILL");
    await eventually(() => child.ready() && child.pid !== firstPid, 20_000, "restart");
    expect(await portIsOpen(child.port!)).toBe(true);
    const secondPid = child.pid!;
    await child.close();
    expect(child.ready()).toBe(false);
    expect(() => process.kill(secondPid, 0)).toThrow();
  }, 40_000);
});
