import type { ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { request as httpRequest } from "node:http";
import path from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TlsStatus } from "@/lib/server/tls/web";
import { Lab, labAvailable, stop } from "../../support/netns";
import { type Pebble, pebbleAvailable, startPebble } from "../../support/pebble";
import { getOnSocket } from "../../support/raw-http";

/**
 * Certificates from a real ACME CA (issue 11): pebble on one lab host, the HTTPS listeners
 * of lib/server/tls/ (test/server/tls/serve.ts, standing in for the app) on another,
 * reached as parley.test on ports 80 and 443 exactly as Let's Encrypt would reach them.
 * One data directory carries over from test to test, as restarts of one server would. Also
 * here: listening on 80 and 443 as a user without root (README.md "HTTPS").
 * e2e/https.spec.ts runs the whole app under a browser the same way.
 */

const NAME = "parley.test";
const VALIDITY_S = 60;
let lab: Lab;
let pebble: Pebble;
let https: number;
let http: number;
let dataDir: string;

interface Served {
  child: ChildProcess;
  log: () => string;
}
let served: Served | null = null;

/** serve.ts on the lab's server host; as `uid` (no capabilities) when given. */
async function serve(env: Record<string, string>, dir = dataDir, uid?: number): Promise<Served> {
  if (served) await stop(served.child);
  const command = [
    process.execPath,
    "--import",
    "./scripts/node-hooks.mjs",
    "--import",
    "tsx",
    "test/server/tls/serve.ts",
  ];
  if (uid !== undefined)
    command.unshift("setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups");
  const child = lab.spawn("server", command[0]!, command.slice(1), {
    cwd: process.cwd(),
    env: {
      NODE_ENV: "production",
      PATH: process.env.PATH,
      HOME: uid === undefined ? process.env.HOME : dir,
      DATA_DIR: dir,
      PUBLIC_URL: `https://${NAME}`,
      ACME_DIRECTORY_URL: pebble.directoryUrl,
      ...(uid === undefined && { NODE_EXTRA_CA_CERTS: pebble.listenerCa }),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += String(d)));
  child.stderr!.on("data", (d: Buffer) => (log += String(d)));
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (log.includes("listening")) {
        clearInterval(poll);
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`serve.ts exited (${child.exitCode}):\n${log}`));
      }
    }, 50);
  });
  served = { child, log: () => log };
  return served;
}

/** A TLS connection to parley.test that verifies the certificate against pebble's root. */
function open(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: "127.0.0.1", port: https, servername: NAME, ca: pebble.root },
      () => resolve(socket),
    );
    socket.once("error", reject);
  });
}

const get = (socket: TLSSocket, url: string) => getOnSocket(socket, url, NAME);

/** The status over a fresh, verified connection; null while none verifies. */
async function status(): Promise<(TlsStatus & { serial: string }) | null> {
  const socket = await open().catch(() => null);
  if (!socket) return null;
  try {
    const response = await get(socket, "/status");
    const body = JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4)) as TlsStatus;
    return { ...body, serial: socket.getPeerCertificate().serialNumber };
  } finally {
    socket.destroy();
  }
}

async function served200(): Promise<TlsStatus & { serial: string }> {
  let last: Awaited<ReturnType<typeof status>> = null;
  await expect
    .poll(async () => (last = await status()), { timeout: 30_000, interval: 250 })
    .not.toBeNull();
  return last!;
}

beforeAll(async () => {
  if (!labAvailable() || !pebbleAvailable())
    throw new Error("these tests need root, nftables and pebble (.ci/run installs them)");
  lab = await Lab.create([{ name: "server" }, { name: "ca" }]);
  lab.setNames({ [NAME]: "server", "acme.test": "ca" });
  // A minute's validity: renewal (by default a third of it before expiry) comes quickly.
  pebble = await startPebble(lab, "ca", "acme.test", VALIDITY_S);
  https = await lab.forward("server", 443);
  http = await lab.forward("server", 80);
  dataDir = path.join(lab.dir, "data");
}, 60_000);

afterEach((context) => {
  if (context.task.result?.state === "fail" && served) console.info(served.log());
});

afterAll(async () => {
  if (served) await stop(served.child);
  await lab?.destroy();
});

describe("HTTPS on a lab host, certificates from pebble", () => {
  let first: TlsStatus & { serial: string };

  it("obtains a certificate over HTTP-01 at first start, keeps it 0600, serves it with HSTS", async () => {
    const started = Date.now();
    const server = await serve({ ACME_CHALLENGES: "http-01" });
    first = await served200();
    console.info(JSON.stringify({ "acme-first-issuance-ms": Date.now() - started }));
    expect(first.mode).toBe("acme");
    expect(first.certificate!.names).toEqual([NAME]);
    expect(first.error).toBeNull();
    // By default a third of the lifetime before expiry.
    const { notAfter, renewsAt } = first.certificate!;
    const before = Date.parse(notAfter) - Date.parse(renewsAt!);
    expect(Math.abs(before - (VALIDITY_S / 3) * 1000)).toBeLessThanOrEqual(1000);
    expect(server.log()).toContain('answering a challenge {"type":"http-01"');

    const acme = path.join(dataDir, "tls", "acme");
    const files = [
      ...readdirSync(path.join(acme, "accounts")).map((f) => path.join(acme, "accounts", f)),
      path.join(acme, NAME, "cert.pem"),
      path.join(acme, NAME, "key.pem"),
      path.join(acme, NAME, "directory.txt"),
    ];
    expect(files).toHaveLength(4);
    for (const file of files) expect(statSync(file).mode & 0o777).toBe(0o600);

    const socket = await open();
    expect(await get(socket, "/")).toMatch(/strict-transport-security: max-age=31536000/i);
    socket.destroy();
  });

  it("redirects plain HTTP to the HTTPS origin", async () => {
    const response = await new Promise<{ status: number; location?: string }>((resolve, reject) =>
      httpRequest(
        { host: "127.0.0.1", port: http, path: "/r/room?x=1", headers: { host: "evil.test" } },
        (res) => resolve({ status: res.statusCode!, location: res.headers.location }),
      )
        .on("error", reject)
        .end(),
    );
    expect(response).toEqual({ status: 301, location: `https://${NAME}/r/room?x=1` });
  });

  it("a restart serves the stored certificate and asks the CA for nothing", async () => {
    const server = await serve({ ACME_CHALLENGES: "http-01" });
    const again = await served200();
    expect(again.serial).toBe(first.serial);
    expect(server.log()).toContain("serving the stored certificate");
    expect(server.log()).not.toContain("obtaining a certificate");
    expect(server.log()).not.toContain("renewing");
  });

  it("renews before expiry without a restart; a connection open before keeps working", async () => {
    // Due 6 s from now.
    const left = Math.floor((Date.parse(first.certificate!.notAfter) - Date.now()) / 1000);
    await serve({ ACME_CHALLENGES: "http-01", ACME_RENEW_BEFORE: `${left - 6}s` });
    const socket = await open();
    expect(await get(socket, "/before")).toContain("hello /before");
    expect(socket.getPeerCertificate().serialNumber).toBe(first.serial);

    let renewed: Awaited<ReturnType<typeof status>> = null;
    await expect
      .poll(
        async () => {
          // Busy, so that the server's keep-alive timeout does not close it.
          expect(await get(socket, "/meanwhile")).toContain("hello /meanwhile");
          return (renewed = await status())?.serial;
        },
        { timeout: 20_000, interval: 500 },
      )
      .not.toBe(first.serial);
    expect(renewed!.error).toBeNull();
    expect(Date.parse(renewed!.certificate!.notAfter)).toBeGreaterThan(
      Date.parse(first.certificate!.notAfter),
    );
    expect(served!.log()).toContain("renewing the certificate");
    // The same connection, on the certificate it started with, still serves requests.
    expect(await get(socket, "/after")).toContain("hello /after");
    expect(socket.getPeerCertificate().serialNumber).toBe(first.serial);
    socket.destroy();
    // Its setting would renew again in 6 s: stop it.
    await stop(served!.child);
    served = null;
  });

  it("a refused challenge leaves the certificate served, says why and retries later", async () => {
    // Pebble validates on port 80, where nothing listens now: it is refused.
    const server = await serve({
      ACME_CHALLENGES: "http-01",
      HTTP_PORT: "8080",
      // More than the lifetime: renewal is due as early as allowed (after a tenth of it).
      ACME_RENEW_BEFORE: "1d",
    });
    const before = await served200();
    let failed: Awaited<ReturnType<typeof status>> = null;
    await expect
      .poll(async () => (failed = await status())?.error, { timeout: 30_000, interval: 500 })
      .toBeTruthy();
    expect(failed!.serial).toBe(before.serial);
    expect(failed!.error).toMatch(/connection refused/i);
    expect(Date.parse(failed!.nextAttemptAt!) - Date.now()).toBeGreaterThan(45_000);
    expect(server.log()).toMatch(/!!! could not renew the TLS certificate: .*refused/i);
    expect(server.log()).toContain('"retryInS":60');
  });

  it("a bad ACME directory leaves the certificate served and says why", async () => {
    const server = await serve({
      ACME_DIRECTORY_URL: "https://acme.test:14000/no-such-directory",
    });
    const before = await served200();
    let failed: Awaited<ReturnType<typeof status>> = null;
    await expect
      .poll(async () => (failed = await status())?.error, { timeout: 30_000, interval: 500 })
      .toBeTruthy();
    expect(failed!.serial).toBe(before.serial);
    expect(failed!.error).toMatch(/404/);
    expect(server.log()).toContain("!!! could not renew the TLS certificate");
  });

  it("without root: refused ports 80 and 443 say how; with ip_unprivileged_port_start=80 it serves", async () => {
    // A user with no capabilities, as a systemd service's User= or a container's would be.
    const nobody = 65534;
    const dir = mkdtempSync(path.join(tmpdir(), "parley-unprivileged-"));
    chownSync(dir, nobody, nobody);
    try {
      const env = { TLS_MODE: "self-signed" };
      const refused = await serve(env, dir, nobody).then(
        () => null,
        (err: Error) => err.message,
      );
      expect(refused).toMatch(
        /HTTPS_PORT: no permission to listen on port 443\. Ports below 1024 need CAP_NET_BIND_SERVICE or net\.ipv4\.ip_unprivileged_port_start/,
      );
      // Per network namespace: this host only (README.md "HTTPS", ports below 1024).
      await lab.run(lab.host("server").netns, "sysctl", [
        "-w",
        "net.ipv4.ip_unprivileged_port_start=80",
      ]);
      const server = await serve(env, dir, nobody);
      expect(readFileSync(`/proc/${server.child.pid}/status`, "utf8")).toMatch(/^Uid:\s+65534\s/m);
      const ca = readFileSync(path.join(dir, "tls", "self-signed", "ca", "cert.pem"), "utf8");
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = connect({ host: "127.0.0.1", port: https, servername: NAME, ca }, () =>
          resolve(s),
        );
        s.once("error", reject);
      });
      expect(socket.authorized).toBe(true);
      expect(await get(socket, "/")).toContain("hello /");
      socket.destroy();
      await stop(server.child);
      served = null;
    } finally {
      await lab.run(lab.host("server").netns, "sysctl", [
        "-w",
        "net.ipv4.ip_unprivileged_port_start=1024",
      ]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("obtains a certificate over TLS-ALPN-01, with no HTTP listener at all", async () => {
    const server = await serve(
      { ACME_CHALLENGES: "tls-alpn-01", HTTP_PORT: "off" },
      path.join(lab.dir, "data-alpn"),
    );
    const issued = await served200();
    expect(issued.error).toBeNull();
    expect(issued.certificate!.names).toEqual([NAME]);
    expect(server.log()).toContain('answering a challenge {"type":"tls-alpn-01"');
  });
});
