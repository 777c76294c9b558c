import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { POST as issueCallTicket } from "@/app/api/rooms/[slug]/call/route";
import type { SessionUser } from "@/lib/auth/schemas";
import { getSessionUser } from "@/lib/auth/session";
import type * as placementModule from "@/lib/call/placement";
import type { SfuPlacement } from "@/lib/call/placement";
import { SfuProcess } from "@/lib/call/sfu-process";
import type { Database } from "@/lib/db/client";
import type * as errorsModule from "@/lib/errors";
import { AppError } from "@/lib/errors";
import { logger } from "@/lib/server/log";
import type * as rateLimitModule from "@/lib/server/rate-limit";
import { route } from "@/lib/server/route";
import { provide, setRuntime } from "@/lib/server/runtime";
import { doCreateRoom } from "@/lib/rooms/service";
import { TEST_SECRETS, testConfig } from "@/test/support/config";
import { openTestDatabase } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";

vi.mock("@/lib/auth/session", () => ({ getSessionUser: vi.fn() }));

/**
 * A second instance of a module, with its own classes: what a route handler sees of an
 * object server.ts built, since Next bundles route code in a module graph of its own.
 */
async function serverGraphCopy<T>(path: string): Promise<T> {
  return (await import(/* @vite-ignore */ `${path}?server-graph`)) as T;
}

const post = (url: string) =>
  new Request(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
const noParams = { params: Promise.resolve({}) };

describe("route() answers failures from server.ts's module graph by their code", () => {
  let database: Database;
  let user: SessionUser;

  beforeAll(async () => {
    database = await openTestDatabase("pglite");
    user = await createUser(database.db);
    vi.mocked(getSessionUser).mockResolvedValue(user);
    setRuntime({
      config: testConfig(),
      secrets: TEST_SECRETS,
      database,
      io: null as never,
      readiness: new Map(),
      services: {},
    });
  });
  afterAll(async () => {
    await database?.close();
  });

  it("answers a call ticket with 503 and a clear message while there is no SFU (the child restarting)", async () => {
    const { LocalPlacement } =
      await serverGraphCopy<typeof placementModule>("@/lib/call/placement");
    // Not started: no port yet, as between a crash and the restart.
    const placement: SfuPlacement = new LocalPlacement(
      new SfuProcess({ callTokenSecret: "x".repeat(32), log: logger("test") }),
    );
    provide("calls", {
      placeRoom: (roomId) => placement.nodeFor(roomId),
      mint: async () => "token",
      iceServers: () => [],
      iceTransportPolicy: "all",
    });
    const { room } = await doCreateRoom(database.db, user, { kind: "open" });
    const res = await issueCallTicket(post(`http://localhost/api/rooms/${room.slug}/call`), {
      params: Promise.resolve({ slug: room.slug }),
    });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      error: {
        code: "unavailable",
        message: "Calls are not available right now; try again in a few seconds",
      },
    });
  });

  it("gives an AppError of the other graph its own status", async () => {
    const errors = await serverGraphCopy<typeof errorsModule>("@/lib/errors");
    expect(errors.AppError).not.toBe(AppError); // the premise: two copies of the class
    const handler = route({ public: true }, async () => {
      throw errors.notFound("There is no such room");
    });
    const res = await handler(post("http://localhost/api/x"), noParams);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: "not_found", message: "There is no such room" },
    });
  });

  it("answers a rate-limit refusal with 429 and Retry-After", async () => {
    const limits = await serverGraphCopy<typeof rateLimitModule>("@/lib/server/rate-limit");
    const limit = limits.createRateLimit({ points: 1, durationS: 60, prefix: "route-test" });
    const handler = route({ public: true }, async () => {
      await limit.consume("someone");
      return { ok: true };
    });
    expect((await handler(post("http://localhost/api/x"), noParams)).status).toBe(200);
    const refused = await handler(post("http://localhost/api/x"), noParams);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
  });

  it("still answers a bug as a logged 500 that leaks nothing", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const handler = route({ public: true }, async () => {
      throw Object.assign(new Error("secret detail"), { code: "23505" });
    });
    const res = await handler(post("http://localhost/api/x"), noParams);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: { code: "internal", message: "Something went wrong on our side" },
    });
    expect(spy).toHaveBeenCalledOnce();
    spy.mockRestore();
  });
});
