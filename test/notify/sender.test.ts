import { createECDH, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PushSender } from "@/lib/notify/push";

/**
 * The push sender's batches (devices handed to the worker in batches of 100, outcomes
 * mapped back) and its keep-alive agent, against a bare HTTP server that answers by path.
 */
describe("the push sender", () => {
  let server: Server;
  let origin: string;
  let connections = 0;
  const requests: { path: string; authorization: string }[] = [];
  const vapid = webpush.generateVAPIDKeys();
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const keys = {
    p256dh: ecdh.getPublicKey().toString("base64url"),
    auth: randomBytes(16).toString("base64url"),
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ path: req.url ?? "", authorization: req.headers.authorization ?? "" });
      req.resume();
      // Every seventh device is gone; the rest are taken.
      req.on("end", () => res.writeHead(Number(req.url!.split("/").pop()) % 7 ? 201 : 410).end());
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A sender to the test server; `gone` collects the subscriptions it deletes. */
  function newSender(options: Partial<ConstructorParameters<typeof PushSender>[0]>) {
    const gone: string[] = [];
    const sender = new PushSender({
      vapid: { subject: "mailto:test@example.org", ...vapid },
      trustedOrigins: [origin],
      onGone: async (id) => {
        gone.push(id);
      },
      ...options,
    });
    return { sender, gone };
  }

  it("pushes to 250 devices in batches, each outcome in its place, over reused connections", async () => {
    const { sender, gone } = newSender({ concurrency: 8, attempts: 1 });
    try {
      const pushes = Array.from({ length: 250 }, (_, i) => ({
        target: { id: `device-${i}`, endpoint: `${origin}/push/${i}`, ...keys },
        payload: i % 2 ? "{}" : '{"private":true}',
      }));
      const outcomes = await sender.sendAll(pushes, { ttl: 60, urgency: "normal" });
      expect(outcomes).toEqual(pushes.map((_, i) => (i % 7 ? "sent" : "gone")));
      expect(gone.sort()).toEqual(
        pushes
          .filter((_, i) => i % 7 === 0)
          .map((p) => p.target.id)
          .sort(),
      );
      expect(requests).toHaveLength(250);
      // One VAPID JWT for the push service, signed once and reused.
      expect(new Set(requests.map((r) => r.authorization)).size).toBe(1);
      // Keep-alive: at most `concurrency` connections for 250 requests.
      expect(connections).toBeLessThanOrEqual(8);
    } finally {
      await sender.close();
    }
  });

  it("deletes a subscription whose keys cannot encrypt at once, without a request or a retry", async () => {
    const { sender, gone } = newSender({ attempts: 4, baseDelayMs: 10_000 });
    try {
      const point = ecdh.getPublicKey();
      point[40]! ^= 1; // 65 bytes, no longer on P-256
      const before = requests.length;
      const outcomes = await sender.sendAll(
        [
          {
            target: {
              id: "off-curve",
              endpoint: `${origin}/push/1`,
              ...keys,
              p256dh: point.toString("base64url"),
            },
            payload: "{}",
          },
          { target: { id: "fine", endpoint: `${origin}/push/2`, ...keys }, payload: "{}" },
        ],
        { ttl: 60, urgency: "normal" },
      );
      expect(outcomes).toEqual(["gone", "sent"]);
      expect(gone).toEqual(["off-curve"]);
      expect(requests.slice(before).map((r) => r.path)).toEqual(["/push/2"]);
    } finally {
      await sender.close();
    }
  });
});
