import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { importJWK, jwtVerify } from "jose";

/**
 * A local Web Push service (RFC 8030) for tests: it accepts a push only when its VAPID JWT
 * (RFC 8292) names this service as `aud`, is unexpired (≤ 24 h), has a `sub` and is
 * signed (ES256) by the key in `k`; it then decrypts the aes128gcm payload (RFC 8291) with
 * the device's private key, as a browser would, and records what arrived. A test can
 * script answers per device (410, 429, 500…).
 */
export interface TestDevice {
  /** What the browser would hand the app: PushSubscription.toJSON(). */
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
  name: string;
}

export interface ReceivedPush {
  device: string;
  payload: unknown;
  headers: { ttl: number; urgency: string | undefined; topic: string | undefined };
  jwt: { aud: string; exp: number; sub: string };
}

export async function startPushService(
  options: { expectedPublicKey?: string; port?: number } = {},
) {
  const devices = new Map<
    string,
    { name: string; ecdh: ReturnType<typeof createECDH>; auth: Buffer }
  >();
  const scripted = new Map<string, number[]>();
  const received: ReceivedPush[] = [];
  const rejected: { device: string; reason: string }[] = [];
  const attempts = new Map<string, number>();
  const waiters: (() => void)[] = [];

  const server = createServer((req, res) => {
    void handle(req).then(
      (status) => res.writeHead(status).end(),
      (err: unknown) => {
        rejected.push({ device: req.url ?? "", reason: String(err) });
        res.writeHead(400).end(String(err));
        for (const w of waiters.splice(0)) w();
      },
    );
  });

  async function handle(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const id = (req.url ?? "").replace(/^\/push\//, "");
    const device = devices.get(id);
    attempts.set(id, (attempts.get(id) ?? 0) + 1);
    const script = scripted.get(id);
    if (script?.length) {
      const status = script.shift()!;
      for (const w of waiters.splice(0)) w();
      return status;
    }
    if (!device) return 404;
    const jwt = await verifyVapid(req.headers.authorization, url, options.expectedPublicKey);
    if (req.headers["content-encoding"] !== "aes128gcm") throw new Error("not aes128gcm");
    const plaintext = decryptAes128gcm(body, device.ecdh, device.auth);
    received.push({
      device: device.name,
      payload: JSON.parse(plaintext.toString("utf8")),
      headers: {
        ttl: Number(req.headers.ttl),
        urgency: req.headers.urgency as string | undefined,
        topic: req.headers.topic as string | undefined,
      },
      jwt,
    });
    for (const w of waiters.splice(0)) w();
    return 201;
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    received,
    rejected,
    attempts,
    /** A new browser profile: its key pair and auth secret, and the subscription it would make. */
    device(name: string): TestDevice {
      const ecdh = createECDH("prime256v1");
      ecdh.generateKeys();
      const auth = randomBytes(16);
      const id = randomBytes(9).toString("base64url");
      devices.set(id, { name, ecdh, auth });
      return {
        name,
        subscription: {
          endpoint: `${url}/push/${id}`,
          keys: {
            p256dh: ecdh.getPublicKey().toString("base64url"),
            auth: auth.toString("base64url"),
          },
        },
      };
    },
    /** The next answers for that device's endpoint, before it answers normally again. */
    script(device: TestDevice, statuses: number[]) {
      scripted.set(idOf(device), [...statuses]);
    },
    attemptsOf(device: TestDevice): number {
      return attempts.get(idOf(device)) ?? 0;
    },
    /** Resolves once `predicate` holds (checked after each request), or rejects after timeoutMs. */
    async until(predicate: () => boolean, what: string, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`push service: timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function idOf(device: TestDevice): string {
  return device.subscription.endpoint.replace(/^.*\/push\//, "");
}

export type PushService = Awaited<ReturnType<typeof startPushService>>;

/** Checks `Authorization: vapid t=<jwt>, k=<key>` (RFC 8292 §3) and returns the claims. */
async function verifyVapid(
  header: string | undefined,
  audience: string,
  expectedKey: string | undefined,
): Promise<{ aud: string; exp: number; sub: string }> {
  const m = /^vapid t=([\w.-]+), k=([\w-]+)$/.exec(header ?? "");
  if (!m) throw new Error(`no VAPID authorization: ${header}`);
  const [, token, key] = m as unknown as [string, string, string];
  if (expectedKey && key !== expectedKey) throw new Error("VAPID key is not the server's");
  const raw = Buffer.from(key, "base64url");
  if (raw.length !== 65 || raw[0] !== 4)
    throw new Error("VAPID key is not an uncompressed P-256 point");
  const jwk = {
    kty: "EC",
    crv: "P-256",
    x: raw.subarray(1, 33).toString("base64url"),
    y: raw.subarray(33).toString("base64url"),
  };
  // Also proves the point is on the curve.
  createPublicKey({ key: jwk, format: "jwk" });
  const { payload, protectedHeader } = await jwtVerify(token, await importJWK(jwk, "ES256"), {
    audience,
    algorithms: ["ES256"],
  });
  if (protectedHeader.alg !== "ES256") throw new Error("VAPID JWT is not ES256");
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.exp !== "number" || payload.exp <= now || payload.exp > now + 24 * 3600) {
    throw new Error(`VAPID exp out of range: ${payload.exp}`);
  }
  if (typeof payload.sub !== "string" || !/^(mailto:|https:)/.test(payload.sub)) {
    throw new Error(`VAPID sub missing or not mailto:/https: (${String(payload.sub)})`);
  }
  return { aud: String(payload.aud), exp: payload.exp, sub: payload.sub };
}

/**
 * RFC 8291 §3-4 with RFC 8188's aes128gcm framing, receiving side: the header carries the
 * salt, record size and the sender's ephemeral public key; the key and nonce come from
 * ECDH with our private key and the auth secret through two HKDF steps.
 */
export function decryptAes128gcm(
  body: Buffer,
  ua: ReturnType<typeof createECDH>,
  auth: Buffer,
): Buffer {
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const records = body.subarray(21 + idlen);
  if (idlen !== 65) throw new Error(`keyid is ${idlen} bytes, not a P-256 public key`);
  if (records.length > rs) throw new Error("more than one record");
  const ecdhSecret = ua.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", ecdhSecret, auth, keyInfo, 32));
  const cek = Buffer.from(
    hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: aes128gcm\0"), 16),
  );
  const nonce = Buffer.from(
    hkdfSync("sha256", ikm, salt, Buffer.from("Content-Encoding: nonce\0"), 12),
  );
  const decipher = createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(records.subarray(records.length - 16));
  const padded = Buffer.concat([
    decipher.update(records.subarray(0, records.length - 16)),
    decipher.final(),
  ]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error("bad padding delimiter (not the last record)");
  return padded.subarray(0, end);
}
