/**
 * The push worker: everything a Web Push costs in CPU, off the web node's main thread
 * (./push.ts is the main thread's side, docs/notifications.md "Web Push"). Per device it
 * encrypts the payload (RFC 8291 aes128gcm with the web-push library: an ECDH key pair and
 * agreement, two HKDFs, AES-GCM), sends the request (RFC 8030) over a keep-alive agent per
 * push service origin, and retries 429, 5xx and network failures with backoff. The VAPID
 * JWT (RFC 8292) is signed once per push service origin and reused until shortly before it
 * expires. The main thread hands over devices in batches and gets each batch's outcomes
 * back in one message, so a fan-out to thousands costs it a few messages.
 *
 * Loaded by `new Worker(url)` outside any bundler and path alias: it imports node: modules,
 * web-push and ../server/public-address.ts only (that one by its extension) and uses only
 * type syntax Node can strip, so it runs under tsx (the server), Node's own type stripping
 * and vitest alike.
 */
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import webpush from "web-push";
import {
  isNonPublicLiteral,
  NonPublicAddressError,
  publicOnlyLookup,
} from "../server/public-address.ts";

/** One device's subscription, as stored. */
export interface PushTarget {
  id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

export interface PushOptions {
  /** Seconds the push service keeps an undelivered message (RFC 8030 §5.2). */
  ttl: number;
  urgency: "very-low" | "low" | "normal" | "high";
  /** Replaces an undelivered message with the same topic (RFC 8030 §5.4), ≤ 32 base64url chars. */
  topic?: string;
}

/** What a worker is started with (workerData). */
export interface PushWorkerConfig {
  vapid: { subject: string; publicKey: string; privateKey: string };
  /** Origins exempt from the public-address rule (PUSH_INSECURE_ORIGINS). */
  trustedOrigins: readonly string[];
  /** Tries per push (the first included) on 429, 5xx or a network failure. */
  attempts: number;
  /** First retry delay; doubled each time, with jitter, or the service's Retry-After. */
  baseDelayMs: number;
  /** Longest a Retry-After is honoured; beyond it the push is dropped. */
  maxDelayMs: number;
  /** Requests in flight at once on this worker. */
  concurrency: number;
  timeoutMs: number;
  /** The share of a core this worker may use on average (0–1], see `createCpuPacer`. */
  cpuShare: number;
}

/** A batch of devices: `payload` indexes `payloads` (a fan-out has one or two texts). */
export interface PushBatch {
  job: number;
  payloads: string[];
  targets: (PushTarget & { payload: number })[];
  options: PushOptions;
}

/** A push that was not delivered, with what the main thread logs about it. */
export interface PushFailure {
  id: string;
  /** The last HTTP status (0: no answer). */
  status: number;
  attempts: number;
  host: string;
  /** Refused before sending: the endpoint is not at a public address. */
  refused: boolean;
  /**
   * The subscription's keys cannot encrypt (not a P-256 point, a wrong-sized secret): it can
   * never be pushed to, like a 410, so the main thread deletes it.
   */
  unusable: boolean;
}

/** Encryption failed on the subscription's own keys: retrying cannot help. */
class UnusableKeysError extends Error {}

export interface PushBatchResult {
  job: number;
  /** Delivered (2xx). */
  sent: string[];
  /** The push service no longer knows them (404/410): the main thread deletes them. */
  gone: string[];
  failed: PushFailure[];
}

/** VAPID JWTs live 12 h (RFC 8292 allows 24) and are replaced an hour before they expire. */
export const VAPID_LIFETIME_S = 12 * 60 * 60;
const VAPID_RENEW_BEFORE_MS = 60 * 60 * 1000;

/** The clocks a pacer reads and the sleep it waits with; a test passes its own. */
export interface PacerClock {
  wallMs(): number;
  /** This thread's CPU time. */
  cpuMs(): number;
  sleep(ms: number): Promise<void>;
}

export const threadClock: PacerClock = {
  wallMs: () => performance.now(),
  cpuMs: () => {
    const { user, system } = process.threadCpuUsage();
    return (user + system) / 1000;
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** CPU time a worker may spend at once, beyond its share, after being idle: a small fan-out. */
export const PACER_BURST_MS = 10;

/**
 * Holds a thread to `share` of a core on average: a token bucket of CPU time that fills at
 * `share` ms per ms of wall time, up to `burstMs`, and is drawn down by the thread's own CPU
 * clock. `ready()` returns at once while the bucket is not empty, else waits until it would
 * be. A push to a few devices goes out at once; a fan-out to thousands is spread out, and
 * leaves the rest of the cores to the web node's main thread, the database and the kernel:
 * on two cores, a worker at full speed took one, and the other rooms' sends, queued on the
 * other behind the push service's and the database's work, slowed by half at the p99
 * (docs/notifications.md, "Pacing the worker"). Nice alone did not stop that.
 */
export function createCpuPacer(share: number, burstMs = PACER_BURST_MS, clock = threadClock) {
  let tokens = burstMs;
  let lastWall = clock.wallMs();
  let lastCpu = clock.cpuMs();
  return {
    async ready(): Promise<void> {
      if (share >= 1) return;
      for (;;) {
        const wall = clock.wallMs();
        const cpu = clock.cpuMs();
        tokens = Math.min(burstMs, tokens + (wall - lastWall) * share) - (cpu - lastCpu);
        lastWall = wall;
        lastCpu = cpu;
        if (tokens >= 0) return;
        await clock.sleep(-tokens / share);
      }
    },
  };
}

/**
 * Runs `fn` with V8 capturing no stack traces for errors made meanwhile (this thread only;
 * restored after). Why: Node 24's `createHmac` and `createCipheriv` tell a Buffer key from a
 * KeyObject or CryptoKey by two brand checks that each throw and catch an error, and
 * capturing the thrown error's stack is most of their cost; `web-push`'s encryption
 * (`http_ece`: six HMACs and a cipher per push) pays it seven times. Without stack traces an
 * HMAC costs 11 µs instead of 22–28 here, a push's encryption ~20 % less (`bench:notify`,
 * docs/notifications.md). An error `fn` throws keeps its message, not its stack.
 */
export function withoutStackTraces<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Runs the library's encryption. An error there about the subscription's keys (Node's
 * "not valid for specified curve", web-push's checks of `p256dh` and `auth`) becomes
 * {@link UnusableKeysError}; any other is ours and is thrown as it is.
 */
function encrypt<T>(fn: () => T): T {
  try {
    return withoutStackTraces(fn);
  } catch (err) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    if (
      code === "ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY" ||
      /p256dh|auth key|user public key|user auth/.test(String(message))
    )
      throw new UnusableKeysError(String(message));
    throw err;
  }
}

/** One worker's sender: its VAPID JWTs, agents and in-flight bound. */
export function createPushWorker(config: PushWorkerConfig) {
  const pacer = createCpuPacer(config.cpuShare);
  const trusted = new Set(config.trustedOrigins);
  const vapidByAudience = new Map<string, { header: string; renewAt: number }>();
  const agents = new Map<string, HttpAgent>();
  let inFlight = 0;
  const waiting: (() => void)[] = [];

  function vapidHeader(audience: string): string {
    const now = Date.now();
    const cached = vapidByAudience.get(audience);
    if (cached && cached.renewAt > now) return cached.header;
    const { subject, publicKey, privateKey } = config.vapid;
    const expires = Math.floor(now / 1000) + VAPID_LIFETIME_S;
    const header = String(
      webpush.getVapidHeaders(audience, subject, publicKey, privateKey, "aes128gcm", expires)
        .Authorization,
    );
    vapidByAudience.set(audience, {
      header,
      renewAt: expires * 1000 - VAPID_RENEW_BEFORE_MS,
    });
    return header;
  }

  /** One keep-alive agent per push service: its connections are reused across fan-outs. */
  function agentFor(url: URL): HttpAgent {
    let agent = agents.get(url.origin);
    if (!agent) {
      const Agent = url.protocol === "https:" ? HttpsAgent : HttpAgent;
      agent = new Agent({ keepAlive: true, maxSockets: config.concurrency });
      agents.set(url.origin, agent);
    }
    return agent;
  }

  async function limited<T>(fn: () => Promise<T>): Promise<T> {
    while (inFlight >= config.concurrency) {
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    inFlight++;
    try {
      return await fn();
    } finally {
      inFlight--;
      waiting.shift()?.();
    }
  }

  async function request(
    target: PushTarget,
    payload: string,
    options: PushOptions,
  ): Promise<{ status: number; retryAfter: string | null }> {
    // Encrypting is synchronous CPU work: one push at a time, with this thread's I/O (the
    // answers of earlier requests) in between, within the worker's share of a core.
    await new Promise((resolve) => setImmediate(resolve));
    await pacer.ready();
    const url = new URL(target.endpoint);
    const isTrusted = trusted.has(url.origin);
    // An IP literal is connected to without a lookup: check it here.
    if (!isTrusted && isNonPublicLiteral(url.hostname))
      throw new NonPublicAddressError(url.hostname, url.hostname);
    const authorization = vapidHeader(url.origin);
    const details = encrypt(() =>
      webpush.generateRequestDetails(
        { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
        payload,
        {
          TTL: options.ttl,
          urgency: options.urgency,
          topic: options.topic,
          contentEncoding: "aes128gcm",
          // No vapidDetails: the library would sign a JWT per request; ours is cached.
          headers: { Authorization: authorization },
        },
      ),
    );
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(details.headers)) headers[k] = String(v);
    const body = details.body ?? Buffer.alloc(0);
    headers["Content-Length"] = String(body.length);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method: "POST",
          headers,
          agent: agentFor(url),
          timeout: config.timeoutMs,
          // Every connection's addresses are checked (a reused one was, when it opened).
          ...(isTrusted ? {} : { lookup: publicOnlyLookup }),
        },
        (res) => {
          res.resume();
          const retryAfter = res.headers["retry-after"];
          resolve({ status: res.statusCode ?? 0, retryAfter: retryAfter ?? null });
        },
      );
      req.on("timeout", () => req.destroy(new Error("push request timed out")));
      req.on("error", reject);
      req.end(body);
    });
  }

  function delay(attempt: number, retryAfter: string | null): number {
    if (retryAfter) {
      const seconds = Number(retryAfter);
      const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(ms) && ms >= 0) return ms;
    }
    const exp = config.baseDelayMs * 2 ** (attempt - 1);
    return exp / 2 + Math.random() * (exp / 2);
  }

  /** One device: delivered, gone (404/410) or failed after its retries. */
  async function push(
    target: PushTarget,
    payload: string,
    options: PushOptions,
  ): Promise<"sent" | "gone" | PushFailure> {
    const failure = (
      status: number,
      attempts: number,
      why?: "refused" | "unusable",
    ): PushFailure => ({
      id: target.id,
      status,
      attempts,
      host: new URL(target.endpoint).host,
      refused: why === "refused",
      unusable: why === "unusable",
    });
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let retryAfter: string | null = null;
      try {
        ({ status, retryAfter } = await limited(() => request(target, payload, options)));
      } catch (err) {
        if (err instanceof NonPublicAddressError) return failure(0, attempt, "refused");
        if (err instanceof UnusableKeysError) return failure(0, attempt, "unusable");
        status = 0;
      }
      if (status >= 200 && status < 300) return "sent";
      if (status === 404 || status === 410) return "gone";
      const retryable = status === 0 || status === 429 || status >= 500;
      if (!retryable || attempt >= config.attempts) return failure(status, attempt);
      const wait = delay(attempt, retryAfter);
      if (wait > config.maxDelayMs) return failure(status, attempt);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async function run(batch: PushBatch): Promise<PushBatchResult> {
    const result: PushBatchResult = { job: batch.job, sent: [], gone: [], failed: [] };
    await Promise.all(
      batch.targets.map(async (target) => {
        const outcome = await push(target, batch.payloads[target.payload]!, batch.options);
        if (outcome === "sent") result.sent.push(target.id);
        else if (outcome === "gone") result.gone.push(target.id);
        else result.failed.push(outcome);
      }),
    );
    return result;
  }

  return { run };
}

/**
 * Pushes are background work: when the CPU is short, the main thread's sends (other rooms,
 * acks) go first. On Linux the nice value belongs to the thread, so this lowers only this
 * worker's priority; elsewhere it would lower the whole process's, so it is left alone.
 */
const WORKER_NICE = 10;

if (parentPort) {
  const port = parentPort;
  if (process.platform === "linux") {
    try {
      setPriority(WORKER_NICE);
    } catch {
      // Not allowed (a sandbox): the worker runs at the main thread's priority.
    }
  }
  const worker = createPushWorker(workerData as PushWorkerConfig);
  port.on("message", (batch: PushBatch) => {
    void worker.run(batch).then((result) => port.postMessage(result));
  });
}
