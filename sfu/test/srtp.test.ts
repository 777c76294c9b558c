import { createCipheriv, randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import {
  type RTCDtlsTransport,
  RtpHeader,
  SrtcpSession,
  SrtpAuthenticationError,
  SrtpSession,
} from "werift";
import { describe, expect, it } from "vitest";
import { readRtcp } from "../rtcp-feedback";
import { AesGcmSrtp, scratch } from "../srtp/aes-gcm";
import { FastTransport } from "../srtp/fast-transport";
import { GHASH_WASM, GHASH_WAT_SHA256 } from "../srtp/ghash-wasm";
import { WAT, watSha256 } from "../srtp/ghash-wat";

/** RFC 7714 by way of node:crypto's AES-GCM: IV = (0 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt, AAD = header. */
function reference(
  key: Buffer,
  salt: Buffer,
  packet: Buffer,
  headerLength: number,
  roc: number,
): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(packet.readUInt32BE(8), 2);
  iv.writeUInt32BE(roc, 6);
  iv.writeUInt16BE(packet.readUInt16BE(2), 10);
  for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
  const cipher = createCipheriv("aes-128-gcm", key, iv);
  cipher.setAAD(packet.subarray(0, headerLength));
  return Buffer.concat([
    packet.subarray(0, headerLength),
    cipher.update(packet.subarray(headerLength)),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
}

describe("AES-GCM SRTP", () => {
  it("matches node:crypto and round-trips for header and payload sizes around block edges", () => {
    const key = randomBytes(16);
    const salt = randomBytes(12);
    const srtp = new AesGcmSrtp(key, salt);
    for (const [headerLength, payloadLength] of [
      [12, 1100],
      [24, 1100],
      [20, 37],
      [12, 0],
      [28, 15],
      [12, 16],
      [16, 1],
      [12, 1400],
    ] as const) {
      const plain = randomBytes(headerLength + payloadLength);
      plain[0] = 0x80;
      const roc = 70_000;
      const expected = reference(key, salt, plain, headerLength, roc);
      const packet = Buffer.concat([plain, Buffer.alloc(16)]);
      const ssrc = plain.readUInt32BE(8);
      const seq = plain.readUInt16BE(2);
      expect(srtp.protect(packet, headerLength, payloadLength, ssrc, roc, seq)).toBe(
        expected.length,
      );
      expect(packet.equals(expected)).toBe(true);
      expect(srtp.unprotect(packet, packet.length, headerLength, ssrc, roc, seq)).toBe(
        plain.length,
      );
      expect(packet.subarray(0, plain.length).equals(plain)).toBe(true);
      // A flipped bit, or the wrong index, fails authentication.
      const forged = Buffer.from(expected);
      forged[forged.length - 1]! ^= 1;
      expect(srtp.unprotect(forged, forged.length, headerLength, ssrc, roc, seq)).toBe(-1);
      expect(
        srtp.unprotect(Buffer.from(expected), expected.length, headerLength, ssrc, roc + 1, seq),
      ).toBe(-1);
    }
  });

  it("seals in the scratch area with many keys alive", () => {
    const contexts = Array.from({ length: 4 }, () => ({
      key: randomBytes(16),
      salt: randomBytes(12),
    }));
    const srtps = contexts.map(({ key, salt }) => new AesGcmSrtp(key, salt));
    const plain = randomBytes(12 + 300);
    plain[0] = 0x80;
    for (const [i, srtp] of srtps.entries()) {
      const area = scratch();
      area.set(plain);
      const length = srtp.sealScratch(12, 300, plain.readUInt32BE(8), 0, plain.readUInt16BE(2));
      expect(
        Buffer.from(area.subarray(0, length)).equals(
          reference(contexts[i]!.key, contexts[i]!.salt, plain, 12, 0),
        ),
      ).toBe(true);
    }
  });
});

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

/**
 * RFC 7714 (AEAD_AES_128_GCM), key 00…0f, salt "Quid pro quo": section 16.1, an RTP packet
 * with SSRC 0x5501a0b2 and sequence number 0xf17b at ROC 0, and its encryption; section
 * 17.1, an RTCP sender report of SSRC "Mars" at SRTCP index 0x5d4, which checks both
 * werift's cipher (still used for unencrypted SRTCP) and ours.
 */
describe("RFC 7714 known answers", () => {
  const key = hex("000102030405060708090a0b0c0d0e0f");
  const salt = hex("517569642070726f2071756f");
  const header = hex("8040f17b 8041f8d3 5501a0b2");
  const plain = Buffer.concat([header, Buffer.from("Gallia est omnis divisa in partes tres")]);
  const encrypted = hex(`
    8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f
    42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce`);
  const [ssrc, seq] = [0x5501a0b2, 0xf17b];

  it("16.1.1: encrypts the RTP packet", () => {
    const packet = Buffer.concat([plain, Buffer.alloc(16)]);
    expect(new AesGcmSrtp(key, salt).protect(packet, 12, plain.length - 12, ssrc, 0, seq)).toBe(
      encrypted.length,
    );
    expect(packet.toString("hex")).toBe(encrypted.toString("hex"));
  });

  it("16.1.2: decrypts it, and refuses it with any bit of header, payload or tag flipped", () => {
    const packet = Buffer.from(encrypted);
    expect(new AesGcmSrtp(key, salt).unprotect(packet, packet.length, 12, ssrc, 0, seq)).toBe(
      plain.length,
    );
    expect(packet.subarray(0, plain.length).toString("hex")).toBe(plain.toString("hex"));
    for (const at of [
      1,
      11,
      12,
      30,
      encrypted.length - 17,
      encrypted.length - 16,
      encrypted.length - 1,
    ]) {
      const forged = Buffer.from(encrypted);
      forged[at]! ^= 0x10;
      expect(
        new AesGcmSrtp(key, salt).unprotect(forged, forged.length, 12, ssrc, 0, seq),
        `byte ${at}`,
      ).toBe(-1);
    }
  });

  const rtcp = hex(`
    81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61 deadbeef
    deadbeef deadbeef deadbeef deadbeef`);
  const srtcp = hex(`
    81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1
    730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4`);

  /**
   * werift's GCM cipher, taken from the session it builds for that profile (the class is
   * not exported), given the RFC's session key and salt directly.
   */
  function weriftGcm() {
    const masterSalt = Buffer.concat([salt, Buffer.alloc(2)]);
    const session = new SrtcpSession({
      profile: 0x0007,
      keys: {
        localMasterKey: key,
        localMasterSalt: masterSalt,
        remoteMasterKey: key,
        remoteMasterSalt: masterSalt,
      },
    });
    type Cipher = {
      encryptRTCP(packet: Buffer, index: number): Buffer;
      decryptRTCP(packet: Buffer): [Buffer, unknown];
    };
    const Gcm = (session.localContext as unknown as { cipher: object }).cipher.constructor as new (
      ...keys: Buffer[]
    ) => Cipher;
    return new Gcm(key, salt, key, salt);
  }

  it("17.1: werift's SRTCP cipher encrypts and decrypts the RTCP packet, and refuses it with a bit flipped", () => {
    const cipher = weriftGcm();
    expect(cipher.encryptRTCP(rtcp, 0x5d4).toString("hex")).toBe(srtcp.toString("hex"));
    expect(cipher.decryptRTCP(Buffer.from(srtcp))[0].toString("hex")).toBe(rtcp.toString("hex"));
    const forged = Buffer.from(srtcp);
    forged[20]! ^= 0x10;
    expect(() => cipher.decryptRTCP(forged)).toThrow();
  });

  it("17.1: our SRTCP seals and opens the RTCP packet, refusing any flipped bit", () => {
    const ours = new AesGcmSrtp(key, salt);
    expect(ours.protectRtcp(rtcp, 0x5d4).toString("hex")).toBe(srtcp.toString("hex"));
    expect(ours.unprotectRtcp(Buffer.from(srtcp))?.toString("hex")).toBe(rtcp.toString("hex"));
    for (const at of [0, 5, 8, 30, srtcp.length - 21, srtcp.length - 5, srtcp.length - 1]) {
      const forged = Buffer.from(srtcp);
      forged[at]! ^= 0x01;
      expect(ours.unprotectRtcp(forged), `byte ${at}`).toBeNull();
    }
    // E = 0 (authenticated, not encrypted): left to werift's general code.
    const clear = Buffer.from(srtcp);
    clear[clear.length - 4]! &= 0x7f;
    expect(ours.unprotectRtcp(clear)).toBeUndefined();
  });

  it("our SRTCP matches werift's both ways for packet sizes and indices across 16-bit boundaries", () => {
    const ours = new AesGcmSrtp(key, salt);
    const theirs = weriftGcm();
    for (const index of [1, 2, 17, 0xffff, 0x10000, 0x10001, 0x7ffffffe, 0x7fffffff]) {
      for (const size of [8, 12, 24, 32, 44, 100]) {
        const packet = Buffer.alloc(size);
        for (let i = 0; i < size; i++) packet[i] = (i * 7 + index) & 0xff;
        packet.writeUInt32BE(0x11223344 + (size % 3), 4);
        const sealed = ours.protectRtcp(packet, index);
        expect(sealed.toString("hex"), `${size} B at ${index}`).toBe(
          theirs.encryptRTCP(packet, index).toString("hex"),
        );
        expect(ours.unprotectRtcp(sealed)?.toString("hex")).toBe(packet.toString("hex"));
        expect(theirs.decryptRTCP(sealed)[0].toString("hex")).toBe(packet.toString("hex"));
      }
    }
  });
});

/**
 * The keystream is made 16 packets ahead per stream (one AES call per batch); every packet
 * of a batch must get the counter blocks of its own index, across a sequence-number wrap
 * (ROC + 1) and a ROC wrap (2^32 - 1 to 0), with sizes that change mid-batch.
 */
describe("the keystream made ahead", () => {
  const key = randomBytes(16);
  const salt = randomBytes(12);

  /** `count` consecutive (ROC, SEQ) from a start, the ROC counting sequence-number wraps. */
  function* indices(roc: number, seq: number, count: number): Generator<[number, number]> {
    for (let i = 0; i < count; i++) {
      yield [roc, seq];
      seq = (seq + 1) & 0xffff;
      if (seq === 0) roc = (roc + 1) >>> 0;
    }
  }

  function packet(ssrc: number, seq: number, payloadLength: number): Buffer {
    const plain = randomBytes(12 + payloadLength);
    plain[0] = 0x80;
    plain.writeUInt16BE(seq, 2);
    plain.writeUInt32BE(ssrc, 8);
    return plain;
  }

  /** Seals with `sender`, compares with node:crypto, opens with `receiver`. */
  function roundTrip(
    sender: AesGcmSrtp,
    receiver: AesGcmSrtp,
    ssrc: number,
    roc: number,
    seq: number,
    payloadLength: number,
  ) {
    const plain = packet(ssrc, seq, payloadLength);
    const sealed = Buffer.concat([plain, Buffer.alloc(16)]);
    sender.protect(sealed, 12, payloadLength, ssrc, roc, seq);
    expect(
      sealed.equals(reference(key, salt, plain, 12, roc)),
      `seal at ROC ${roc}, SEQ ${seq}`,
    ).toBe(true);
    expect(
      receiver.unprotect(sealed, sealed.length, 12, ssrc, roc, seq),
      `open at ROC ${roc}, SEQ ${seq}`,
    ).toBe(plain.length);
    expect(sealed.subarray(0, plain.length).equals(plain)).toBe(true);
  }

  it.each([
    ["from index 0", 0, 0],
    ["across a sequence-number wrap", 7, 0xffe5],
    ["across a ROC wrap", 0xffffffff, 0xffe9],
  ])("matches node:crypto for 70 consecutive packets %s", (_, roc0, seq0) => {
    const sender = new AesGcmSrtp(key, salt);
    const receiver = new AesGcmSrtp(key, salt);
    const ssrc = 0x1234abcd;
    let i = 0;
    for (const [roc, seq] of indices(roc0, seq0, 70)) {
      // Mostly similar sizes, now and then a larger one (the batch is made again, wider).
      roundTrip(sender, receiver, ssrc, roc, seq, i % 23 === 22 ? 1400 : 100 + (i % 5) * 7);
      i++;
    }
  });

  it("matches node:crypto out of order, after a gap and with two streams interleaved", () => {
    const sender = new AesGcmSrtp(key, salt);
    const receiver = new AesGcmSrtp(key, salt);
    const order: Array<[number, number, number]> = [
      [1, 0, 100],
      [2, 5, 0xfffe],
      [1, 0, 101],
      [2, 5, 0xffff],
      [1, 0, 99],
      [2, 6, 0],
      [1, 0, 140],
      [1, 0, 102],
      [2, 5, 0xfff0],
      [1, 1, 100],
      [1, 0, 100],
      [2, 6, 1],
    ];
    for (const [stream, roc, seq] of order)
      roundTrip(sender, receiver, 0x1000 + stream, roc, seq, 300);
  });
});

/**
 * Decrypted RTCP goes to the transport's listener before werift: what it reads, werift
 * never sees (the pre-made SrtpAuthenticationError werift drops quietly); what it leaves,
 * malformed or not, werift gets as plaintext; a listener that throws does not throw out of
 * the transport.
 */
/** werift's GCM SRTP and SRTCP sessions, keyed the same both ways: they open what they seal. */
function gcmSessions() {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const config = {
    profile: 0x0007,
    keys: {
      localMasterKey: key,
      localMasterSalt: salt,
      remoteMasterKey: key,
      remoteMasterSalt: salt,
    },
  } as const;
  return { srtp: new SrtpSession(config), srtcp: new SrtcpSession(config) };
}

describe("RTCP read before werift's parser", () => {
  /** A FastTransport on werift's GCM sessions keyed the same both ways: it opens what it seals. */
  function loopback(): { fast: FastTransport; srtcp: SrtcpSession } {
    const dtls = gcmSessions();
    const fast = FastTransport.create(dtls as unknown as RTCDtlsTransport);
    if (!fast) throw new Error("no FastTransport on GCM sessions");
    return { fast, srtcp: dtls.srtcp };
  }

  // RR (SSRC 0x5eed, one block about 0x1111 with fraction lost 26) + REMB of 1.2 Mbit/s.
  const rrRemb = hex(`
    81c90007 00005eed 00001111 1a000007 00012345 0000000c aabbccdd 00010000
    8fce0005 00005eed 00000000 52454d42 010e49f0 00001111`);
  // The same RR claiming a second report block it does not hold.
  const truncated = hex(`82c90007 00005eed 00001111 1a000007 00012345 0000000c aabbccdd 00010000`);
  // RR + transport-wide feedback, which the SFU does not read.
  const rrTwcc = hex(`
    81c90007 00005eed 00001111 1a000007 00012345 0000000c aabbccdd 00010000
    8fcd0004 00005eed 00001111 00010001 00000000 20010000`);

  function recorder() {
    const calls: unknown[][] = [];
    return {
      calls,
      feedback: {
        loss: (fractionLost: number) => calls.push(["loss", fractionLost]),
        remb: (bitrate: number) => calls.push(["remb", bitrate]),
        keyFrameRequest: (ssrc: number) => calls.push(["keyFrame", ssrc]),
        nack: (ssrc: number, lost: number[]) => calls.push(["nack", ssrc, lost]),
      },
    };
  }

  it("keeps what the SFU reads from werift, and hands werift the rest as plaintext", () => {
    const { fast, srtcp } = loopback();
    const { calls, feedback } = recorder();
    fast.listenRtcp((packet) => readRtcp(packet, feedback));
    expect(() => srtcp.decrypt(srtcp.encrypt(rrRemb))).toThrow(SrtpAuthenticationError);
    expect(calls).toEqual([
      ["loss", 26],
      ["remb", 1_200_000],
    ]);
    for (const left of [truncated, rrTwcc]) {
      expect(srtcp.decrypt(srtcp.encrypt(left)).toString("hex")).toBe(left.toString("hex"));
    }
    expect(calls).toHaveLength(2);
    fast.listenRtcp(undefined);
    expect(srtcp.decrypt(srtcp.encrypt(rrRemb)).toString("hex")).toBe(rrRemb.toString("hex"));
  });

  it("drops a packet whose listener threw, quietly for werift", () => {
    const { fast, srtcp } = loopback();
    fast.listenRtcp(() => {
      throw new Error("a bug downstream");
    });
    expect(() => srtcp.decrypt(srtcp.encrypt(rrRemb))).toThrow(SrtpAuthenticationError);
  });
});

describe("datagrams taken before werift's ICE dispatch", () => {
  /**
   * A FastTransport on werift's GCM sessions (keyed the same both ways) behind a stand-in
   * for werift's ICE agent: one UDP socket whose `onData` is werift's (recorded here).
   */
  function connected() {
    const toWerift: Buffer[] = [];
    const transport = {
      type: "udp",
      closed: false,
      socket: undefined as Socket | undefined,
      onData: ((data: Buffer) => void toWerift.push(Buffer.from(data))) as (
        data: Buffer,
        addr: [string, number],
      ) => void,
    };
    const protocol: { transport: typeof transport; localCandidate?: object } = { transport };
    const pair = {
      protocol,
      remoteAddr: ["127.0.0.1", 9] as [string, number],
      packetsReceived: 0,
      bytesReceived: 0,
    };
    const dtls = {
      ...gcmSessions(),
      iceTransport: { connection: { protocols: [protocol], nominated: pair } },
      packetsReceived: 0,
      bytesReceived: 0,
      packetsSent: 0,
      bytesSent: 0,
    };
    const fast = FastTransport.create(dtls as unknown as RTCDtlsTransport);
    if (!fast) throw new Error("no FastTransport on GCM sessions");
    protocol.localCandidate = {};
    const receive = (data: Buffer) => transport.onData(data, ["127.0.0.1", 9]);
    return { fast, dtls, pair, protocol, receive, toWerift };
  }

  const rrRemb = hex(`
    81c90007 00005eed 00001111 1a000007 00012345 0000000c aabbccdd 00010000
    8fce0005 00005eed 00000000 52454d42 010e49f0 00001111`);
  const rrTwcc = hex(`
    81c90007 00005eed 00001111 1a000007 00012345 0000000c aabbccdd 00010000
    8fcd0004 00005eed 00001111 00010001 00000000 20010000`);

  function media(srtp: SrtpSession, ssrc: number, sequenceNumber: number, payloadType = 96) {
    const header = new RtpHeader({ ssrc, sequenceNumber, payloadType, timestamp: 1000 });
    return srtp.encrypt(Buffer.from(`frame ${sequenceNumber}`), header);
  }

  it("finishes routed media and RTCP the listener reads, counting them as werift would", () => {
    const { fast, dtls, pair, receive, toWerift } = connected();
    const read: Buffer[] = [];
    const delivered: string[] = [];
    const seen: number[] = [];
    fast.listenRtcp((rtcp) => {
      read.push(rtcp);
      return !rtcp.equals(rrTwcc);
    });
    fast.listen((packet) => seen.push(packet.readUInt16BE(2)));
    fast.route(0xabc, 96, (packet, headerLength, end) =>
      delivered.push(packet.subarray(headerLength, end).toString()),
    );
    const sent = [dtls.srtcp.encrypt(rrRemb), media(dtls.srtp, 0xabc, 7)];
    for (const datagram of sent) receive(datagram);
    expect(toWerift).toEqual([]);
    expect(read.map((r) => r.toString("hex"))).toEqual([rrRemb.toString("hex")]);
    expect(delivered).toEqual(["frame 7"]);
    expect(seen).toEqual([7]);
    const bytes = sent[0]!.length + sent[1]!.length;
    expect([dtls.packetsReceived, dtls.bytesReceived]).toEqual([2, bytes]);
    expect([pair.packetsReceived, pair.bytesReceived]).toEqual([2, bytes]);
  });

  it("leaves werift everything else, untouched", () => {
    const { fast, dtls, receive, toWerift } = connected();
    fast.listenRtcp((rtcp) => !rtcp.equals(rrTwcc));
    fast.route(0xabc, 96, () => undefined);
    const left = [
      dtls.srtcp.encrypt(rrTwcc), // a part the listener does not read
      media(dtls.srtp, 0xdef, 1), // an SSRC not routed
      media(dtls.srtp, 0xabc, 2, 97), // the routed SSRC's other payload type (RTX)
      hex("000100002112a442 0102030405060708090a0b0c"), // STUN
      hex("16fefd0000000000000000"), // DTLS
      hex("80"), // too short to be RTP
    ];
    for (const datagram of left) receive(Buffer.from(datagram));
    expect(toWerift.map((d) => d.toString("hex"))).toEqual(left.map((d) => d.toString("hex")));
    expect(dtls.packetsReceived).toBe(0);
  });

  it("sends RTCP as SRTCP straight to the nominated pair's UDP socket, or leaves it to werift", async () => {
    const { fast, dtls, pair, protocol } = connected();
    const [from, to] = [createSocket("udp4"), createSocket("udp4")];
    try {
      for (const socket of [from, to])
        await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
      protocol.transport.socket = from;
      pair.remoteAddr = ["127.0.0.1", to.address().port];
      const received = new Promise<Buffer>((resolve) => to.once("message", resolve));
      expect(fast.sendRtcp(rrRemb)).toBe(true);
      const datagram = await received;
      expect(datagram.equals(rrRemb)).toBe(false);
      expect(dtls.srtcp.decrypt(datagram).toString("hex")).toBe(rrRemb.toString("hex"));
      expect([dtls.packetsSent, dtls.bytesSent]).toEqual([1, datagram.length]);
      protocol.transport.type = "tcp";
      expect(fast.sendRtcp(rrRemb)).toBe(false);
      expect(dtls.packetsSent).toBe(1);
    } finally {
      from.close();
      to.close();
    }
  });

  it("drops forged media and RTCP without werift, and takes nothing before ICE is connected", () => {
    const { fast, dtls, protocol, receive, toWerift } = connected();
    const read: Buffer[] = [];
    const delivered: Buffer[] = [];
    fast.listenRtcp((rtcp) => read.push(rtcp) > 0);
    fast.route(0xabc, 96, (packet) => delivered.push(packet));
    for (const datagram of [dtls.srtcp.encrypt(rrRemb), media(dtls.srtp, 0xabc, 3)]) {
      datagram[datagram.length - 6]! ^= 1;
      receive(datagram);
    }
    expect([read, delivered, toWerift]).toEqual([[], [], []]);
    expect(dtls.packetsReceived).toBe(2);
    protocol.localCandidate = undefined;
    const early = media(dtls.srtp, 0xabc, 4);
    receive(Buffer.from(early));
    expect(toWerift.map((d) => d.toString("hex"))).toEqual([early.toString("hex")]);
    expect(delivered).toEqual([]);
  });
});

describe("the WebAssembly core", () => {
  it("was assembled from ghash-wat.ts as it is now (rebuild: see ghash-wat.ts)", () => {
    expect(watSha256()).toBe(GHASH_WAT_SHA256);
    const kinds: Record<string, string> = { func: "function", memory: "memory" };
    const declared = [...WAT.matchAll(/\((func|memory) \(export "(\w+)"\)/g)].map(
      (m) => `${kinds[m[1]!]} ${m[2]}`,
    );
    const core = new WebAssembly.Module(Buffer.from(GHASH_WASM, "base64"));
    const exported = WebAssembly.Module.exports(core).map((e) => `${e.kind} ${e.name}`);
    expect(exported.sort()).toEqual(declared.sort());
    expect(declared).toHaveLength(3);
  });
});
