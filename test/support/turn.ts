import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { Lab } from "./netns";
import { selfSignedCertificate } from "./certificates";

/**
 * A real TURN server for the real-network call tests (issue 8): Debian's coturn
 * (`turnserver`) on a lab host, with the TURN REST API's shared secret (`use-auth-secret`)
 * as Parley's CALL_TURN_SECRET expects, listening on UDP and TCP 3478 and TLS 5349 with a
 * self-signed certificate for the host's address. docs/sfu.md ("Behind NAT and
 * firewalls") shows the same configuration for a deployment.
 */

const exec = promisify(execFile);

export const TURN_PORT = 3478;
export const TURNS_PORT = 5349;

export interface Turn {
  address: string;
  secret: string;
  /** For CALL_TURN_URLS: UDP, TCP and TLS, best first (as browsers rank them anyway). */
  urls: string[];
  /** The self-signed certificate (PEM) a browser must trust for `turns:`. */
  certificate: string;
}

/** Whether coturn and openssl are here; under CI=true their absence throws (fail, not skip). */
export function turnAvailable(): boolean {
  const missing = ["/usr/bin/turnserver", "/usr/bin/openssl"].filter((f) => !existsSync(f));
  if (missing.length === 0) return true;
  if (process.env.CI === "true")
    throw new Error(`CI=true but the TURN tests need ${missing.join(", ")}`);
  return false;
}

/** The coturn configuration the tests run (and the deployment docs quote). */
export function turnConfig(o: {
  address: string;
  secret: string;
  cert: string;
  key: string;
  dir: string;
}): string {
  return `
listening-ip=${o.address}
relay-ip=${o.address}
listening-port=${TURN_PORT}
tls-listening-port=${TURNS_PORT}
min-port=49152
max-port=65535
realm=parley.test
use-auth-secret
static-auth-secret=${o.secret}
fingerprint
cert=${o.cert}
pkey=${o.key}
no-dtls
no-cli
no-multicast-peers
no-loopback-peers
pidfile=${path.join(o.dir, "turnserver.pid")}
userdb=${path.join(o.dir, "turndb")}
log-file=stdout
simple-log
`;
}

/**
 * Starts coturn on `host` (its first IPv4 address) and resolves once it accepts TCP
 * connections on both ports. The lab stops it in `destroy()`.
 */
export async function startTurn(lab: Lab, host: string): Promise<Turn> {
  const address = lab.host(host).ipv4[0]!;
  const dir = path.join(lab.dir, "turn");
  await exec("mkdir", ["-p", dir]);
  const { cert, key } = await selfSignedCertificate({
    dir,
    base: "cert",
    commonName: "Parley test TURN",
    altNames: `IP:${address}`,
    ca: true,
  });
  const secret = randomBytes(24).toString("base64url");
  const conf = path.join(dir, "turnserver.conf");
  writeFileSync(conf, turnConfig({ address, secret, cert, key, dir }));
  const child = lab.spawn(host, "/usr/bin/turnserver", ["-c", conf], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += String(d)));
  child.stderr!.on("data", (d: Buffer) => (log += String(d)));
  const probe = `const net = require("node:net");
    const [host, ...ports] = process.argv.slice(1);
    Promise.all(ports.map((p) => new Promise((ok, fail) => {
      const c = net.connect(Number(p), host, () => { c.destroy(); ok(); }).on("error", fail);
    }))).then(() => process.exit(0), () => process.exit(1));`;
  for (let tries = 0; ; tries++) {
    if (child.exitCode !== null) throw new Error(`turnserver exited (${child.exitCode}):\n${log}`);
    const up = await lab
      .run(lab.host(host).netns, process.execPath, [
        "-e",
        probe,
        address,
        String(TURN_PORT),
        String(TURNS_PORT),
      ])
      .then(
        () => true,
        () => false,
      );
    if (up) break;
    if (tries === 100) throw new Error(`turnserver did not start within 10 s:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    address,
    secret,
    urls: [
      `turn:${address}:${TURN_PORT}?transport=udp`,
      `turn:${address}:${TURN_PORT}?transport=tcp`,
      `turns:${address}:${TURNS_PORT}?transport=tcp`,
    ],
    certificate: cert,
  };
}

/**
 * A HOME for a browser that trusts `certificate` (PEM) as a certificate authority:
 * Chromium on Linux reads the user's NSS database, `$HOME/.pki/nssdb`, made here with
 * `certutil` (Debian's libnss3-tools).
 */
export async function homeTrusting(dir: string, certificate: string): Promise<string> {
  if (!existsSync("/usr/bin/certutil")) {
    throw new Error(
      "certutil is missing (Debian package libnss3-tools): a browser cannot trust the TURN certificate",
    );
  }
  const db = path.join(dir, ".pki", "nssdb");
  await exec("mkdir", ["-p", db]);
  await exec("certutil", ["-d", `sql:${db}`, "-N", "--empty-password"]);
  await exec("certutil", [
    "-d",
    `sql:${db}`,
    "-A",
    "-t",
    "C,,",
    "-n",
    "parley-test-turn",
    "-i",
    certificate,
  ]);
  return dir;
}
