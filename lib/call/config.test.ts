import { describe, expect, it } from "vitest";
import { callConfig } from "./config";

const turn = { CALL_TURN_URLS: "turn:turn.example.org:3478", CALL_TURN_SECRET: "s".repeat(16) };

describe("the relay-only call setting", () => {
  it("defaults to `all` and takes `relay` with TURN servers", () => {
    expect(callConfig({}).CALL_ICE_TRANSPORT_POLICY).toBe("all");
    expect(callConfig({ CALL_ICE_TRANSPORT_POLICY: "" }).CALL_ICE_TRANSPORT_POLICY).toBe("all");
    expect(
      callConfig({ ...turn, CALL_ICE_TRANSPORT_POLICY: "relay" }).CALL_ICE_TRANSPORT_POLICY,
    ).toBe("relay");
  });

  it("refuses an unknown policy, and `relay` without a TURN server to relay through", () => {
    expect(() => callConfig({ ...turn, CALL_ICE_TRANSPORT_POLICY: "turn-only" })).toThrow(
      /CALL_ICE_TRANSPORT_POLICY/,
    );
    expect(() => callConfig({ CALL_ICE_TRANSPORT_POLICY: "relay" })).toThrow(
      /CALL_ICE_TRANSPORT_POLICY=relay needs CALL_TURN_URLS/,
    );
  });
});
