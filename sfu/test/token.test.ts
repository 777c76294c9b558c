import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandError, SignalingClient } from "../signaling-client";
import { mintCallToken, UsedTokens, verifyCallToken } from "../token";
import { startSfu, type TestSfu } from "./harness";

const secret = "s".repeat(40);
const grant = { roomId: "room-a", userId: "u1", displayName: "Ann", mayPublish: true };

describe("call tokens (unit)", () => {
  it("round-trips the grant", async () => {
    const token = await mintCallToken(secret, grant);
    const verified = await verifyCallToken(secret, token, new UsedTokens());
    expect(verified).toMatchObject(grant);
  });

  it("refuses TTLs over 60 s at minting", async () => {
    await expect(mintCallToken(secret, grant, { ttlSeconds: 61 })).rejects.toThrow();
  });

  it("rejects expired, forged, long-lived, wrong-alg and replayed tokens", async () => {
    const used = new UsedTokens();
    const now = Math.floor(Date.now() / 1000);
    const expired = await mintCallToken(secret, grant, { now: now - 120, ttlSeconds: 30 });
    await expect(verifyCallToken(secret, expired, used)).rejects.toMatchObject({
      code: "token_expired",
    });
    const forged = await mintCallToken("x".repeat(40), grant);
    await expect(verifyCallToken(secret, forged, used)).rejects.toMatchObject({
      code: "invalid_token",
    });
    const key = new TextEncoder().encode(secret);
    const claims = { room: "room-a", name: "Ann", pub: true };
    const longLived = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("u1")
      .setIssuer("parley-web")
      .setAudience("parley-sfu")
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .setJti(crypto.randomUUID())
      .sign(key);
    await expect(verifyCallToken(secret, longLived, used)).rejects.toMatchObject({
      code: "invalid_token",
    });
    const hs512 = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS512" })
      .setSubject("u1")
      .setIssuer("parley-web")
      .setAudience("parley-sfu")
      .setIssuedAt(now)
      .setExpirationTime(now + 30)
      .setJti(crypto.randomUUID())
      .sign(key);
    await expect(verifyCallToken(secret, hs512, used)).rejects.toMatchObject({
      code: "invalid_token",
    });
    const none = new UnsecuredJWT(claims)
      .setSubject("u1")
      .setIssuer("parley-web")
      .setAudience("parley-sfu")
      .setIssuedAt(now)
      .setExpirationTime(now + 30)
      .setJti(crypto.randomUUID())
      .encode();
    await expect(verifyCallToken(secret, none, used)).rejects.toMatchObject({
      code: "invalid_token",
    });
    const once = await mintCallToken(secret, grant);
    await verifyCallToken(secret, once, used);
    await expect(verifyCallToken(secret, once, used)).rejects.toMatchObject({
      code: "token_replayed",
    });
  });

  it("forgets used tokens once they expire", async () => {
    const used = new UsedTokens();
    expect(used.use("a".repeat(20), 100, 50)).toBe(true);
    expect(used.use("a".repeat(20), 100, 60)).toBe(false);
    expect(used.use("b".repeat(20), 300, 200)).toBe(true);
    expect(used.size).toBe(1);
  });
});

describe("call tokens against the SFU", () => {
  let sfu: TestSfu;
  beforeAll(async () => {
    sfu = await startSfu();
  });
  afterAll(async () => {
    await sfu?.stop();
  });

  async function joinWith(token: string, roomId: string): Promise<string> {
    const client = new SignalingClient({ url: sfu.url });
    try {
      await client.connected();
      await client.request("join", { token, roomId });
      return "ok";
    } catch (err) {
      return err instanceof CommandError ? err.code : String(err);
    } finally {
      client.close();
    }
  }

  it("refuses bad tokens with an error to that client only", async () => {
    const member = await sfu.bot("room-t", "Member");
    const now = Math.floor(Date.now() / 1000);
    const expired = await mintCallToken(
      sfu.secret,
      { ...grant, roomId: "room-t" },
      { now: now - 120, ttlSeconds: 30 },
    );
    expect(await joinWith(expired, "room-t")).toBe("token_expired");
    const forged = await mintCallToken("f".repeat(40), { ...grant, roomId: "room-t" });
    expect(await joinWith(forged, "room-t")).toBe("invalid_token");
    expect(await joinWith("not.a.jwt", "room-t")).toBe("invalid_token");
    const wrongAlg = await new SignJWT({ room: "room-t", name: "X", pub: true })
      .setProtectedHeader({ alg: "HS384" })
      .setSubject("u9")
      .setIssuer("parley-web")
      .setAudience("parley-sfu")
      .setIssuedAt(now)
      .setExpirationTime(now + 30)
      .setJti(crypto.randomUUID())
      .sign(new TextEncoder().encode(sfu.secret));
    expect(await joinWith(wrongAlg, "room-t")).toBe("invalid_token");
    const good = await sfu.token({ roomId: "room-t" });
    expect(await joinWith(good, "room-t")).toBe("ok");
    expect(await joinWith(good, "room-t")).toBe("token_replayed");
    const otherRoom = await sfu.token({ roomId: "room-other" });
    expect(await joinWith(otherRoom, "room-t")).toBe("wrong_room");
    // Nobody else heard about any of it, and the member is still in the call.
    expect(member.errors).toEqual([]);
    expect(member.closedReason).toBeUndefined();
    expect(member.signaling.socket.connected).toBe(true);
    await member.leave();
  });

  it("answers commands before join with not_joined, and refuses publishing without the grant", async () => {
    const client = new SignalingClient({ url: sfu.url });
    await client.connected();
    await expect(client.request("leave", {})).rejects.toMatchObject({ code: "not_joined" });
    client.close();
    const viewer = await sfu.bot("room-v", "Viewer", { mayPublish: false });
    await expect(viewer.publish({ mic: true })).rejects.toMatchObject({ code: "forbidden" });
    await viewer.close();
  });
});
