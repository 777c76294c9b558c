import { describe, expect, it } from "vitest";
import { loadConfig } from "@/sfu/config";
import { PARTS, parseEnv } from "./env";

const turn = { CALL_TURN_URLS: "turn:turn.example.org:3478", CALL_TURN_SECRET: "s".repeat(16) };

/** The message parseEnv throws for `source`. */
function errorOf(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected the configuration to be refused");
}

describe("the web node's configuration", () => {
  it("is one schema: no variable belongs to two parts", () => {
    const seen = new Map<string, string>();
    for (const [part, schema] of Object.entries(PARTS)) {
      for (const name of Object.keys(schema.shape)) {
        expect(seen.get(name), `${name} is in ${seen.get(name)} and ${part}`).toBeUndefined();
        seen.set(name, part);
      }
    }
  });

  it("names every bad variable, from every part, in one error", () => {
    const message = errorOf(() =>
      parseEnv({
        PORT: "http", // server
        SIGNIN_RATE_POINTS: "0", // auth
        CHAT_MAX_MESSAGE_LENGTH: "lots", // chat
        SOCKET_COMMAND_RATE_PER_S: "0", // realtime
        CALL_TURN_TTL_S: "5", // calls
        FILES_USER_QUOTA_BYTES: "-1", // files
        FILES_MASTER_KEY: "short",
        LOG_LEVEL: "loud",
      }),
    );
    expect(message.split("\n")[0]).toBe("Invalid configuration:");
    for (const name of [
      "PORT",
      "SIGNIN_RATE_POINTS",
      "CHAT_MAX_MESSAGE_LENGTH",
      "SOCKET_COMMAND_RATE_PER_S",
      "CALL_TURN_TTL_S",
      "FILES_USER_QUOTA_BYTES",
      "FILES_MASTER_KEY",
      "LOG_LEVEL",
    ]) {
      expect(message).toMatch(new RegExp(`^  ${name}: `, "m"));
    }
    expect(message.split("\n")).toHaveLength(9);
  });

  it("checks across variables once each one is valid, naming every broken pair", () => {
    const message = errorOf(() =>
      parseEnv({ SFU_REGISTRY: "redis", CALL_TURN_URLS: "turn:x.example.org" }),
    );
    expect(message).toBe(
      [
        "Invalid configuration:",
        "  SFU_REGISTRY: SFU_REGISTRY=redis needs REDIS_URL",
        "  CALL_TURN_URLS: CALL_TURN_URLS needs CALL_TURN_SECRET",
      ].join("\n"),
    );
    expect(
      parseEnv({ SFU_REGISTRY: "redis", REDIS_URL: "redis://127.0.0.1:6379" }).SFU_REGISTRY,
    ).toBe("redis");
  });

  it("treats an empty variable (FOO=) as unset, for every variable of every part", () => {
    const defaults = parseEnv({});
    for (const schema of Object.values(PARTS)) {
      for (const name of Object.keys(schema.shape)) {
        expect(parseEnv({ [name]: "" }), name).toEqual(defaults);
      }
    }
    // A value that is set is not a default: the check above would notice.
    expect(parseEnv({ PORT: "0" }).PORT).toBe(0);
    expect(defaults.PORT).toBe(3000);
  });

  it("splits lists and checks their items", () => {
    expect(parseEnv({ TRUSTED_PROXIES: "10.0.0.0/8, ::1, 192.168.1.1" }).TRUSTED_PROXIES).toEqual([
      "10.0.0.0/8",
      "::1",
      "192.168.1.1",
    ]);
    expect(errorOf(() => parseEnv({ TRUSTED_PROXIES: "10.0.0.0/33" }))).toMatch(
      /TRUSTED_PROXIES: 10\.0\.0\.0\/33 is not an IP address or CIDR/,
    );
    expect(parseEnv({ SFU_URLS: " http://a:4000 ,, http://b:4000" }).SFU_URLS).toEqual([
      "http://a:4000",
      "http://b:4000",
    ]);
    expect(errorOf(() => parseEnv({ SFU_URLS: "not a url" }))).toMatch(/^  SFU_URLS\.0: /m);
  });

  describe("the relay-only call setting", () => {
    it("defaults to `all` and takes `relay` with TURN servers", () => {
      expect(parseEnv({}).CALL_ICE_TRANSPORT_POLICY).toBe("all");
      expect(parseEnv({ CALL_ICE_TRANSPORT_POLICY: "" }).CALL_ICE_TRANSPORT_POLICY).toBe("all");
      expect(
        parseEnv({ ...turn, CALL_ICE_TRANSPORT_POLICY: "relay" }).CALL_ICE_TRANSPORT_POLICY,
      ).toBe("relay");
    });

    it("refuses an unknown policy, and `relay` without a TURN server to relay through", () => {
      expect(() => parseEnv({ ...turn, CALL_ICE_TRANSPORT_POLICY: "turn-only" })).toThrow(
        /CALL_ICE_TRANSPORT_POLICY/,
      );
      expect(() => parseEnv({ CALL_ICE_TRANSPORT_POLICY: "relay" })).toThrow(
        /CALL_ICE_TRANSPORT_POLICY=relay needs CALL_TURN_URLS/,
      );
    });
  });
});

describe("the SFU's configuration", () => {
  const required = { CALL_TOKEN_SECRET: "c".repeat(32) };

  it("follows the same conventions: FOO= is unset, one error names every bad variable", () => {
    const defaults = loadConfig(required);
    expect(defaults.SFU_FAST_SRTP).toBe(true);
    expect(defaults.LOG_LEVEL).toBe("info");
    for (const name of Object.keys(defaults)) {
      if (name in required) continue;
      expect(loadConfig({ ...required, [name]: "" }), name).toEqual(defaults);
    }
    expect(errorOf(() => loadConfig({ CALL_TOKEN_SECRET: "" }))).toMatch(
      /^Invalid SFU configuration:\n {2}CALL_TOKEN_SECRET: /,
    );
    const message = errorOf(() =>
      loadConfig({ ...required, SFU_PORT: "x", SFU_FAST_SRTP: "maybe", LOG_LEVEL: "loud" }),
    );
    expect(message.split("\n")).toEqual([
      "Invalid SFU configuration:",
      expect.stringMatching(/^ {2}SFU_PORT: /),
      expect.stringMatching(/^ {2}SFU_FAST_SRTP: /),
      expect.stringMatching(/^ {2}LOG_LEVEL: /),
    ]);
  });

  it("takes the benchmark's baseline switch as a setting", () => {
    expect(loadConfig({ ...required, SFU_FAST_SRTP: "off" }).SFU_FAST_SRTP).toBe(false);
  });
});
