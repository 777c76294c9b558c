import "server-only";
import { createHash } from "node:crypto";
import path from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import * as acme from "acme-client";
import { logger } from "../log";
import type { Challenge } from "./config";
import {
  type CertInfo,
  type CertPair,
  checkPair,
  covers,
  PairStore,
  readOptional,
  writePrivate,
} from "./store";

/**
 * Certificates from an ACME CA (RFC 8555; Let's Encrypt by default), obtained and renewed
 * by the running server through acme-client. The account key (one per CA) and the
 * certificate live in DATA_DIR/tls/acme/ (0600), so a restart serves what it has and asks the CA
 * for nothing until renewal is due: a third of the lifetime before expiry unless
 * ACME_RENEW_BEFORE says otherwise. A failed attempt is logged as an error, reported by
 * /api/health and retried with exponential backoff (1 min doubling to 6 h) while the
 * server goes on with the certificate it has. Answers to HTTP-01 challenges are served by
 * the plain HTTP listener, TLS-ALPN-01 ones by the HTTPS listener (./web.ts).
 */

const log = logger("tls");

export interface AcmeOptions {
  names: string[];
  directoryUrl: string;
  email?: string;
  challenges: Challenge[];
  renewBeforeS?: number;
  /** DATA_DIR/tls */
  tlsDir: string;
  /** Called with each certificate to serve (the stored one at start, then each new one). */
  install(pair: CertPair, info: CertInfo): void;
}

export interface AcmeStatus {
  certificate: CertInfo | null;
  renewsAt: Date | null;
  /** Why the last attempt failed; null once one succeeds. */
  error: string | null;
  nextAttemptAt: Date | null;
}

const BACKOFF_MIN_MS = 60_000;
const BACKOFF_MAX_MS = 6 * 3_600_000;
/** Timers re-check at least this often (and setTimeout cannot wait past ~24.8 days). */
const MAX_WAIT_MS = 24 * 3_600_000;

acme.setLogger((message) => log.debug(message));
// A directory that accepts the connection and never answers must not hang issuance.
acme.axios.defaults.timeout = 30_000;

export class AcmeManager {
  private readonly store: PairStore;
  private readonly accountKeyFile: string;
  private readonly directoryFile: string;
  /** The stored certificate came from another CA (ACME_DIRECTORY_URL changed): replace it. */
  private otherCa = false;
  private readonly httpTokens = new Map<string, string>();
  private readonly alpnContexts = new Map<string, SecureContext>();
  private current: CertInfo | null = null;
  private error: string | null = null;
  private failures = 0;
  private nextAttemptAt: Date | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly options: AcmeOptions) {
    // One account per CA; one certificate per name, with the CA that issued it noted.
    const ca = createHash("sha256").update(options.directoryUrl).digest("hex").slice(0, 16);
    const dir = path.join(options.tlsDir, "acme");
    this.accountKeyFile = path.join(dir, "accounts", `${ca}.pem`);
    this.store = new PairStore(path.join(dir, options.names[0]!));
    this.directoryFile = path.join(this.store.dir, "directory.txt");
  }

  /** Serves the stored certificate if it is for these names, then keeps one current. */
  async start(): Promise<void> {
    const stored = await this.store.read();
    if (stored) {
      try {
        const info = checkPair(stored);
        if (!covers(info, this.options.names)) throw new Error("it is for other names");
        if (info.notAfter.getTime() <= Date.now()) throw new Error("it has expired");
        this.current = info;
        this.options.install(stored, info);
        const from = (await readOptional(this.directoryFile))?.trim();
        this.otherCa = from !== this.options.directoryUrl;
        log.info("serving the stored certificate", {
          names: info.names,
          notAfter: info.notAfter.toISOString(),
          renewsAt: this.renewsAt()?.toISOString(),
          ...(this.otherCa && { replacing: `it came from ${from ?? "another CA"}` }),
        });
      } catch (err) {
        log.warn("not serving the stored certificate", { reason: (err as Error).message });
      }
    }
    this.schedule(this.dueIn());
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  status(): AcmeStatus {
    return {
      certificate: this.current,
      renewsAt: this.renewsAt(),
      error: this.error,
      nextAttemptAt: this.nextAttemptAt,
    };
  }

  /** The key authorization for an HTTP-01 token being validated now. */
  httpChallenge(token: string): string | undefined {
    return this.httpTokens.get(token);
  }

  /** Whether a TLS-ALPN-01 validation may be under way (the listener then reads ClientHellos). */
  alpnPending(): boolean {
    return this.alpnContexts.size > 0;
  }

  /** The acme-tls/1 certificate for a name being validated now. */
  alpnContext(servername: string): SecureContext | undefined {
    return this.alpnContexts.get(servername.toLowerCase());
  }

  /** Obtains a certificate now (also what the timer runs). Never throws. */
  renew(): Promise<void> {
    this.running ??= this.attempt().finally(() => (this.running = null));
    return this.running;
  }

  private renewsAt(): Date | null {
    if (!this.current) return null;
    const { notBefore, notAfter } = this.current;
    const lifetime = notAfter.getTime() - notBefore.getTime();
    // A setting longer than the lifetime would renew in a loop: each certificate is kept
    // for at least a tenth of its life.
    const beforeMs = Math.min(
      this.options.renewBeforeS !== undefined ? this.options.renewBeforeS * 1000 : lifetime / 3,
      lifetime * 0.9,
    );
    return new Date(notAfter.getTime() - beforeMs);
  }

  private dueIn(): number {
    if (this.otherCa) return 0;
    const at = this.renewsAt();
    return at ? Math.max(0, at.getTime() - Date.now()) : 0;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.min(ms, MAX_WAIT_MS);
    this.timer = setTimeout(() => {
      if (this.dueIn() > 0 && this.failures === 0) this.schedule(this.dueIn());
      else void this.renew();
    }, wait);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    const started = Date.now();
    log.info(this.current ? "renewing the certificate" : "obtaining a certificate", {
      names: this.options.names,
      directory: this.options.directoryUrl,
      challenges: this.options.challenges,
    });
    try {
      const pair = await this.obtain();
      const info = checkPair(pair);
      await this.store.write(pair);
      await writePrivate(this.directoryFile, this.options.directoryUrl);
      this.otherCa = false;
      this.current = info;
      this.options.install(pair, info);
      this.error = null;
      this.failures = 0;
      this.nextAttemptAt = null;
      log.info("certificate obtained and now served", {
        names: info.names,
        notAfter: info.notAfter.toISOString(),
        renewsAt: this.renewsAt()?.toISOString(),
        tookMs: Date.now() - started,
      });
      this.schedule(this.dueIn());
    } catch (err) {
      this.failures += 1;
      this.error = describe(err);
      const wait = Math.min(BACKOFF_MIN_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS);
      this.nextAttemptAt = new Date(Date.now() + wait);
      log.error(
        `!!! could not ${this.current ? "renew" : "obtain"} the TLS certificate: ${this.error}`,
        {
          names: this.options.names,
          directory: this.options.directoryUrl,
          attempt: this.failures,
          retryInS: wait / 1000,
          serving: this.current
            ? `the certificate valid until ${this.current.notAfter.toISOString()}`
            : "no certificate: HTTPS is refused until one is obtained",
        },
      );
      this.schedule(wait);
    }
  }

  private async obtain(): Promise<CertPair> {
    let accountKey = await readOptional(this.accountKeyFile);
    if (!accountKey) {
      accountKey = (await acme.crypto.createPrivateEcdsaKey()).toString();
      await writePrivate(this.accountKeyFile, accountKey);
    }
    const client = new acme.Client({ directoryUrl: this.options.directoryUrl, accountKey });
    // Our account with this key, else a new one. (Left to `auto`, an existing account gets
    // an update that only says the terms are agreed, which pebble refuses as empty.)
    try {
      await client.createAccount({ onlyReturnExisting: true });
    } catch {
      await client.createAccount({
        termsOfServiceAgreed: true,
        contact: this.options.email ? [`mailto:${this.options.email}`] : undefined,
      });
    }
    const key = await acme.crypto.createPrivateEcdsaKey();
    const [, csr] = await acme.crypto.createCsr(
      { commonName: this.options.names[0], altNames: this.options.names },
      key,
    );
    const cert = await client.auto({
      csr,
      challengePriority: this.options.challenges,
      // The CA checks; a self-check from behind NAT often cannot reach our own address.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        // acme-client's types predate TLS-ALPN-01 (its code handles it).
        const type: string = challenge.type;
        if (type === "http-01") {
          this.httpTokens.set(challenge.token, keyAuthorization);
        } else if (type === "tls-alpn-01") {
          const alpnKey = await acme.crypto.createPrivateEcdsaKey();
          const [, alpnCert] = await acme.crypto.createAlpnCertificate(
            authz,
            keyAuthorization,
            alpnKey,
          );
          this.alpnContexts.set(
            authz.identifier.value.toLowerCase(),
            createSecureContext({ key: alpnKey, cert: alpnCert }),
          );
        }
        log.info("answering a challenge", { type: challenge.type, name: authz.identifier.value });
      },
      challengeRemoveFn: async (authz, challenge) => {
        if (challenge.type === "http-01") this.httpTokens.delete(challenge.token);
        else this.alpnContexts.delete(authz.identifier.value.toLowerCase());
      },
    });
    return { cert, key: key.toString() };
  }
}

/** A failure in a sentence: the CA's problem detail when it sent one. */
function describe(err: unknown): string {
  const e = err as { message?: string; code?: string; response?: { status?: number } };
  const parts = [e.message ?? String(err)];
  if (e.code && !parts[0]!.includes(e.code)) parts.push(`(${e.code})`);
  return parts.join(" ");
}
