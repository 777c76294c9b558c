import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseEnv } from "@/lib/env";
import { iceServersFor } from "./ice-servers";

describe("ICE servers for browsers", () => {
  it("hands out STUN, and TURN with time-limited REST credentials", () => {
    const config = parseEnv({
      CALL_STUN_URLS: "stun:stun.example.org:3478",
      CALL_TURN_URLS: "turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349",
      CALL_TURN_SECRET: "t".repeat(20),
      CALL_TURN_TTL_S: "600",
    });
    const now = 1_700_000_000_000;
    const [stun, turn] = iceServersFor(config, "user-1", now);
    expect(stun).toEqual({ urls: ["stun:stun.example.org:3478"] });
    expect(turn!.urls).toHaveLength(2);
    expect(turn!.username).toBe(`${now / 1000 + 600}:user-1`);
    expect(turn!.credential).toBe(
      createHmac("sha1", "t".repeat(20)).update(turn!.username!).digest("base64"),
    );
  });

  it("hands out nothing by default and refuses TURN without a secret", () => {
    expect(iceServersFor(parseEnv({}), "u")).toEqual([]);
    expect(() => parseEnv({ CALL_TURN_URLS: "turn:x.example.org" })).toThrow(/CALL_TURN_SECRET/);
    expect(() => parseEnv({ SFU_REGISTRY: "redis" })).toThrow(/REDIS_URL/);
  });
});
