import { describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { LETS_ENCRYPT, tlsPlan } from "@/lib/server/tls/config";

/** The plan for these settings, checked as part of the whole configuration (lib/env.ts). */
const plan = (env: Record<string, string> = {}) => tlsPlan(parseEnv({ PORT: "3000", ...env }));

describe("TLS settings", () => {
  it("keeps plain HTTP on PORT when nothing asks for HTTPS", () => {
    expect(plan()).toEqual({ mode: "off", port: 3000 });
    expect(plan({ PUBLIC_URL: "http://parley.lan:3000" })).toEqual({
      mode: "off",
      port: 3000,
    });
  });

  it("PUBLIC_URL=https://… alone means ACME from Let's Encrypt on 443, redirecting 80", () => {
    expect(plan({ PUBLIC_URL: "https://chat.example.org" })).toEqual({
      mode: "acme",
      names: ["chat.example.org"],
      directoryUrl: LETS_ENCRYPT,
      email: undefined,
      challenges: ["http-01", "tls-alpn-01"],
      renewBeforeS: undefined,
      httpsPort: 443,
      httpPort: 80,
      publicOrigin: "https://chat.example.org",
      hstsMaxAgeS: 31_536_000,
    });
  });

  it("takes the HTTPS port from PUBLIC_URL, settings over defaults", () => {
    expect(
      plan({
        HTTP_PORT: "off",
        ACME_CHALLENGES: "tls-alpn-01",
        ACME_RENEW_BEFORE: "12h",
        PUBLIC_URL: "https://chat.example.org:8443",
      }),
    ).toMatchObject({
      mode: "acme",
      httpsPort: 8443,
      httpPort: null,
      challenges: ["tls-alpn-01"],
      renewBeforeS: 43_200,
    });
  });

  it("certificate files mean files mode; TRUSTED_PROXIES means a proxy terminates TLS", () => {
    expect(plan({ TLS_CERT_FILE: "/c.pem", TLS_KEY_FILE: "/k.pem" })).toMatchObject({
      mode: "files",
      certFile: "/c.pem",
      keyFile: "/k.pem",
      httpsPort: 443,
    });
    expect(plan({ PUBLIC_URL: "https://x.org", TRUSTED_PROXIES: "10.0.0.1" })).toEqual({
      mode: "proxy",
      port: 3000,
    });
  });

  it("self-signed is chosen explicitly and never sends HSTS", () => {
    expect(plan({ TLS_MODE: "self-signed", TLS_NAMES: "parley.lan, 10.0.0.5" })).toMatchObject({
      mode: "self-signed",
      extraNames: ["parley.lan", "10.0.0.5"],
      hstsMaxAgeS: 0,
    });
  });

  it("names every bad setting", () => {
    expect(() => plan({ TLS_MODE: "acme" })).toThrow(/PUBLIC_URL=https/);
    expect(() => plan({ TLS_CERT_FILE: "/c.pem" })).toThrow(/set both or neither/);
    expect(() => plan({ TLS_MODE: "proxy" })).toThrow(/TRUSTED_PROXIES/);
    expect(() => plan({ PUBLIC_URL: "https://192.0.2.1" })).toThrow(/domain names, not addresses/);
    expect(() =>
      plan({ ACME_CHALLENGES: "dns-01", ACME_RENEW_BEFORE: "soon", TLS_MODE: "tls" }),
    ).toThrow(/ACME_CHALLENGES[\s\S]*ACME_RENEW_BEFORE|TLS_MODE/);
    expect(() => plan({ HTTPS_PORT: "80", PUBLIC_URL: "https://x.org" })).toThrow(
      /HTTP_PORT and HTTPS_PORT are both 80/,
    );
  });
});
