import "server-only";
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../data-dir";

/**
 * Certificates and keys on disk, under DATA_DIR/tls: directories 0700, files 0600, each
 * written whole to a temporary name and renamed, so a crash mid-write never leaves half a
 * key where the next start would read it.
 */

/** A certificate chain (leaf first) and its private key, both PEM. */
export interface CertPair {
  cert: string;
  key: string;
}

/** What /api/health and the renewal schedule need to know of a certificate. */
export interface CertInfo {
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
  fingerprint256: string;
  issuer: string;
  /** Its subject alternative names (DNS names and IP addresses). */
  names: string[];
}

/** Reads the leaf (first) certificate of a PEM chain. Throws if there is none. */
export function certInfo(chain: string): CertInfo {
  const x509 = new X509Certificate(chain);
  return {
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    issuer: x509.issuer.replace(/\n/g, ", "),
    names: (x509.subjectAltName ?? "")
      .split(", ")
      .map((n) => canonicalName(n.replace(/^(?:DNS|IP Address):/, "")))
      .filter(Boolean),
  };
}

/** Lower case; IPv6 addresses compressed (X509Certificate writes them out in full). */
export function canonicalName(name: string): string {
  if (isIP(name) === 6) return new URL(`http://[${name}]`).hostname.slice(1, -1);
  return name.toLowerCase();
}

/** Checks that the key belongs to the chain's leaf; returns the leaf's details. */
export function checkPair(pair: CertPair): CertInfo {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pair.cert);
  } catch (err) {
    throw new Error(`not a PEM certificate: ${(err as Error).message}`);
  }
  let key;
  try {
    key = createPrivateKey(pair.key);
  } catch (err) {
    throw new Error(`not a PEM private key: ${(err as Error).message}`);
  }
  if (!x509.checkPrivateKey(key)) throw new Error("the private key does not match the certificate");
  return certInfo(pair.cert);
}

/** Whether the certificate covers every one of `names` (DNS names or IP addresses). */
export function covers(info: CertInfo, names: readonly string[]): boolean {
  return names.every((n) => info.names.includes(canonicalName(n)));
}

/** Writes a private file (0600) in a private directory (0700) atomically. */
export async function writePrivate(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temporary, content, { mode: PRIVATE_FILE_MODE, flag: "wx" });
  await rename(temporary, file);
}

/** The file's text, or null when it does not exist. */
export async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** A certificate and key kept as `<dir>/cert.pem` and `<dir>/key.pem`. */
export class PairStore {
  constructor(readonly dir: string) {}

  async read(): Promise<CertPair | null> {
    const [cert, key] = await Promise.all([
      readOptional(path.join(this.dir, "cert.pem")),
      readOptional(path.join(this.dir, "key.pem")),
    ]);
    return cert && key ? { cert, key } : null;
  }

  /** Key first: a crash between the two writes leaves a pair that fails `checkPair`. */
  async write(pair: CertPair): Promise<void> {
    await writePrivate(path.join(this.dir, "key.pem"), pair.key);
    await writePrivate(path.join(this.dir, "cert.pem"), pair.cert);
  }
}
