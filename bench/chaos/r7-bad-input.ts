import { once } from "node:events";
import { connect as tcpConnect } from "node:net";
import { Worker } from "node:worker_threads";
import { gzipSync } from "node:zlib";
import { io as connectSocket, type Socket } from "socket.io-client";
import { commands } from "@/lib/realtime/protocol";
import type { TestDbKind } from "@/test/support/db";
import { createBenchDatabase, ensureBuild, startParley } from "../chat/servers";
import { fetchCsrf, signInGuest } from "../chat/setup";
import { percentiles } from "../stats";
import type { HealthFigures } from "./health-poller";
import { MAX_STALL_MS, progress, type RowResult, rowRecorder, sleep } from "./row";

/** /api/health must answer within this throughout. */
export const R7_HEALTH_LIMIT_MS = 100;

/**
 * R7 against the production server (server.ts on the Next build, `npm run build` first if
 * there is none) on a fresh PGlite, or on a new database at TEST_DATABASE_URL.
 */
export async function runR7OnServer(kind: TestDbKind): Promise<RowResult> {
  await ensureBuild(progress);
  const database =
    kind === "postgres" ? await createBenchDatabase(process.env.TEST_DATABASE_URL!) : null;
  // The server's watchdog logs its stalls; the worst one is judged with the row.
  let worstStallMs = 0;
  const server = await startParley({
    databaseUrl: database?.url,
    log: (line) => {
      progress(`R7 ${line}`);
      const stall = /event loop stalled (\d+) ms/.exec(line);
      if (stall) worstStallMs = Math.max(worstStallMs, Number(stall[1]));
    },
  });
  try {
    const result = await runR7(server.url, () => worstStallMs);
    result.db = kind;
    return result;
  } finally {
    await server.stop();
    await database?.drop();
  }
}

/**
 * R7: a bad-input corpus against a running Parley (the production server): every HTTP
 * route under app/api with malformed, oversized, mistyped, prototype-polluting and
 * gzip-bombed bodies and odd path parameters, with and without a session; every socket
 * command with bad payloads; the tus upload endpoint with bad headers; the SFU signaling
 * (through the web node's proxy) with bad tokens and commands; and slow clients holding
 * connections open. Never a 5xx, never a crash, every refusal a clear error (a JSON
 * `{ error: { code, message } }` from the app's routes, an error ack from sockets, a
 * non-empty reason from tus), and /api/health answering in under 100 ms all along.
 */
export async function runR7(
  baseUrl: string,
  serverWorstStallMs?: () => number,
): Promise<RowResult> {
  const r = rowRecorder(
    "R7",
    "a bad-input corpus against every HTTP route, the socket protocol, tus and the SFU signaling",
    null,
  );
  const csrf = await fetchCsrf(baseUrl);
  const cookie = await signInGuest(baseUrl, "Fuzzer", csrf);
  const room = (await (await post(baseUrl, "/api/rooms", cookie, "{}")).json()) as {
    room: { slug: string; id: string };
  };
  const { slug, id: roomId } = room.room;

  const health = watchHealth(baseUrl);
  const seen = { requests: 0, serverErrors: 0, unclear: 0, accepted: 0 };
  const problems: string[] = [];
  const problem = (what: string) => {
    problems.push(what);
    progress(`R7 problem: ${what}`);
  };
  const judge = async (what: string, res: Response, jsonErrors: boolean, method = "GET") => {
    seen.requests++;
    const text = await res.text().catch(() => "");
    if (res.status >= 500) {
      seen.serverErrors++;
      problem(`${what} → ${res.status} ${text.slice(0, 120)}`);
    } else if (res.status >= 400) {
      // A HEAD answer has no body by definition: its status is all it can say.
      const clear =
        method === "HEAD"
          ? true
          : jsonErrors
            ? isErrorBody(text)
            : text.trim().length > 0 || res.status === 404 || res.status === 405;
      if (!clear) {
        seen.unclear++;
        problem(`${what} → ${res.status} without a clear error: ${text.slice(0, 120)}`);
      }
    } else {
      seen.accepted++;
    }
  };
  try {
    progress("R7: the socket protocol");
    const socketFigures = await socketCorpus(baseUrl, cookie, roomId, problem);
    progress("R7: tus next");
    await tusCorpus(baseUrl, cookie, roomId, judge);
    progress("R7: SFU signaling next");
    const sfuFigures = await signalingCorpus(baseUrl, cookie, slug, problem);
    // Last: the corpus signs this session out everywhere (DELETE /api/sessions) and leaves the room.
    progress("R7: every HTTP route");
    for (const [path, methods, full] of routes(slug)) {
      for (const method of methods) {
        for (const auth of full ? [cookie, ""] : [cookie]) {
          // Odd path parameters get a few bodies; the real paths get the whole corpus.
          for (const [name, init] of requestBodies(method).slice(0, full ? undefined : 3)) {
            const url =
              method === "GET" || method === "DELETE" || method === "HEAD"
                ? `${path}${name.startsWith("?") ? name : ""}`
                : path;
            const res = await fetch(`${baseUrl}${url}`, {
              method,
              redirect: "manual",
              ...init,
              headers: {
                ...(init.headers as Record<string, string>),
                ...(auth ? { cookie: auth } : {}),
              },
              signal: AbortSignal.timeout(10_000),
            }).catch(
              (err: unknown) => new Response(`fetch failed: ${String(err)}`, { status: 599 }),
            );
            await judge(
              `${method} ${url} (${name}${auth ? "" : ", signed out"})`,
              res,
              !path.startsWith("/api/auth"),
              method,
            );
          }
        }
      }
    }
    progress(`R7: ${seen.requests} HTTP requests; slow clients`);
    await slowClients(baseUrl);
    const alive = await fetch(`${baseUrl}/api/health`).then(
      (res) => res.status === 200,
      () => false,
    );

    const latencies = await health.stop();
    const { p99, max } = percentiles([Float64Array.from(latencies.ms)], [99, 100]);
    Object.assign(r.figures, {
      httpRequests: seen.requests,
      http5xx: seen.serverErrors,
      httpUnclear: seen.unclear,
      httpAccepted: seen.accepted,
      ...socketFigures,
      ...sfuFigures,
      healthChecks: latencies.ms.length,
      healthFailures: latencies.failures,
      healthP99Ms: p99 ?? 0,
      healthMaxMs: max ?? 0,
      serverAlive: alive,
    });
    for (const p of problems.slice(0, 20)) r.check(false, p);
    r.check(alive, "the server no longer answers /api/health");
    if (serverWorstStallMs) {
      r.figures.serverWorstStallMs = serverWorstStallMs();
      r.check(
        serverWorstStallMs() <= MAX_STALL_MS,
        `the server's event loop stalled ${serverWorstStallMs()} ms (over ${MAX_STALL_MS} ms)`,
      );
    }
    r.check(latencies.failures === 0, `/api/health failed ${latencies.failures} times`);
    r.check(
      (max ?? Infinity) < R7_HEALTH_LIMIT_MS,
      `/api/health took ${max} ms (limit ${R7_HEALTH_LIMIT_MS} ms)`,
    );
  } finally {
    await health.stop();
  }
  return r.done();
}

function post(baseUrl: string, path: string, cookie: string, body: string) {
  return fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body,
  });
}

function isErrorBody(text: string): boolean {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    return (
      typeof body.error?.code === "string" &&
      typeof body.error.message === "string" &&
      body.error.message.length > 0
    );
  } catch {
    return false;
  }
}

/** Every route file under app/api with its methods, and odd values for its parameters. */
function routes(slug: string): [path: string, methods: string[], full: boolean][] {
  const odd = ["__proto__", "constructor", "%00", "..%2F..%2Fetc", "x".repeat(3000)];
  const list: [string, string[], boolean][] = [
    ["/api/accounts", ["POST"], true],
    ["/api/direct", ["POST"], true],
    ["/api/rooms", ["GET", "POST"], true],
    ["/api/files", ["GET"], true],
    ["/api/sessions", ["DELETE"], true],
    ["/api/health", ["GET"], true],
    ["/api/search", ["GET"], true],
    ["/api/auth/callback/password", ["POST"], true],
    ["/api/auth/callback/credentials", ["POST"], true],
    ["/api/auth/callback/guest", ["POST"], true],
    ["/api/auth/session", ["GET"], true],
  ];
  for (const s of [slug, ...odd]) {
    list.push([`/api/rooms/${s}/membership`, ["POST", "DELETE"], s === slug]);
    list.push([`/api/rooms/${s}/call`, ["POST"], s === slug]);
    list.push([`/api/rooms/${s}/messages`, ["GET"], s === slug]);
  }
  for (const id of [crypto.randomUUID(), ...odd.slice(0, 3), "%E0%A4%A"]) {
    const full = !odd.includes(id);
    list.push([`/api/rooms/${slug}/members/${id}`, ["DELETE"], full]);
    list.push([`/api/files/${id}`, ["DELETE"], full]);
    list.push([`/api/files/${id}/thumbnail`, ["GET", "HEAD"], full]);
  }
  return list;
}

/** 64 MiB of zeros in 64 KiB: a body that must never be inflated. */
const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));

/** Bodies for writes, query strings for reads; each a name and the request's parts. */
function requestBodies(method: string): [string, RequestInit][] {
  if (method === "GET" || method === "DELETE" || method === "HEAD") {
    return [
      ["?", {}],
      ["?room=__proto__&before=constructor&limit=-1", {}],
      ["?__proto__[x]=1&constructor[prototype][y]=2", {}],
      [`?room=${"r".repeat(8000)}`, {}],
      ["?before=%FF%FE&limit=1e309", {}],
    ];
  }
  const json = (body: string | Uint8Array, extra: Record<string, string> = {}): RequestInit => ({
    body: body as BodyInit,
    headers: { "content-type": "application/json", ...extra },
  });
  return [
    ["empty", json("")],
    ["truncated", json('{"name":')],
    ["null", json("null")],
    ["array", json("[]")],
    ["number", json("42")],
    [
      "wrong types",
      json('{"name":42,"kind":["open"],"email":{},"password":null,"userId":true,"displayName":[]}'),
    ],
    ["__proto__", json('{"__proto__":{"isAdmin":true,"role":"owner"},"name":"x"}')],
    ["constructor", json('{"constructor":{"prototype":{"polluted":true}}}')],
    ["deep", json("[".repeat(100_000) + "]".repeat(100_000))],
    ["oversized", json(JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) }))],
    ["invalid UTF-8", json(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]))],
    ["text/plain", { body: "{}", headers: { "content-type": "text/plain" } }],
    ["gzip bomb", json(new Uint8Array(bomb), { "content-encoding": "gzip" })],
    [
      "foreign origin",
      json("{}", { origin: "https://evil.example", "sec-fetch-site": "cross-site" }),
    ],
  ];
}

/** Every socket command, and an unknown one, with payloads of every wrong kind. */
async function socketCorpus(
  baseUrl: string,
  cookie: string,
  roomId: string,
  problem: (what: string) => void,
) {
  const payloads: unknown[] = [
    undefined,
    null,
    42,
    "x",
    [],
    JSON.parse('{"__proto__":{"polluted":true},"roomId":"x"}'),
    { constructor: { prototype: { polluted: true } } },
    { roomId: "not-a-uuid", afterSeq: -1, body: 42, roomIds: "x", seq: "1" },
    { roomId: { $gt: "" } },
    { roomId, clientId: crypto.randomUUID(), body: "x".repeat(200_000) },
    { roomIds: Array.from({ length: 10_000 }, () => crypto.randomUUID()) },
  ];
  let asked = 0;
  let errorAcks = 0;
  let accepted = 0;
  let unclear = 0;
  let socket = await openSocket(baseUrl, cookie);
  for (const name of [...Object.keys(commands), "no.such.command", "__proto__", "constructor"]) {
    for (const payload of payloads) {
      if (!socket.connected) socket = await openSocket(baseUrl, cookie);
      asked++;
      // A second is plenty on loopback; a command that never answers is what this finds.
      const answer = (await (
        socket.timeout(1000).emitWithAck as (n: string, p: unknown) => Promise<unknown>
      )(name, payload).catch(() => null)) as {
        ok?: boolean;
        error?: { code?: string; message?: string };
      } | null;
      if (answer?.ok === false && answer.error?.code && answer.error.message) errorAcks++;
      else if (answer === null && !socket.connected)
        errorAcks++; // refused by disconnecting (oversized frame)
      else if (answer?.ok === true)
        accepted++; // a valid command with extra keys: they are stripped, not obeyed
      else {
        unclear++;
        problem(
          `socket ${name} ${JSON.stringify(payload)?.slice(0, 80)} → ${answer ? JSON.stringify(answer).slice(0, 120) : "no answer"}`,
        );
      }
      // Stay inside the per-socket command budget: a rate_limited answer is clear, but says nothing about the payload.
      await sleep(60);
    }
  }
  socket.disconnect();
  return {
    socketCommands: asked,
    socketErrorAcks: errorAcks,
    socketAccepted: accepted,
    socketUnclear: unclear,
  };
}

function openSocket(baseUrl: string, cookie: string, path = "/socket.io/"): Promise<Socket> {
  const socket = connectSocket(baseUrl, {
    path,
    transports: ["websocket"],
    extraHeaders: { cookie, origin: baseUrl },
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

/** The tus endpoint: creations with bad lengths and metadata, writes to uploads that are not there. */
async function tusCorpus(
  baseUrl: string,
  cookie: string,
  roomId: string,
  judge: (what: string, res: Response, jsonErrors: boolean, method?: string) => Promise<void>,
) {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const creations: Record<string, string>[] = [
    {},
    { "Upload-Length": "-1" },
    { "Upload-Length": "1e20" },
    { "Upload-Length": "abc" },
    { "Upload-Length": "99999999999999999999" },
    { "Upload-Length": "10", "Upload-Metadata": "garbage" },
    {
      "Upload-Length": "10",
      "Upload-Metadata": `__proto__ ${b64('{"x":1}')},roomId ${b64(roomId)}`,
    },
    {
      "Upload-Length": "10",
      "Upload-Metadata": `roomId ${b64("not-a-uuid")},name ${b64("../../etc/passwd")}`,
    },
    {
      "Upload-Length": "10",
      "Upload-Metadata": `roomId ${b64(crypto.randomUUID())},name ${b64("a")}`,
    },
    {
      "Upload-Length": "10",
      "Upload-Metadata": `constructor ${b64("x")},roomId ${b64(roomId)},name ${b64("a".repeat(10_000))}`,
    },
  ];
  for (const headers of creations) {
    for (const resumable of [{ "Tus-Resumable": "1.0.0" }, {}] as Record<string, string>[]) {
      const res = await fetch(`${baseUrl}/api/files/uploads`, {
        method: "POST",
        headers: { cookie, ...resumable, ...headers },
      }).catch((err: unknown) => new Response(String(err), { status: 599 }));
      await judge(`tus POST ${JSON.stringify(headers).slice(0, 80)}`, res, false);
    }
  }
  for (const id of [crypto.randomUUID(), "__proto__", "..%2F..%2Fetc"]) {
    for (const [method, headers] of [
      ["PATCH", { "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" }],
      ["PATCH", { "Upload-Offset": "-5", "Content-Type": "text/plain" }],
      ["HEAD", {}],
      ["DELETE", {}],
    ] as const) {
      const res = await fetch(`${baseUrl}/api/files/uploads/${id}`, {
        method,
        headers: { cookie, "Tus-Resumable": "1.0.0", ...headers },
        body: method === "PATCH" ? "abc" : undefined,
      }).catch((err: unknown) => new Response(String(err), { status: 599 }));
      await judge(`tus ${method} ${id}`, res, false, method);
    }
  }
}

/** The SFU signaling through the web node's proxy: bad tokens, then bad commands. */
async function signalingCorpus(
  baseUrl: string,
  cookie: string,
  slug: string,
  problem: (what: string) => void,
) {
  const res = await post(baseUrl, `/api/rooms/${slug}/call`, cookie, "{}");
  if (res.status !== 200) {
    problem(`no call ticket for the SFU corpus: ${res.status} ${await res.text()}`);
    return { sfuCommands: 0, sfuErrorAcks: 0 };
  }
  const ticket = (await res.json()) as { token: string; roomId: string; signalingPath: string };
  let asked = 0;
  let errorAcks = 0;
  const attempt = async (name: string, payload: unknown) => {
    const socket = await openSocket(baseUrl, cookie, ticket.signalingPath).catch(() => null);
    if (!socket) {
      problem("could not reach the SFU signaling through the proxy");
      return;
    }
    asked++;
    const answer = (await (
      socket.timeout(5000).emitWithAck as (n: string, p: unknown) => Promise<unknown>
    )(name, payload).catch(() => null)) as { ok?: boolean; error?: { code?: string } } | null;
    if ((answer?.ok === false && answer.error?.code) || (answer === null && !socket.connected))
      errorAcks++;
    else
      problem(
        `SFU ${name} ${JSON.stringify(payload)?.slice(0, 80)} → ${JSON.stringify(answer)?.slice(0, 120)}`,
      );
    socket.disconnect();
  };
  for (const payload of [
    null,
    42,
    { token: "x", roomId: ticket.roomId },
    { token: ticket.token.slice(0, -4) + "AAAA", roomId: ticket.roomId },
    { token: ticket.token, roomId: "another-room" },
    JSON.parse('{"__proto__":{"mayPublish":true},"token":"x"}'),
  ]) {
    await attempt("join", payload);
  }
  for (const name of [
    "publishOffer",
    "subscribeAnswer",
    "iceCandidate",
    "noSuchCommand",
    "__proto__",
  ]) {
    await attempt(name, { sdp: "v=0\r\ngarbage", connection: "constructor" });
  }
  return { sfuCommands: asked, sfuErrorAcks: errorAcks };
}

/** Connections that trickle their request a byte at a time, as a slowloris would. */
async function slowClients(baseUrl: string) {
  const { hostname, port } = new URL(baseUrl);
  const sockets = Array.from({ length: 20 }, () => tcpConnect(Number(port), hostname));
  for (const s of sockets) s.on("error", () => {});
  const request =
    "POST /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
  for (let i = 0; i < 20; i++) {
    for (const s of sockets) s.write(request[i % request.length]!);
    await sleep(150);
  }
  for (const s of sockets) s.destroy();
}

/**
 * Polls /api/health every 50 ms from its own thread (./health-poller.ts) until stopped;
 * stopping returns every poll's time.
 */
function watchHealth(baseUrl: string) {
  const worker = new Worker(new URL("./health-poller.ts", import.meta.url), {
    workerData: { url: `${baseUrl}/api/health`, intervalMs: 50 },
  });
  // Listening from the start: a worker that fails fails stop(), not the process.
  const answer = once(worker, "message") as Promise<[HealthFigures]>;
  answer.catch(() => {});
  let figures: Promise<HealthFigures> | undefined;
  return {
    stop(): Promise<HealthFigures> {
      figures ??= (async () => {
        worker.postMessage("stop");
        try {
          return (await answer)[0];
        } finally {
          await worker.terminate();
        }
      })();
      return figures;
    },
  };
}
