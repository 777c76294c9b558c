import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/**
 * A self-signed P-256 certificate valid for two days, made with the system's openssl, as
 * `<dir>/<base>.pem` and `<dir>/<base>.key`. `altNames` is the subjectAltName value
 * (`DNS:localhost,IP:127.0.0.1`). `ca` marks it as its own CA: what a browser or Node needs
 * to trust it directly as a root (NSS refuses a non-CA certificate as a trust anchor).
 */
export async function selfSignedCertificate(options: {
  dir: string;
  base: string;
  commonName: string;
  altNames: string;
  ca?: boolean;
}): Promise<{ cert: string; key: string }> {
  const cert = path.join(options.dir, `${options.base}.pem`);
  const key = path.join(options.dir, `${options.base}.key`);
  await exec("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${options.commonName}`,
    "-addext",
    `subjectAltName=${options.altNames}`,
    ...(options.ca ? ["-addext", "basicConstraints=critical,CA:TRUE"] : []),
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  return { cert, key };
}
