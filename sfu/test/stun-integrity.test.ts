/**
 * The check that keeps forged binding requests from steering a call's media
 * (werift-patches.ts: authenticateChecks): werift's own STUN encoder makes the messages.
 */
import { Message } from "werift";
import { describe, expect, it } from "vitest";
import { hasValidIntegrity } from "../stun-integrity";

const BINDING = 0x001;
const REQUEST = 0x000;

function request(password: string | undefined, username = "ab12:cd34"): Buffer {
  const message = new Message(BINDING, REQUEST);
  message
    .setAttribute("USERNAME", username)
    .setAttribute("PRIORITY", 1_845_501_695)
    .setAttribute("USE-CANDIDATE", null);
  if (password !== undefined) message.addMessageIntegrity(Buffer.from(password, "utf8"));
  message.addFingerprint();
  return message.bytes;
}

describe("STUN message integrity", () => {
  it("accepts a request signed with the password, and nothing else", () => {
    expect(hasValidIntegrity(request("the-local-password-22c"), "the-local-password-22c")).toBe(
      true,
    );
    expect(hasValidIntegrity(request("someone-elses-password"), "the-local-password-22c")).toBe(
      false,
    );
    expect(hasValidIntegrity(request(undefined), "the-local-password-22c")).toBe(false);
  });

  it("refuses a signed request that was altered, or cut short", () => {
    const signed = request("the-local-password-22c");
    const altered = Buffer.from(signed);
    altered[27] = altered[27]! ^ 0x01; // inside USERNAME
    expect(hasValidIntegrity(altered, "the-local-password-22c")).toBe(false);
    expect(
      hasValidIntegrity(signed.subarray(0, signed.length - 30), "the-local-password-22c"),
    ).toBe(false);
    expect(hasValidIntegrity(Buffer.alloc(20), "the-local-password-22c")).toBe(false);
  });
});
