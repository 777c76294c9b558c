import { z } from "zod";
import type { BotSpec } from "./worker-protocol";

/**
 * Users and rooms made through Parley's HTTP API, the way a browser makes them: a guest
 * sign-in through NextAuth's credentials flow, then `New room` for one member of each
 * room and joining by slug for the others.
 */

const csrfSchema = z.object({ csrfToken: z.string().min(1) });
const roomSchema = z.object({ room: z.object({ id: z.uuid(), slug: z.string().min(1) }) });

const SESSION_COOKIE = "next-auth.session-token";
const REQUEST_TIMEOUT_MS = 30_000;

/** `name=value` pairs of a response's Set-Cookie headers. */
function cookiesOf(res: Response): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const header of res.headers.getSetCookie()) {
    const pair = header.split(";", 1)[0] ?? "";
    const eq = pair.indexOf("=");
    if (eq > 0) cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
  }
  return cookies;
}

async function expectOk(res: Response, what: string): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text ? (JSON.parse(text) as unknown) : null;
}

/** NextAuth's double-submit CSRF pair: the token for the form and the cookie that signs it. */
export async function fetchCsrf(baseUrl: string): Promise<{ token: string; cookie: string }> {
  const res = await fetch(`${baseUrl}/api/auth/csrf`, {
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const { csrfToken } = csrfSchema.parse(await expectOk(res, "GET /api/auth/csrf"));
  const cookie = [...cookiesOf(res)].map(([k, v]) => `${k}=${v}`).join("; ");
  return { token: csrfToken, cookie };
}

/**
 * Signs in as a new guest; returns the `Cookie` header value that carries the session.
 * The CSRF pair stays valid for any number of sign-ins, so one serves them all: the bench
 * measures chat, and 2,000 extra GETs would only make the setup slower.
 */
export async function signInGuest(
  baseUrl: string,
  displayName: string,
  csrf: { token: string; cookie: string },
): Promise<string> {
  const res = await fetch(`${baseUrl}/api/auth/callback/guest`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrf.cookie },
    body: new URLSearchParams({
      csrfToken: csrf.token,
      displayName,
      callbackUrl: baseUrl,
      json: "true",
    }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  await expectOk(res, "POST /api/auth/callback/guest");
  const token = cookiesOf(res).get(SESSION_COOKIE);
  if (!token) throw new Error("guest sign-in set no session cookie");
  return `${SESSION_COOKIE}=${token}`;
}

async function postJson(baseUrl: string, path: string, cookie: string): Promise<unknown> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie },
    body: "{}",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return expectOk(res, `POST ${path}`);
}

/** Runs fn over items with at most `limit` in flight; a failure is retried twice. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) {
      for (let attempt = 1; ; attempt++) {
        try {
          results[i] = await fn(items[i]!, i);
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/**
 * `clients` guests spread over `rooms` rooms (round-robin, so sizes differ by at most one).
 * The first guest of each room creates it; the others join by its slug.
 */
export async function createUsersAndRooms(
  baseUrl: string,
  clients: number,
  rooms: number,
  concurrency: number,
): Promise<{ bots: BotSpec[]; seconds: number }> {
  const startedAt = performance.now();
  const csrf = await fetchCsrf(baseUrl);
  const cookies = await mapLimit(
    Array.from({ length: clients }, (_, i) => i),
    concurrency,
    (i) => signInGuest(baseUrl, `Bench guest ${i + 1}`, csrf),
  );
  const created = await mapLimit(
    Array.from({ length: rooms }, (_, r) => r),
    concurrency,
    async (r) => roomSchema.parse(await postJson(baseUrl, "/api/rooms", cookies[r]!)).room,
  );
  const bots = cookies.map((cookie, i) => ({
    cookie,
    room: created[i % rooms]!,
    creator: i < rooms,
  }));
  await mapLimit(
    bots.filter((b) => !b.creator),
    concurrency,
    (bot) => postJson(baseUrl, `/api/rooms/${bot.room.slug}/membership`, bot.cookie),
  );
  return {
    bots: bots.map((b) => ({ cookie: b.cookie, roomId: b.room.id })),
    seconds: (performance.now() - startedAt) / 1000,
  };
}

/** For the bare server: the same room layout with made-up room ids and no sessions. */
export function bareBots(clients: number, rooms: number): BotSpec[] {
  const ids = Array.from({ length: rooms }, () => crypto.randomUUID());
  return Array.from({ length: clients }, (_, i) => ({ cookie: "", roomId: ids[i % rooms]! }));
}
