import "server-only";
import { BlockList, isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import path from "node:path";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  GeneralName,
  GeneralSubtree,
  GeneralSubtrees,
  id_ce_nameConstraints,
  NameConstraints,
} from "@peculiar/asn1-x509";
import * as x509 from "@peculiar/x509";
import { logger } from "../log";
import {
  type CertInfo,
  type CertPair,
  canonicalName,
  checkPair,
  covers,
  PairStore,
  readOptional,
  writePrivate,
} from "./store";

/**
 * HTTPS on a LAN without a domain (TLS_MODE=self-signed): Parley makes a small certificate
 * authority of its own once (DATA_DIR/tls/self-signed/ca), which a person trusts once on
 * each device (README.md "HTTPS"), and from it a server certificate for this machine's
 * names and addresses. The CA outlives the server certificate: when the machine gets a
 * new address, or the certificate nears its end, a new one is signed at the next start and
 * devices that trust the CA trust it too.
 *
 * A CA a device trusts could vouch for any site, so this one is name-constrained (RFC 5280
 * §4.2.1.10, enforced by Chrome, Firefox and Safari) to LAN names and addresses: the
 * private ranges, `.local`, `.lan`, `.home.arpa`, `.internal`, `localhost`, and whatever
 * else the machine was called when the CA was made. A later name outside that scope gets
 * a new CA (logged: devices must trust it again).
 */

const log = logger("tls");

const CA_YEARS = 10;
/** Apple's limit for TLS server certificates, also for locally trusted ones. */
const LEAF_DAYS = 825;
const RENEW_WITHIN_DAYS = 30;
const DAY = 86_400_000;

const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

/** The names a LAN reaches this machine by: its host name, mDNS name, addresses, localhost. */
export function machineNames(extra: readonly string[] = []): string[] {
  const host = hostname().toLowerCase();
  const names = new Set<string>(["localhost", "127.0.0.1", "::1"]);
  if (host) {
    names.add(host);
    if (!host.includes(".")) names.add(`${host}.local`);
  }
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      // Link-local IPv6 addresses need a zone in a URL; nobody browses to them.
      if (!a.internal && !(a.family === "IPv6" && a.address.toLowerCase().startsWith("fe80")))
        names.add(a.address);
    }
  }
  for (const name of extra) names.add(name.toLowerCase());
  return [...names];
}

async function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]);
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0]!;
  return crypto.subtle.importKey("pkcs8", der, ECDSA, true, ["sign"]);
}

/** DNS suffixes and address ranges that only ever mean a local network. */
const LAN_DOMAINS = ["localhost", "local", "lan", "home.arpa", "internal"];
const LAN_RANGES = [
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "100.64.0.0/10",
  "::1/128",
  "fc00::/7",
  "fe80::/10",
];

/** What the CA may vouch for: a list of DNS subtrees and CIDRs. */
export interface Scope {
  dns: string[];
  ip: string[];
}

/** Whether every name falls in the scope (a DNS subtree matches itself and its subdomains). */
export function inScope(scope: Scope, names: readonly string[]): boolean {
  const ranges = new BlockList();
  for (const cidr of scope.ip) {
    const [address = "", prefix = ""] = cidr.split("/");
    ranges.addSubnet(address, Number(prefix), isIP(address) === 6 ? "ipv6" : "ipv4");
  }
  return names.every((name) => {
    const family = isIP(name);
    if (family) return ranges.check(name, family === 6 ? "ipv6" : "ipv4");
    const n = name.toLowerCase();
    return scope.dns.some((d) => n === d || n.endsWith(`.${d}`));
  });
}

/** The LAN scope, widened to cover `names` too. */
function scopeFor(names: readonly string[]): Scope {
  const scope: Scope = { dns: [...LAN_DOMAINS], ip: [...LAN_RANGES] };
  for (const name of names) {
    if (inScope(scope, [name])) continue;
    const family = isIP(name);
    if (family) scope.ip.push(`${canonicalName(name)}/${family === 6 ? 128 : 32}`);
    else scope.dns.push(name.toLowerCase());
  }
  return scope;
}

function nameConstraints(scope: Scope): x509.Extension {
  const subtrees = new GeneralSubtrees([
    ...scope.dns.map((d) => new GeneralSubtree({ base: new GeneralName({ dNSName: d }) })),
    ...scope.ip.map((c) => new GeneralSubtree({ base: new GeneralName({ iPAddress: c }) })),
  ]);
  const value = AsnConvert.serialize(new NameConstraints({ permittedSubtrees: subtrees }));
  return new x509.Extension(id_ce_nameConstraints, true, value);
}

async function newAuthority(scope: Scope): Promise<CertPair> {
  const keys = await newKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=Parley local CA (${hostname()}), O=Parley`,
    keys,
    signingAlgorithm: SIGNING,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + CA_YEARS * 365 * DAY),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      nameConstraints(scope),
    ],
  });
  return { cert: cert.toString("pem"), key: await keyPem(keys.privateKey) };
}

async function newServerCertificate(ca: CertPair, names: string[]): Promise<CertPair> {
  const keys = await newKeys();
  const authority = new x509.X509Certificate(ca.cert);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${names.find((n) => !isIP(n)) ?? names[0]}`,
    issuer: authority.subject,
    publicKey: keys.publicKey,
    signingKey: await importKey(ca.key),
    signingAlgorithm: SIGNING,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + LEAF_DAYS * DAY),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => ({ type: isIP(n) ? ("ip" as const) : ("dns" as const), value: n })),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(authority.publicKey),
    ],
  });
  // The chain a browser needs: the server certificate, then the CA it trusts.
  return { cert: cert.toString("pem") + "\n" + ca.cert, key: await keyPem(keys.privateKey) };
}

export interface SelfSigned {
  pair: CertPair;
  info: CertInfo;
  /** The CA's certificate (PEM): what a device trusts. */
  caCert: string;
}

/**
 * The CA and a server certificate for `names`, made only when missing, expiring within
 * 30 days, or not covering every name.
 */
export async function selfSigned(tlsDir: string, names: string[]): Promise<SelfSigned> {
  const caStore = new PairStore(path.join(tlsDir, "self-signed", "ca"));
  const leafStore = new PairStore(path.join(tlsDir, "self-signed", "server"));
  const scopeFile = path.join(caStore.dir, "scope.json");
  let ca = await caStore.read();
  if (ca && !usable(ca, 365)) ca = null;
  if (ca) {
    const stored = await readOptional(scopeFile);
    // A CA made before scopes were recorded is unconstrained: it covers every name.
    if (stored && !inScope(JSON.parse(stored) as Scope, names)) {
      log.warn("this machine has names the local CA cannot vouch for: making a new one", {
        names,
      });
      ca = null;
    }
  }
  let madeCa = false;
  if (!ca) {
    const scope = scopeFor(names);
    ca = await newAuthority(scope);
    await caStore.write(ca);
    await writePrivate(scopeFile, JSON.stringify(scope));
    madeCa = true;
    log.warn("made a new local certificate authority: devices must trust it once", {
      file: path.join(caStore.dir, "cert.pem"),
      scope,
    });
  }
  let leaf = madeCa ? null : await leafStore.read();
  if (leaf) {
    const info = usable(leaf, RENEW_WITHIN_DAYS);
    if (!info || !covers(info, names) || !leaf.cert.includes(ca.cert.trim())) leaf = null;
  }
  if (!leaf) {
    leaf = await newServerCertificate(ca, names);
    await leafStore.write(leaf);
    log.info("made a server certificate signed by the local CA", { names });
  }
  return { pair: leaf, info: checkPair(leaf), caCert: ca.cert };
}

/** The pair's details if it parses, matches and has more than `days` left; else null. */
function usable(pair: CertPair, days: number): CertInfo | null {
  try {
    const info = checkPair(pair);
    return info.notAfter.getTime() - Date.now() > days * DAY ? info : null;
  } catch {
    return null;
  }
}
