import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import { proxy } from "@/proxy";
import { TEST_SECRETS, testConfig } from "@/test/support/config";
import { contentSecurityPolicy } from "./csp";
import { setRuntime } from "./runtime";

/** The proxy reads the configuration server.ts parsed. */
function configure(settings: Record<string, string> = {}) {
  setRuntime({
    config: testConfig(settings),
    secrets: TEST_SECRETS,
    database: null as never,
    io: null as never,
    readiness: new Map(),
    services: {},
  });
}

const directives = (policy: string) =>
  new Map(
    policy.split(";").map((d) => {
      const [name = "", ...values] = d.trim().split(/\s+/);
      return [name, values] as const;
    }),
  );

describe("the pages' Content-Security-Policy", () => {
  it("runs scripts by nonce only, never inline by default, and connects to this origin only", () => {
    const policy = directives(
      contentSecurityPolicy({ nonce: "abc", host: "parley.example:3000", dev: false }),
    );
    expect(policy.get("script-src")).toEqual(["'self'", "'nonce-abc'", "'strict-dynamic'"]);
    expect(policy.get("connect-src")).toEqual([
      "'self'",
      "ws://parley.example:3000",
      "wss://parley.example:3000",
    ]);
    expect(policy.get("object-src")).toEqual(["'none'"]);
    expect(policy.get("frame-ancestors")).toEqual(["'none'"]);
    expect(policy.get("base-uri")).toEqual(["'self'"]);
  });

  it("keeps a Host header that is not a plain host out of the policy", () => {
    for (const host of ["evil.example; script-src *", "a b", "x'y", null]) {
      const policy = directives(contentSecurityPolicy({ nonce: "abc", host, dev: false }));
      expect(policy.get("connect-src")).toEqual(["'self'"]);
      expect(policy.get("script-src")).toEqual(["'self'", "'nonce-abc'", "'strict-dynamic'"]);
    }
    const v6 = directives(contentSecurityPolicy({ nonce: "n", host: "[::1]:3000", dev: false }));
    expect(v6.get("connect-src")).toEqual(["'self'", "ws://[::1]:3000", "wss://[::1]:3000"]);
  });

  it("is set by the proxy with a fresh nonce per request, which Next and the layout read", () => {
    configure();
    const run = () => {
      const response = proxy(
        new NextRequest("http://localhost:3000/r/abc", { headers: { host: "localhost:3000" } }),
      );
      const policy = response.headers.get("content-security-policy")!;
      // NextResponse.next({ request: { headers } }) hands the new request headers on like this.
      const nonce = response.headers.get("x-middleware-request-x-nonce");
      const requestPolicy = response.headers.get("x-middleware-request-content-security-policy");
      return { policy, nonce, requestPolicy };
    };
    const a = run();
    const b = run();
    expect(a.nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.requestPolicy).toBe(a.policy);
    const scripts = directives(a.policy).get("script-src")!;
    expect(scripts).toContain(`'nonce-${a.nonce}'`);
    expect(scripts).not.toContain("'unsafe-inline'");
    expect(directives(a.policy).get("connect-src")).toEqual([
      "'self'",
      "ws://localhost:3000",
      "wss://localhost:3000",
    ]);
  });

  it("names PUBLIC_URL's host, not the request's, when it is configured", () => {
    configure({ PUBLIC_URL: "https://chat.example.org" });
    const response = proxy(
      new NextRequest("http://localhost:3000/", { headers: { host: "localhost:3000" } }),
    );
    expect(directives(response.headers.get("content-security-policy")!).get("connect-src")).toEqual(
      ["'self'", "ws://chat.example.org", "wss://chat.example.org"],
    );
  });
});
