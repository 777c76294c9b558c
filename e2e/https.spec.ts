import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, expect, type Page, test } from "@playwright/test";
import { chromiumArgs, chromiumPath } from "../scripts/chromium";
import { Lab, labAvailable, stop } from "../test/support/netns";
import { type Pebble, pebbleAvailable, startPebble } from "../test/support/pebble";
import { homeTrusting } from "../test/support/turn";
import { callRegion, expectMovingVideo, joinCall } from "./call-support";
import { browserOn } from "./lab-call";
import { expectConnected, guestIn, messages, newRoom, send } from "./support";
import { selfSignedCertificate } from "../test/support/certificates";

/**
 * HTTPS from the one command (issue 11), in a real Chromium that trusts certificates the
 * way a person's does: through the NSS database in its HOME (`certutil`), no flag.
 *
 * - The LAN's self-signed CA and a bring-your-own certificate, on this machine's loopback.
 * - Automatic certificates from a real ACME CA (Debian's pebble) in a network lab: Parley
 *   runs as `npm start` with only PUBLIC_URL and the CA's directory, on ports 80 and 443 of
 *   its lab host, reached by name (`parley.test`) from a phone on another host.
 * - The explanation an insecure origin gets: Parley on plain HTTP in the same lab, reached by
 *   name from the phone host (no resolver flag: names come from the lab's own hosts file).
 *
 * The unit-level checks (reloads, refused challenges, TLS-ALPN-01, file modes) are in
 * test/server/tls/.
 */

test.use({ trace: "off" });

interface Server {
  child: ChildProcess;
  log(): string;
}

/** Parley as `npm start` runs it, with `env`, on this machine or (`spawner`) a lab host. */
async function launch(
  env: Record<string, string>,
  spawner: (args: string[], env: NodeJS.ProcessEnv) => ChildProcess = (args, e) =>
    spawn(process.execPath, args, { env: e, stdio: ["ignore", "pipe", "pipe"] }),
): Promise<Server> {
  const child = spawner(["--import", "./scripts/node-hooks.mjs", "--import", "tsx", "server.ts"], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    LOG_LEVEL: "info",
    ...env,
  });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += String(d)));
  child.stderr!.on("data", (d: Buffer) => (log += String(d)));
  await expect
    .poll(
      () => {
        if (child.exitCode !== null) throw new Error(`Parley exited (${child.exitCode}):\n${log}`);
        return log.includes("Parley is listening on");
      },
      { timeout: 90_000, intervals: [250] },
    )
    .toBe(true);
  return { child, log: () => log };
}

/** The HTTPS port a local Parley chose (HTTPS_PORT=0), from its start-up line. */
function httpsPort(server: Server): number {
  return Number(/listening on https:\/\/localhost:(\d+)/.exec(server.log())![1]);
}

interface Health {
  ok: boolean;
  tls: {
    mode: string;
    certificate: { serialNumber: string; notAfter: string; issuer: string } | null;
    error: string | null;
  };
}

/** /api/health over a connection that verifies the certificate against `ca`. */
function health(port: number, ca: string): Promise<Health> {
  return new Promise((resolve, reject) => {
    request(
      { host: "127.0.0.1", port, path: "/api/health", servername: "localhost", ca },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += String(c)));
        res.on("end", () => resolve(JSON.parse(body) as Health));
      },
    )
      .on("error", reject)
      .end();
  });
}

/** Chromium (as it ships, plus the synthetic camera) whose HOME trusts `caFile`. */
async function browserTrusting(caFile: string, dir: string): Promise<Browser> {
  const home = await homeTrusting(path.join(dir, "home"), caFile);
  return chromium.launch({
    executablePath: chromiumPath,
    args: chromiumArgs,
    env: { ...process.env, HOME: home },
  });
}

/** Signs up as a guest in a new room over `origin`; checks the page is a secure context. */
async function roomOver(browser: Browser, origin: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: origin });
  const page = await context.newPage();
  const response = await page.goto("/signin");
  expect(response!.ok()).toBe(true);
  await page.getByLabel("Display name").fill("Ada");
  await page.getByRole("button", { name: "Continue as guest" }).click();
  await newRoom(page);
  expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
  await expect(callRegion(page).getByRole("button", { name: "Join call" })).toBeEnabled();
  return page;
}

test.describe("HTTPS on this machine", () => {
  const dirs: string[] = [];
  const servers: Server[] = [];
  const browsers: Browser[] = [];

  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status !== testInfo.expectedStatus)
      for (const s of servers) await testInfo.attach("server log", { body: s.log() });
    for (const b of browsers.splice(0)) await b.close();
    for (const s of servers.splice(0)) await stop(s.child);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "parley-e2e-https-"));
    dirs.push(dir);
    return dir;
  };

  test("self-signed: a browser that trusts the LAN CA opens Parley over HTTPS and joins a call", async () => {
    test.setTimeout(120_000);
    const dir = tempDir();
    const dataDir = path.join(dir, "data");
    const server = await launch({
      TLS_MODE: "self-signed",
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      HTTPS_PORT: "0",
      HTTP_PORT: "0",
      SFU_MEDIA_IP: "127.0.0.1",
    });
    servers.push(server);
    const port = httpsPort(server);
    const caFile = path.join(dataDir, "tls", "self-signed", "ca", "cert.pem");
    const status = await health(port, readFileSync(caFile, "utf8"));
    expect(status.tls.mode).toBe("self-signed");
    expect(status.tls.certificate!.issuer).toContain("Parley local CA");
    const browser = await browserTrusting(caFile, dir);
    browsers.push(browser);
    // By name and by address: both are in the certificate.
    for (const origin of [`https://localhost:${port}`, `https://127.0.0.1:${port}`]) {
      const page = await roomOver(browser, origin);
      await joinCall(page);
      await expect(callRegion(page).getByRole("group", { name: "You" })).toBeVisible();
      await page.context().close();
    }
  });

  test("TLS_CERT_FILE: Parley serves your certificate to a browser that trusts it", async () => {
    test.setTimeout(120_000);
    const dir = tempDir();
    const { cert, key } = await selfSignedCertificate({
      dir,
      base: "fullchain",
      commonName: "Parley e2e own certificate",
      altNames: "DNS:localhost,IP:127.0.0.1",
      ca: true,
    });
    const server = await launch({
      TLS_CERT_FILE: cert,
      TLS_KEY_FILE: key,
      DATA_DIR: path.join(dir, "data"),
      HOST: "127.0.0.1",
      HTTPS_PORT: "0",
      HTTP_PORT: "0",
      SFU_MEDIA_IP: "127.0.0.1",
    });
    servers.push(server);
    const port = httpsPort(server);
    const status = await health(port, readFileSync(cert, "utf8"));
    expect(status.tls).toMatchObject({ mode: "files", error: null });
    const browser = await browserTrusting(cert, dir);
    browsers.push(browser);
    const page = await roomOver(browser, `https://localhost:${port}`);
    const response = await page.goto(page.url());
    expect((await response!.securityDetails())!.subjectName).toBe("Parley e2e own certificate");
    expect(response!.headers()["strict-transport-security"]).toBe("max-age=31536000");
  });
});

test.describe("automatic certificates from an ACME CA", () => {
  const NAME = "parley.test";
  let lab: Lab;
  let pebble: Pebble;
  let browser: Browser;
  let parley: Server | null = null;
  let dataDir: string;

  /** npm start on the lab's server host with PUBLIC_URL and the CA; ports 80 and 443. */
  async function start(env: Record<string, string> = {}): Promise<Server> {
    if (parley) await stop(parley.child);
    parley = await launch(
      {
        PUBLIC_URL: `https://${NAME}`,
        ACME_DIRECTORY_URL: pebble.directoryUrl,
        NODE_EXTRA_CA_CERTS: pebble.listenerCa,
        DATA_DIR: dataDir,
        ...env,
      },
      (args, e) =>
        lab.spawn("server", process.execPath, args, {
          cwd: process.cwd(),
          env: e,
          stdio: ["ignore", "pipe", "pipe"],
        }),
    );
    return parley;
  }

  /** /api/health as the phone sees it (over HTTPS, trusting pebble's root); null if it cannot. */
  async function phoneHealth(): Promise<Health | null> {
    const script = `fetch(process.argv[1]).then(async (r) => process.stdout.write(await r.text()), () => process.exit(1));`;
    const out = await lab
      .run(lab.host("phone").netns, "env", [
        `NODE_EXTRA_CA_CERTS=${pebble.rootFile}`,
        process.execPath,
        "-e",
        script,
        `https://${NAME}/api/health`,
      ])
      .catch(() => "");
    return out ? (JSON.parse(out) as Health) : null;
  }

  async function healthy(): Promise<Health> {
    let last: Health | null = null;
    await expect
      .poll(async () => (last = await phoneHealth())?.ok, { timeout: 60_000, intervals: [500] })
      .toBe(true);
    return last!;
  }

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    if (!labAvailable() || !pebbleAvailable())
      throw new Error("these tests need root, nftables and pebble (.ci/run installs them)");
    lab = await Lab.create([{ name: "server" }, { name: "ca" }, { name: "phone" }]);
    lab.setNames({ [NAME]: "server", "acme.test": "ca" });
    // Five minutes' validity: the renewal test moves renewal to a minute from its restart.
    pebble = await startPebble(lab, "ca", "acme.test", 300);
    dataDir = path.join(lab.dir, "parley-data");
    mkdirSync(dataDir, { recursive: true });
    const home = await homeTrusting(path.join(lab.dir, "phone-home"), pebble.rootFile);
    browser = await browserOn(lab, "phone", home);
  });

  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status !== testInfo.expectedStatus && parley)
      await testInfo.attach("server log", { body: parley.log() });
  });

  test.afterAll(async () => {
    await browser?.close();
    if (parley) await stop(parley.child);
    await lab?.destroy();
  });

  let first: Health;
  let room: string;

  test("first start obtains a certificate; a phone opens Parley over HTTPS and holds a call", async () => {
    test.setTimeout(150_000);
    const started = Date.now();
    await start();
    first = await healthy();
    console.info(
      JSON.stringify({ "https-e2e-first-certificate-s": (Date.now() - started) / 1000 }),
    );
    expect(first.tls.mode).toBe("acme");
    expect(first.tls.certificate!.issuer).toMatch(/Pebble/i);

    const ada = await roomOver(browser, `https://${NAME}`);
    room = new URL(ada.url()).pathname;
    const response = await ada.goto(room);
    expect((await response!.securityDetails())!.issuer).toMatch(/Pebble/i);
    expect(response!.headers()["strict-transport-security"]).toBe("max-age=31536000");
    await expectConnected(ada);
    const bob = await guestIn(
      await browser.newContext({ baseURL: `https://${NAME}` }),
      room,
      "Bob",
    );
    await joinCall(ada);
    await joinCall(bob);
    await Promise.all([expectMovingVideo(ada, "Bob"), expectMovingVideo(bob, "Ada")]);
    await ada.context().close();
    await bob.context().close();
  });

  test("plain HTTP redirects to HTTPS", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const response = await page.goto(`http://${NAME}/signin?x=1`);
    expect(response!.url()).toBe(`https://${NAME}/signin?x=1`);
    expect(response!.request().redirectedFrom()!.url()).toBe(`http://${NAME}/signin?x=1`);
    await context.close();
  });

  test("a restart reuses the certificate, which is renewed while a chat socket stays connected", async () => {
    test.setTimeout(150_000);
    // Renewal due 40 s after this restart begins: time to start, check and open the room.
    const left = (Date.parse(first.tls.certificate!.notAfter) - Date.now()) / 1000;
    const server = await start({ ACME_RENEW_BEFORE: `${Math.floor(left - 40)}s` });
    const again = await healthy();
    expect(again.tls.certificate!.serialNumber).toBe(first.tls.certificate!.serialNumber);
    expect(server.log()).toContain("serving the stored certificate");
    expect(server.log()).not.toContain("obtaining a certificate");

    const context = await browser.newContext({ baseURL: `https://${NAME}` });
    const sockets: { url: string; closed: boolean }[] = [];
    const page = await context.newPage();
    page.on("websocket", (ws) => {
      const entry = { url: ws.url(), closed: false };
      sockets.push(entry);
      ws.on("close", () => (entry.closed = true));
    });
    await page.goto("/signin");
    await page.getByLabel("Display name").fill("Cy");
    await page.getByRole("button", { name: "Continue as guest" }).click();
    await page.waitForURL((url) => url.pathname === "/");
    await page.goto(room);
    await expectConnected(page);
    await send(page, "before the renewal");
    await expect(messages(page).last()).toContainText("before the renewal");
    const open = () => sockets.filter((s) => s.url.includes("/socket.io/") && !s.closed);
    const chat = open();
    expect(chat.length).toBeGreaterThan(0);
    const made = sockets.length;

    let renewed: Health | null = null;
    await expect
      .poll(async () => (renewed = await phoneHealth())?.tls.certificate?.serialNumber, {
        timeout: 90_000,
        intervals: [1_000],
      })
      .not.toBe(first.tls.certificate!.serialNumber);
    expect(renewed!.tls.error).toBeNull();
    expect(server.log()).toContain("certificate obtained and now served");

    // The socket opened before the renewal is the one still carrying the chat.
    await send(page, "after the renewal");
    await expect(messages(page).last()).toContainText("after the renewal");
    await expect(messages(page).last()).not.toContainText("Not sent");
    expect(sockets).toHaveLength(made);
    for (const socket of chat) expect(socket.closed).toBe(false);
    // A new visitor gets the new certificate.
    const fresh = await browser.newContext();
    const response = await (await fresh.newPage()).goto(`https://${NAME}/signin`);
    expect((await response!.securityDetails())!.validTo).toBe(
      Date.parse(renewed!.tls.certificate!.notAfter) / 1000,
    );
    await fresh.close();
    await context.close();
  });

  test("a bad ACME directory leaves the app serving what it had and says why", async () => {
    test.setTimeout(120_000);
    const server = await start({ ACME_DIRECTORY_URL: "https://acme.test:14000/no-such-directory" });
    let failed: Health | null = null;
    await expect
      .poll(
        async () => {
          failed = await phoneHealth();
          // Once the app is up (the SFU child takes a moment), with the reason.
          return failed?.ok ? failed.tls.error : undefined;
        },
        { timeout: 60_000 },
      )
      .toMatch(/404/);
    expect(failed!.ok).toBe(true);
    expect(failed!.tls.certificate).not.toBeNull();
    expect(server.log()).toContain("!!! could not renew the TLS certificate");
    const context = await browser.newContext();
    const response = await (await context.newPage()).goto(`https://${NAME}/signin`);
    expect(response!.ok()).toBe(true);
    await context.close();
  });

  test("an insecure origin: the room page says calls need HTTPS and links to the setup", async () => {
    test.setTimeout(120_000);
    // Parley on plain HTTP, reached by its name from another host: not a secure context.
    if (parley) await stop(parley.child);
    parley = await launch(
      { PORT: "3000", DATA_DIR: path.join(lab.dir, "plain-http-data") },
      (args, e) =>
        lab.spawn("server", process.execPath, args, {
          cwd: process.cwd(),
          env: e,
          stdio: ["ignore", "pipe", "pipe"],
        }),
    );
    const context = await browser.newContext({ baseURL: `http://${NAME}:3000` });
    const page = await context.newPage();
    await page.goto("/signin");
    await page.getByLabel("Display name").fill("Lan");
    await page.getByRole("button", { name: "Continue as guest" }).click();
    await newRoom(page);
    expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
    const call = callRegion(page);
    const notice = call.getByRole("alert");
    await expect(notice).toContainText("not on HTTPS");
    await expect(notice).toContainText(/calls .*notifications and passkeys/);
    const join = call.getByRole("button", { name: "Join call" });
    await expect(join).toBeDisabled();
    await expect(join).toHaveAccessibleDescription(/not on HTTPS/);
    // Chat still works on the insecure origin.
    await send(page, "still chatting");
    await expect(messages(page).last()).toContainText("still chatting");
    await notice.getByRole("link", { name: "how to set up HTTPS" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Setting up HTTPS" })).toBeVisible();
    await expect(page.getByText("PUBLIC_URL=https://chat.example.org npm start")).toBeVisible();
    await context.close();
  });
});
