import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type PeerCertificate, type TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { tlsPlan } from "@/lib/server/tls/config";
import { CA_PATH, createWeb, type Web } from "@/lib/server/tls/web";
import { selfSignedCertificate } from "../../support/certificates";
import { getOnSocket } from "../../support/raw-http";

/**
 * The HTTPS listeners without the app (lib/server/tls/web.ts): self-signed and
 * bring-your-own certificates, the HTTP redirect, HSTS, reloads and what is kept on disk.
 * ACME against a real CA is test/server/tls/acme.test.ts.
 */

const exec = promisify(execFile);
const dirs: string[] = [];
const webs: Web[] = [];

afterEach(async () => {
  for (const web of webs.splice(0)) await web.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "parley-tls-"));
  dirs.push(dir);
  return dir;
}

async function start(env: Record<string, string>, dataDir: string): Promise<Web> {
  const plan = tlsPlan(parseEnv({ HTTPS_PORT: "0", HTTP_PORT: "0", ...env }));
  const web = await createWeb(plan, {
    dataDir,
    handler: (req, res) => res.end(`hello ${req.url}`),
  });
  webs.push(web);
  await web.listen("127.0.0.1");
  return web;
}

const portOf = (web: Web) => web.ports().main;
const httpPortOf = (web: Web) => web.ports().redirect!;

/** A TLS connection that verifies the server against `ca` as a browser would. */
async function open(port: number, ca: string, servername = "localhost"): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername, ca }, () => resolve(socket));
    socket.once("error", reject);
  });
}

const get = (socket: TLSSocket, url: string) => getOnSocket(socket, url, "localhost");

function peer(socket: TLSSocket): PeerCertificate {
  return socket.getPeerCertificate();
}

async function plainGet(port: number, url: string, host = "parley.lan") {
  return new Promise<{ status: number; location?: string; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path: url, headers: { host } }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += String(c)));
      res.on("end", () =>
        resolve({ status: res.statusCode!, location: res.headers.location, body }),
      );
    });
    req.on("error", reject).end();
  });
}

function opensslPair(dir: string, name: string, commonName: string) {
  return selfSignedCertificate({
    dir,
    base: name,
    commonName,
    altNames: "DNS:localhost",
    ca: true,
  });
}

describe("self-signed", () => {
  it("makes a CA and a certificate once, serves it trusted by the CA, keeps both 0600", async () => {
    const dataDir = tempDir();
    const web = await start({ TLS_MODE: "self-signed", TLS_NAMES: "parley.lan" }, dataDir);
    const status = web.status();
    expect(status.mode).toBe("self-signed");
    expect(status.certificate!.names).toEqual(
      expect.arrayContaining(["localhost", "127.0.0.1", "parley.lan"]),
    );
    const dir = path.join(dataDir, "tls", "self-signed");
    for (const file of ["ca/cert.pem", "ca/key.pem", "server/cert.pem", "server/key.pem"])
      expect(statSync(path.join(dir, file)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);

    const ca = readFileSync(path.join(dir, "ca", "cert.pem"), "utf8");
    const socket = await open(portOf(web), ca);
    expect(socket.authorized).toBe(true);
    const response = await get(socket, "/x");
    expect(response).toContain("hello /x");
    // A certificate nobody trusts must stay skippable: no HSTS.
    expect(response.toLowerCase()).not.toContain("strict-transport-security");
    socket.destroy();
    const serial = status.certificate!.serialNumber;
    await web.close();
    webs.pop();

    // A restart serves the same certificate.
    const again = await start({ TLS_MODE: "self-signed", TLS_NAMES: "parley.lan" }, dataDir);
    expect(again.status().certificate!.serialNumber).toBe(serial);
    // A new name gets a new certificate from the same CA.
    const renamed = await start({ TLS_MODE: "self-signed", TLS_NAMES: "other.lan" }, dataDir);
    expect(renamed.status().certificate!.serialNumber).not.toBe(serial);
    const trusted = await open(portOf(renamed), ca, "other.lan");
    expect(trusted.authorized).toBe(true);
    trusted.destroy();
    expect(readFileSync(path.join(dir, "ca", "cert.pem"), "utf8")).toBe(ca);
  });

  it("the CA is name-constrained to the LAN: it cannot vouch for a public site", async () => {
    const dataDir = tempDir();
    await start({ TLS_MODE: "self-signed" }, dataDir);
    const dir = path.join(dataDir, "tls", "self-signed");
    const caCert = path.join(dir, "ca", "cert.pem");
    const text = (await exec("openssl", ["x509", "-in", caCert, "-noout", "-text"])).stdout;
    expect(text).toMatch(/X509v3 Name Constraints: critical/);
    expect(text).toMatch(/DNS:local\b[\s\S]*IP:192\.168\.0\.0\/255\.255\.0\.0/);
    // Whoever steals the CA's key signs a certificate for a public name: nobody accepts it.
    const work = tempDir();
    const evil = path.join(work, "evil.pem");
    await exec("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", path.join(work, "evil.key"), "-out", evil, "-days", "1",
      "-subj", "/CN=bank.example.com", "-addext", "subjectAltName=DNS:bank.example.com",
      "-CA", caCert, "-CAkey", path.join(dir, "ca", "key.pem"),
    ]); // prettier-ignore
    const verify = await exec("openssl", ["verify", "-CAfile", caCert, evil]).catch(
      (err: { stderr: string }) => err.stderr,
    );
    expect(verify).toMatch(/permitted subtree violation/);
    // While a name outside the LAN's that the machine is given gets a new, wider CA.
    const before = readFileSync(caCert, "utf8");
    const widened = await start(
      { TLS_MODE: "self-signed", TLS_NAMES: "chat.example.com" },
      dataDir,
    );
    const after = readFileSync(caCert, "utf8");
    expect(after).not.toBe(before);
    const socket = await open(portOf(widened), after, "chat.example.com");
    expect(socket.authorized).toBe(true);
    socket.destroy();
  });

  it("redirects HTTP to HTTPS on the host asked for, and hands out the CA", async () => {
    const web = await start({ TLS_MODE: "self-signed" }, tempDir());
    const http = httpPortOf(web);
    const redirect = await plainGet(http, "/r/abc?x=1", "parley.lan:8080");
    expect(redirect.status).toBe(301);
    expect(redirect.location).toBe(`https://parley.lan:${portOf(web)}/r/abc?x=1`);
    const ca = await plainGet(http, CA_PATH);
    expect(ca.status).toBe(200);
    expect(ca.body).toContain("BEGIN CERTIFICATE");
  });
});

describe("TLS_CERT_FILE and TLS_KEY_FILE", () => {
  it("serves them with HSTS and reloads them when they change, open connections kept", async () => {
    const dir = tempDir();
    const first = await opensslPair(dir, "first", "First");
    const cert = path.join(dir, "cert.pem");
    const key = path.join(dir, "key.pem");
    renameSync(first.cert, cert);
    renameSync(first.key, key);
    const firstPem = readFileSync(cert, "utf8");
    const web = await start({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key }, tempDir());
    expect(web.status().mode).toBe("files");
    const before = await open(portOf(web), firstPem);
    expect(peer(before).subject.CN).toBe("First");
    expect(await get(before, "/")).toMatch(/strict-transport-security: max-age=31536000/i);

    // Replaced as certbot and most tools do: new files renamed over the old ones.
    const second = await opensslPair(dir, "second", "Second");
    const secondPem = readFileSync(second.cert, "utf8");
    renameSync(second.key, key);
    renameSync(second.cert, cert);
    await expect
      .poll(
        async () => {
          const s = await open(portOf(web), secondPem).catch(() => null);
          const cn = s ? peer(s).subject.CN : null;
          s?.destroy();
          return cn;
        },
        { timeout: 10_000 },
      )
      .toBe("Second");
    expect(web.status().certificate!.names).toEqual(["localhost"]);
    // The connection opened before the change still works, on the old certificate.
    expect(await get(before, "/still")).toContain("hello /still");
    expect(peer(before).subject.CN).toBe("First");
    before.destroy();

    // A key that does not match is not served; the working pair stays.
    const other = await opensslPair(dir, "other", "Other");
    writeFileSync(key, readFileSync(other.key));
    await expect.poll(() => web.status().error, { timeout: 10_000 }).toMatch(/TLS_CERT_FILE/);
    const still = await open(portOf(web), secondPem);
    expect(peer(still).subject.CN).toBe("Second");
    still.destroy();
  });

  it("refuses to start on a key that does not match, saying so", async () => {
    const dir = tempDir();
    const a = await opensslPair(dir, "a", "A");
    const b = await opensslPair(dir, "b", "B");
    await expect(start({ TLS_CERT_FILE: a.cert, TLS_KEY_FILE: b.key }, tempDir())).rejects.toThrow(
      /TLS_CERT_FILE\/TLS_KEY_FILE: the private key does not match the certificate/,
    );
  });
});

describe("ports", () => {
  it("a port in use says what to do behind a proxy", async () => {
    const holder = await start({ TLS_MODE: "self-signed" }, tempDir());
    const taken = holder.ports().main;
    await expect(
      start({ TLS_MODE: "self-signed", HTTPS_PORT: String(taken) }, tempDir()),
    ).rejects.toThrow(/HTTPS_PORT: port \d+ is in use\. If a reverse proxy .*TRUSTED_PROXIES/);
  });
});
