import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { TEST_SECRETS, testConfig } from "@/test/support/config";
import { MAX_BODY_BYTES, route } from "./route";
import { setRuntime } from "./runtime";

/** A public route that records what reached it: a refused request must change nothing. */
function recordingRoute() {
  const seen: unknown[] = [];
  const handler = route(
    { public: true, input: z.object({ name: z.string() }) },
    async ({ input }) => {
      seen.push(input);
      return { ok: true };
    },
  );
  /** `duplex` is what Node asks of a streamed request body. */
  const call = (init: RequestInit & { duplex?: "half" }) =>
    handler(new Request("http://parley.test/api/things", { method: "POST", ...init }), {
      params: Promise.resolve({}),
    });
  return { seen, call };
}

const JSON_TYPE = { "content-type": "application/json" };
const body = JSON.stringify({ name: "x" });

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, ...error };
}

beforeAll(() => {
  // The configuration server.ts would have parsed; these routes touch nothing else.
  setRuntime({
    config: testConfig({ ALLOWED_ORIGINS: "https://partner.example" }),
    secrets: TEST_SECRETS,
    database: null as never,
    io: null as never,
    readiness: new Map(),
    services: {},
  });
});

describe("route(): cross-site writes", () => {
  it("accepts same-origin browsers, allowed origins, and clients that send no Origin", async () => {
    const { seen, call } = recordingRoute();
    const sameOrigin = {
      ...JSON_TYPE,
      host: "parley.test",
      origin: "http://parley.test",
      "sec-fetch-site": "same-origin",
    };
    expect((await call({ headers: sameOrigin, body })).status).toBe(200);
    expect(
      (await call({ headers: { ...JSON_TYPE, origin: "https://partner.example" }, body })).status,
    ).toBe(200);
    expect((await call({ headers: JSON_TYPE, body })).status).toBe(200);
    expect(seen).toHaveLength(3);
  });

  it("refuses a foreign Origin, an opaque one, and a cross-site fetch with 403, changing nothing", async () => {
    const { seen, call } = recordingRoute();
    for (const headers of [
      {
        ...JSON_TYPE,
        host: "parley.test",
        origin: "https://evil.example",
        "sec-fetch-site": "cross-site",
      },
      { ...JSON_TYPE, host: "parley.test", origin: "http://parley.test.evil.example" },
      { ...JSON_TYPE, host: "parley.test", origin: "null" },
      { ...JSON_TYPE, host: "parley.test", "sec-fetch-site": "cross-site" },
      { ...JSON_TYPE, host: "parley.test", "sec-fetch-site": "same-site" },
    ]) {
      expect(await errorOf(await call({ headers, body }))).toEqual({
        status: 403,
        code: "forbidden",
        message: "Requests from other sites are not accepted",
      });
    }
    expect(seen).toEqual([]);
  });

  it("refuses a body that is not JSON with 415 (what a form or text/plain POST sends)", async () => {
    const { seen, call } = recordingRoute();
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]) {
      const res = await call({ headers: { "content-type": type }, body });
      expect(await errorOf(res)).toMatchObject({ status: 415, code: "unsupported_media_type" });
    }
    expect((await call({ body })).status).toBe(415);
    expect(
      (await call({ headers: { "content-type": "application/json; charset=utf-8" }, body })).status,
    ).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it("lets reads through from anywhere (they change nothing)", async () => {
    const handler = route({ public: true }, async () => ({ ok: true }));
    const res = await handler(
      new Request("http://parley.test/api/things", { headers: { origin: "https://evil.example" } }),
      { params: Promise.resolve({}) },
    );
    expect(res.status).toBe(200);
  });
});

describe("route(): body size", () => {
  /** A body stream that counts what is pulled from it, `chunks` chunks of 16 KiB (endless if Infinity). */
  function countingBody(chunks: number) {
    const pulled = { bytes: 0 };
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= chunks) return controller.close();
        pulled.bytes += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024).fill(0x20));
      },
    });
    return { stream, pulled };
  }

  it("refuses a declared Content-Length over the limit with 413 before reading a byte", async () => {
    const { seen, call } = recordingRoute();
    const { stream, pulled } = countingBody(Infinity);
    const res = await call({
      headers: { ...JSON_TYPE, "content-length": String(300 * 1024 * 1024) },
      body: stream,
      duplex: "half",
    });
    expect(await errorOf(res)).toEqual({
      status: 413,
      code: "too_large",
      message: "The request body is too large (at most 64 KB)",
    });
    expect(pulled.bytes).toBeLessThanOrEqual(16 * 1024); // a stream may prefetch one chunk
    expect(seen).toEqual([]);
  });

  it("stops reading a chunked body (no Content-Length) once it passes the limit", async () => {
    const { seen, call } = recordingRoute();
    const { stream, pulled } = countingBody(Infinity);
    const res = await call({ headers: JSON_TYPE, body: stream, duplex: "half" });
    expect(await errorOf(res)).toMatchObject({ status: 413, code: "too_large" });
    expect(pulled.bytes).toBeLessThanOrEqual(MAX_BODY_BYTES + 2 * 16 * 1024);
    expect(seen).toEqual([]);
  });

  it("accepts a body up to the limit", async () => {
    const { seen, call } = recordingRoute();
    const padded = JSON.stringify({ name: "x".repeat(MAX_BODY_BYTES - 20) });
    expect(padded.length).toBeLessThanOrEqual(MAX_BODY_BYTES);
    expect((await call({ headers: JSON_TYPE, body: padded })).status).toBe(200);
    const over = JSON.stringify({ name: "x".repeat(MAX_BODY_BYTES) });
    expect((await call({ headers: JSON_TYPE, body: over })).status).toBe(413);
    expect(seen).toHaveLength(1);
  });
});
