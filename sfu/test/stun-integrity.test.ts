/**
 * The check that keeps forged binding requests from steering a call's media
 * (werift-patches.ts: authenticateChecks), and the response the SFU writes itself: werift's
 * own STUN encoder makes the messages to compare with.
 */
import { Message, parseMessage } from "werift";
import { describe, expect, it } from "vitest";
import { bindingSuccess, hasValidIntegrity, integrityKey } from "../stun-integrity";

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

describe("the binding success response", () => {
  const password = "the-local-password-22c";
  /** werift's response to `req` from `addr`, as its ICE agent builds it. */
  function weriftResponse(req: Buffer, addr: [string, number]): Buffer {
    const message = new Message(BINDING, 0x100, req.subarray(8, 20));
    message
      .setAttribute("XOR-MAPPED-ADDRESS", addr)
      .addMessageIntegrity(Buffer.from(password, "utf8"))
      .addFingerprint();
    return message.bytes;
  }

  it("is byte for byte werift's, for addresses and ports across their ranges", () => {
    const key = integrityKey(password);
    for (const addr of [
      ["127.0.0.1", 50_000],
      ["192.168.1.23", 1],
      ["10.255.0.9", 65_535],
      ["255.255.255.255", 3478],
      ["0.0.0.0", 0],
    ] as [string, number][]) {
      const req = request(password);
      const ours = bindingSuccess(req, addr[0], addr[1], key);
      expect(ours?.toString("hex")).toBe(weriftResponse(req, addr).toString("hex"));
      // werift's parser reads it back: integrity and fingerprint check, the address is ours.
      const parsed = parseMessage(ours!, Buffer.from(password, "utf8"));
      expect(parsed?.getAttributeValue("XOR-MAPPED-ADDRESS")).toEqual(addr);
      expect(hasValidIntegrity(ours!, key)).toBe(true);
    }
  });

  it("leaves an IPv6 source, or a request too short to hold a transaction id, to werift", () => {
    const key = integrityKey(password);
    expect(bindingSuccess(request(password), "::1", 5000, key)).toBeUndefined();
    expect(bindingSuccess(Buffer.alloc(12), "127.0.0.1", 5000, key)).toBeUndefined();
  });
});
