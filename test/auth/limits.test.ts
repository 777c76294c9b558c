import { randomInt } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as createAccount } from "@/app/api/accounts/route";
import { type AuthLimits, createAuthLimits, limitSignIn } from "@/lib/auth/limits";
import type { Database } from "@/lib/db/client";
import { parseEnv } from "@/lib/env";
import {
  CLIENT_ADDRESS_HEADER,
  clientAddressKey,
  resolveClientAddress,
  stampClientAddress,
  trustedProxyList,
} from "@/lib/server/client-address";
import { setRuntime } from "@/lib/server/runtime";
import { TEST_SECRETS } from "@/test/support/config";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { testRedisUrl } from "@/test/support/redis";

/** A fresh documentation-range address per call, so runs never share Redis keys. */
const someAddress = () => `198.51.${randomInt(256)}.${randomInt(256)}`;

describe("the client's address", () => {
  const trusted = trustedProxyList(["10.0.0.0/8", "::1"]);

  it("is the socket's peer unless the peer is a trusted proxy", () => {
    const headers = { "x-forwarded-for": "203.0.113.9" };
    expect(resolveClientAddress("192.0.2.7", headers, trusted)).toBe("192.0.2.7");
    expect(resolveClientAddress("::ffff:192.0.2.7", headers, trusted)).toBe("192.0.2.7");
    expect(resolveClientAddress("10.1.2.3", headers, trusted)).toBe("203.0.113.9");
    expect(resolveClientAddress("::1", headers, trusted)).toBe("203.0.113.9");
  });

  it("walks back through trusted proxies only, so a client cannot prepend a made-up address", () => {
    const headers = { "x-forwarded-for": "1.1.1.1, 203.0.113.9, 10.0.0.5" };
    expect(resolveClientAddress("10.1.2.3", headers, trusted)).toBe("203.0.113.9");
    expect(
      resolveClientAddress("10.1.2.3", { "x-forwarded-for": "10.0.0.9, 10.0.0.5" }, trusted),
    ).toBe("10.0.0.9");
    expect(resolveClientAddress("10.1.2.3", { "x-forwarded-for": "unknown" }, trusted)).toBe(
      "10.1.2.3",
    );
  });

  it("reads Forwarded when there is no X-Forwarded-For", () => {
    const headers = { forwarded: 'for=198.51.100.17;proto=https, for="[2001:db8:cafe::17]:4711"' };
    expect(resolveClientAddress("10.1.2.3", headers, trusted)).toBe("2001:db8:cafe::17");
    expect(resolveClientAddress("10.1.2.3", { forwarded: "for=192.0.2.60:8080" }, trusted)).toBe(
      "192.0.2.60",
    );
  });

  it("replaces a stamp the client sent itself, and keys IPv6 clients by /64", () => {
    const req = {
      socket: { remoteAddress: "2001:db8:1:2:3:4:5:6" },
      headers: { [CLIENT_ADDRESS_HEADER]: "192.0.2.1", "x-forwarded-for": "192.0.2.2" },
    } as unknown as IncomingMessage;
    stampClientAddress(req, trusted);
    expect(req.headers[CLIENT_ADDRESS_HEADER]).toBe("2001:db8:1:2:3:4:5:6");
    const request = new Request("http://x/", {
      headers: { [CLIENT_ADDRESS_HEADER]: "2001:db8:1:2::9" },
    });
    expect(clientAddressKey(request)).toBe("2001:0db8:0001:0002::/64");
  });

  it("refuses a TRUSTED_PROXIES entry that is not an address or CIDR", () => {
    expect(
      parseEnv({ TRUSTED_PROXIES: "10.0.0.0/8, ::1, 192.168.1.1" }).TRUSTED_PROXIES,
    ).toHaveLength(3);
    expect(() => parseEnv({ TRUSTED_PROXIES: "10.0.0.0/33" })).toThrow(
      /10.0.0.0\/33 is not an IP address or CIDR/,
    );
    expect(() => parseEnv({ TRUSTED_PROXIES: "proxy.example" })).toThrow(/TRUSTED_PROXIES/);
  });
});

const redisUrl = testRedisUrl();
const stores = redisUrl ? (["memory", "redis"] as const) : (["memory"] as const);

describe.each(testDbKinds().flatMap((kind) => stores.map((store) => [kind, store] as const)))(
  "sign-in, sign-up and guest limits on %s, counted in %s",
  (kind, store) => {
    let database: Database;
    let redis: Redis | undefined;
    let limits: AuthLimits;

    beforeAll(async () => {
      database = await openTestDatabase(kind);
      redis = store === "redis" ? new Redis(redisUrl!) : undefined;
      const env = parseEnv({
        SIGNIN_RATE_POINTS: "3",
        SIGNIN_ACCOUNT_RATE_POINTS: "2",
        SIGNUP_RATE_POINTS: "2",
        GUEST_RATE_POINTS: "2",
      });
      limits = createAuthLimits(env, redis);
      setRuntime({
        config: env,
        secrets: TEST_SECRETS,
        database,
        io: null as never,
        readiness: new Map(),
        services: { authLimits: limits },
      });
    });
    afterAll(async () => {
      await redis?.quit();
      await database?.close();
    });

    const signUp = (address: string, email: string) =>
      createAccount(
        new Request("http://localhost/api/accounts", {
          method: "POST",
          headers: { "content-type": "application/json", [CLIENT_ADDRESS_HEADER]: address },
          body: JSON.stringify({ email, password: "correct horse battery", displayName: "Ada" }),
        }),
        { params: Promise.resolve({}) },
      );

    const callback = (provider: string, address: string, form: Record<string, string>) =>
      limitSignIn(
        new Request(`http://localhost/api/auth/callback/${provider}`, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            [CLIENT_ADDRESS_HEADER]: address,
          },
          body: new URLSearchParams(form),
        }),
        limits,
      );

    it("creates accounts until the address's budget is spent, then answers 429 with Retry-After", async () => {
      const address = someAddress();
      const email = () => `${crypto.randomUUID()}@example.test`;
      expect((await signUp(address, email())).status).toBe(200);
      // An email that exists is said so (docs/architecture.md), and it costs a point too.
      const taken = `${crypto.randomUUID()}@example.test`;
      expect((await signUp(someAddress(), taken)).status).toBe(200);
      const conflict = await signUp(address, taken);
      expect(conflict.status).toBe(409);
      const refused = await signUp(address, email());
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(3000);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("rate_limited");
      expect(body.error.message).toMatch(
        /^Too many accounts created from your network; try again in \d+ minutes$/,
      );
      // Nothing was created by the refused request; another address is unaffected.
      expect((await signUp(someAddress(), email())).status).toBe(200);
    });

    it("limits password sign-ins per address, in NextAuth's answer shape", async () => {
      const address = someAddress();
      for (let i = 0; i < 3; i++) {
        expect(
          await callback("password", address, {
            email: `${crypto.randomUUID()}@example.test`,
            password: "x",
          }),
        ).toBeNull();
      }
      const refused = await callback("password", address, {
        email: "someone@example.test",
        password: "x",
      });
      expect(refused?.status).toBe(429);
      expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThan(0);
      const body = (await refused!.json()) as { url: string; error: { message: string } };
      expect(new URL(body.url).searchParams.get("error")).toMatch(
        /^Too many sign-in attempts; try again in \d+ seconds$/,
      );
    });

    it("limits password sign-ins per account from any address, whatever the email's case", async () => {
      const email = `${crypto.randomUUID()}@example.test`;
      expect(await callback("password", someAddress(), { email, password: "x" })).toBeNull();
      expect(
        await callback("password", someAddress(), {
          email: ` ${email.toUpperCase()}`,
          password: "x",
        }),
      ).toBeNull();
      const refused = await callback("password", someAddress(), { email, password: "x" });
      expect(refused?.status).toBe(429);
      // Another account from a fresh address is fine.
      expect(
        await callback("password", someAddress(), {
          email: `${crypto.randomUUID()}@example.test`,
          password: "x",
        }),
      ).toBeNull();
    });

    it("limits guests per address, and refuses an oversized sign-in body unread", async () => {
      const address = someAddress();
      expect(await callback("guest", address, { displayName: "Gus" })).toBeNull();
      expect(await callback("guest", address, { displayName: "Gus" })).toBeNull();
      expect((await callback("guest", address, { displayName: "Gus" }))?.status).toBe(429);
      const huge = await callback("password", someAddress(), {
        email: "a@example.test",
        password: "x".repeat(20_000),
      });
      expect(huge?.status).toBe(413);
    });
  },
);

/** Two web nodes, each with its own Redis connection and limiters, as when scaled out. */
describe.runIf(redisUrl)("auth limits across web nodes", () => {
  it("counts a client once, whichever node it reaches", async () => {
    const clients = [new Redis(redisUrl!), new Redis(redisUrl!)];
    try {
      const env = parseEnv({ GUEST_RATE_POINTS: "2" });
      const [nodeA, nodeB] = clients.map((redis) => createAuthLimits(env, redis));
      const address = someAddress();
      await nodeA!.guest.consume(address);
      await nodeB!.guest.consume(address);
      await expect(nodeA!.guest.consume(address)).rejects.toMatchObject({
        code: "rate_limited",
        message: expect.stringMatching(
          /^Too many guests from your network; try again in \d+ minutes$/,
        ),
      });
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });
});
