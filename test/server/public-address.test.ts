import { createECDH, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PushSender } from "@/lib/notify/push";
import { isNonPublicLiteral, isPublicAddress, publicOnlyLookup } from "@/lib/server/public-address";

describe("public addresses", () => {
  it("tells the public internet from the server's own networks", () => {
    for (const address of ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
      expect(isPublicAddress(address), address).toBe(true);
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "::ffff:169.254.169.254",
      "not an address",
    ])
      expect(isPublicAddress(address), address).toBe(false);
    expect(isNonPublicLiteral("[::1]")).toBe(true);
    expect(isNonPublicLiteral("push.example.org")).toBe(false);
  });

  it("a lookup that refuses a name resolving to loopback", async () => {
    const err = await new Promise<Error | null>((resolve) =>
      publicOnlyLookup("localhost", {}, (e) => resolve(e)),
    );
    expect(err?.message).toMatch(/not a public address/);
  });
});

describe("push requests go only to public addresses", () => {
  let server: Server;
  let port: number;
  let received = 0;
  const vapid = webpush.generateVAPIDKeys();
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const target = (endpoint: string) => ({
    id: "device",
    endpoint,
    p256dh: ecdh.getPublicKey().toString("base64url"),
    auth: randomBytes(16).toString("base64url"),
  });
  const sender = (trustedOrigins: string[] = []) =>
    new PushSender({
      vapid: { subject: "mailto:test@example.org", ...vapid },
      onGone: async () => {},
      attempts: 1,
      trustedOrigins,
    });
  const push = { ttl: 60, urgency: "normal" } as const;

  beforeAll(async () => {
    server = createServer((req, res) => {
      received++;
      req.resume();
      req.on("end", () => res.writeHead(201).end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("refuses an endpoint at a loopback address or a name for one, sending nothing", async () => {
    const s = sender();
    expect(await s.send(target(`http://127.0.0.1:${port}/push/a`), "{}", push)).toBe("failed");
    expect(await s.send(target(`http://localhost:${port}/push/b`), "{}", push)).toBe("failed");
    expect(received).toBe(0);
  });

  it("delivers to a trusted origin (the tests' own push service)", async () => {
    const origin = `http://127.0.0.1:${port}`;
    expect(await sender([origin]).send(target(`${origin}/push/c`), "{}", push)).toBe("sent");
    expect(received).toBe(1);
  });
});
