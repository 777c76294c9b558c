import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Lab } from "./netns";
import { selfSignedCertificate } from "./certificates";

/**
 * A real ACME CA for the HTTPS tests (issue 11): Debian's `pebble`, Let's Encrypt's test
 * server, on a lab host (test/support/netns.ts). It validates HTTP-01 on port 80 and
 * TLS-ALPN-01 on port 443 of the name asked for, as Let's Encrypt does, resolving names
 * through the lab's hosts files (`Lab.setNames`). Its own HTTPS listener gets a
 * certificate made here (Debian ships none), which the ACME client trusts through
 * NODE_EXTRA_CA_CERTS; the CA it issues from is new at every start, and `root` is what a
 * browser must trust for the certificates it issues.
 */

export const PEBBLE_PORT = 14000;
export const PEBBLE_MANAGEMENT_PORT = 15000;

export interface Pebble {
  /** https://<name>:14000/dir */
  directoryUrl: string;
  /** The PEM file of pebble's own HTTPS certificate (for NODE_EXTRA_CA_CERTS). */
  listenerCa: string;
  /** Pebble's root CA (PEM): trusting it trusts what pebble issues. */
  root: string;
  /** The same, as a file. */
  rootFile: string;
  log(): string;
}

/** Whether pebble and openssl are here; under CI=true their absence throws (fail, not skip). */
export function pebbleAvailable(): boolean {
  const missing = ["/usr/bin/pebble", "/usr/bin/openssl"].filter((f) => !existsSync(f));
  if (missing.length === 0) return true;
  if (process.env.CI === "true")
    throw new Error(`CI=true but the ACME tests need ${missing.join(", ")} (Debian: pebble)`);
  return false;
}

/**
 * Starts pebble on `host`, reachable as `name` (already in the lab's hosts files), issuing
 * certificates valid for `validityS` seconds.
 */
export async function startPebble(
  lab: Lab,
  host: string,
  name: string,
  validityS = 3600,
): Promise<Pebble> {
  const dir = path.join(lab.dir, "pebble");
  mkdirSync(dir, { recursive: true });
  const { cert, key } = await selfSignedCertificate({
    dir,
    base: "listener",
    commonName: "Parley test ACME server",
    altNames: `DNS:${name}`,
  });
  const config = path.join(dir, "pebble-config.json");
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `0.0.0.0:${PEBBLE_PORT}`,
        managementListenAddress: `0.0.0.0:${PEBBLE_MANAGEMENT_PORT}`,
        certificate: cert,
        privateKey: key,
        httpPort: 80,
        tlsPort: 443,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        certificateValidityPeriod: validityS,
      },
    }),
  );
  const child = lab.spawn(host, "/usr/bin/pebble", ["-config", config], {
    // No artificial validation delays, no spurious bad nonces: the tests time real work.
    // Every order is validated afresh (pebble otherwise reuses half of the valid
    // authorizations, so a refused challenge would sometimes not be asked for).
    env: {
      ...process.env,
      PEBBLE_VA_NOSLEEP: "1",
      PEBBLE_WFE_NONCEREJECT: "0",
      PEBBLE_AUTHZREUSE: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += String(d)));
  child.stderr!.on("data", (d: Buffer) => (log += String(d)));
  // The root is served by the management interface once pebble is up.
  const fetchRoot = `fetch(process.argv[1]).then(async (r) => {
      if (!r.ok) process.exit(1);
      process.stdout.write(await r.text());
    }, () => process.exit(1));`;
  let root = "";
  for (let tries = 0; ; tries++) {
    if (child.exitCode !== null) throw new Error(`pebble exited (${child.exitCode}):\n${log}`);
    root = await lab
      .run(lab.host(host).netns, "env", [
        `NODE_EXTRA_CA_CERTS=${cert}`,
        process.execPath,
        "-e",
        fetchRoot,
        `https://${name}:${PEBBLE_MANAGEMENT_PORT}/roots/0`,
      ])
      .catch(() => "");
    if (root.includes("BEGIN CERTIFICATE")) break;
    if (tries === 100) throw new Error(`pebble did not start within 10 s:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const rootFile = path.join(dir, "root.pem");
  writeFileSync(rootFile, root);
  return {
    directoryUrl: `https://${name}:${PEBBLE_PORT}/dir`,
    listenerCa: cert,
    root,
    rootFile,
    log: () => log,
  };
}
