import "server-only";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import webpush from "web-push";
import { logger } from "@/lib/server/log";
import {
  isNonPublicLiteral,
  NonPublicAddressError,
  publicOnlyLookup,
} from "@/lib/server/public-address";

const log = logger("push");

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

export type PushOutcome = "sent" | "gone" | "failed";

export interface PushSenderOptions {
  vapid: { subject: string; publicKey: string; privateKey: string };
  /** The subscription is gone (404/410): delete it. */
  onGone(id: string): Promise<void>;
  onSent?(id: string): void;
  /** Tries per push (the first included) on 429, 5xx or a network failure. */
  attempts?: number;
  /** First retry delay; doubled each time, with jitter, or the service's Retry-After. */
  baseDelayMs?: number;
  /** Longest a Retry-After is honoured in process; beyond it the push is dropped. */
  maxDelayMs?: number;
  /** Requests in flight at once, across every fan-out on this node. */
  concurrency?: number;
  timeoutMs?: number;
  /**
   * Origins exempt from the public-address rule (the tests' local push service,
   * PUSH_INSECURE_ORIGINS). Every other endpoint is reached only at public addresses.
   */
  trustedOrigins?: readonly string[];
}

/** VAPID JWTs live 12 h; each is reused for an hour per push service (audience). */
const VAPID_REUSE_MS = 60 * 60 * 1000;
const VAPID_LIFETIME_S = 12 * 60 * 60;

/**
 * Hands encrypted pushes to browsers' push services (RFC 8030) with the web-push library's
 * encryption (RFC 8291, aes128gcm) and VAPID (RFC 8292). The HTTP request is ours, so the
 * concurrency, timeouts and retries are too, and so is where it may go: an endpoint is a URL a
 * user chose, so it is reached only at public addresses (lib/server/public-address.ts: no
 * loopback, private or link-local network, checked on the addresses actually connected to),
 * and redirects are not followed. 404/410 deletes the subscription,
 * 429/5xx and network failures retry with exponential backoff (or Retry-After), anything
 * else is dropped with a log line. The VAPID JWT is signed once per push service and hour,
 * not per request.
 */
export class PushSender {
  private readonly vapidByAudience = new Map<string, { header: string; until: number }>();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly trustedOrigins: ReadonlySet<string>;

  constructor(private readonly options: PushSenderOptions) {
    this.attempts = options.attempts ?? 4;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.concurrency = options.concurrency ?? 64;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.trustedOrigins = new Set(options.trustedOrigins);
  }

  async send(target: PushTarget, payload: string, options: PushOptions): Promise<PushOutcome> {
    for (let attempt = 1; ; attempt++) {
      let status: number;
      let retryAfter: string | null = null;
      try {
        ({ status, retryAfter } = await this.limited(() => this.request(target, payload, options)));
      } catch (err) {
        if (err instanceof NonPublicAddressError) {
          log.warn("push endpoint refused: not a public address", { err: err.message });
          return "failed";
        }
        status = 0;
        log.debug("push request failed", { err: String(err) });
      }
      if (status >= 200 && status < 300) {
        this.options.onSent?.(target.id);
        return "sent";
      }
      if (status === 404 || status === 410) {
        await this.options.onGone(target.id);
        return "gone";
      }
      const retryable = status === 0 || status === 429 || status >= 500;
      if (!retryable || attempt >= this.attempts) {
        log.warn("push not delivered", { status, attempt, host: new URL(target.endpoint).host });
        return "failed";
      }
      const delay = this.delay(attempt, retryAfter);
      if (delay > this.maxDelayMs) return "failed";
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }

  private delay(attempt: number, retryAfter: string | null): number {
    if (retryAfter) {
      const seconds = Number(retryAfter);
      const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(ms) && ms >= 0) return ms;
    }
    const exp = this.baseDelayMs * 2 ** (attempt - 1);
    return exp / 2 + Math.random() * (exp / 2);
  }

  private async request(
    target: PushTarget,
    payload: string,
    options: PushOptions,
  ): Promise<{ status: number; retryAfter: string | null }> {
    // Encrypting is synchronous CPU work (an ECDH and two HKDFs): one push at a time, with
    // the event loop's I/O in between, so a big fan-out does not hold up other rooms' sends.
    await new Promise((resolve) => setImmediate(resolve));
    const url = new URL(target.endpoint);
    const trusted = this.trustedOrigins.has(url.origin);
    // An IP literal is connected to without a lookup: check it here.
    if (!trusted && isNonPublicLiteral(url.hostname))
      throw new NonPublicAddressError(url.hostname, url.hostname);
    const details = webpush.generateRequestDetails(
      { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
      payload,
      {
        TTL: options.ttl,
        urgency: options.urgency,
        topic: options.topic,
        contentEncoding: "aes128gcm",
        // No vapidDetails: the library would sign a JWT per request; ours is cached.
        headers: { Authorization: this.vapidHeader(target.endpoint) },
      },
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
          timeout: this.timeoutMs,
          ...(trusted ? {} : { lookup: publicOnlyLookup }),
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

  private vapidHeader(endpoint: string): string {
    const audience = new URL(endpoint).origin;
    const now = Date.now();
    const cached = this.vapidByAudience.get(audience);
    if (cached && cached.until > now) return cached.header;
    const { subject, publicKey, privateKey } = this.options.vapid;
    const headers = webpush.getVapidHeaders(
      audience,
      subject,
      publicKey,
      privateKey,
      "aes128gcm",
      Math.floor(now / 1000) + VAPID_LIFETIME_S,
    );
    const header = String(headers.Authorization);
    this.vapidByAudience.set(audience, { header, until: now + VAPID_REUSE_MS });
    return header;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.inFlight >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.inFlight++;
    try {
      return await fn();
    } finally {
      this.inFlight--;
      this.waiting.shift()?.();
    }
  }
}
