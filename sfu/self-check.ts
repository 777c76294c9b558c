/**
 * The start-up check that every werift patch still finds what it reaches into. The
 * patches (werift-patches.ts, srtp/fast-transport.ts, srtp/udp-send.ts) work on werift
 * 0.25.2's internals (package.json pins it exactly) and, at run time, leave an object
 * alone when its internals are not there — silently, so after an upgrade a patch could
 * stop working without a word. This connects a real pair of werift peer connections over
 * loopback, configured as the SFU's publish side (ICE-lite, DTLS server, AES-GCM SRTP)
 * and a client, and checks on the connected objects every field and method each patch
 * uses. sfu/main.ts refuses to start when one is missing, naming the patch.
 */
import type { Socket } from "node:dgram";
import { RTCPeerConnection } from "werift";
import { asDtlsServer, type MediaNetwork, peerConfig } from "./media";
import { sendsDirectly } from "./srtp/udp-send";

/** A patch whose target moved, and what is missing. */
export interface PatchFailure {
  patch: string;
  problem: string;
}

/** What the probes look at: the SFU side of a connected pair. */
export interface Connected {
  pc: RTCPeerConnection;
}

type Probe = (connected: Connected) => string | undefined;

const LOOPBACK: MediaNetwork = { mediaIp: "127.0.0.1", iceTcp: false };

/** Untyped access to werift internals: the probes check every step. */
const at = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
const isFunction = (value: unknown) => typeof value === "function";

/** Names what `fields` lacks on `value` (absent, or not of the expected type), or undefined. */
function lacks(value: unknown, what: string, fields: Record<string, string>): string | undefined {
  if (typeof value !== "object" || value === null) return `${what} is missing`;
  for (const [field, type] of Object.entries(fields)) {
    const actual = Array.isArray(at(value, field)) ? "array" : typeof at(value, field);
    if (type === "present" ? !(field in value) : actual !== type) {
      return `${what}.${field} is ${field in value ? actual : "missing"} (expected ${type})`;
    }
  }
  return undefined;
}

const dtlsOf = (c: Connected) => c.pc.dtlsTransports[0];
const agentOf = (c: Connected) => at(at(dtlsOf(c), "iceTransport"), "connection");
const receiverOf = (c: Connected) => at(c.pc.getTransceivers()[0], "receiver");

/** Each patch, and the fields and methods of werift's objects it relies on. */
export const PROBES: Record<string, Probe> = {
  hardenDtls: (c) =>
    lacks(dtlsOf(c), "RTCDtlsTransport", { onStateChange: "object", dtls: "object" }) ??
    lacks(at(dtlsOf(c), "onStateChange"), "RTCDtlsTransport.onStateChange", {
      subscribe: "function",
    }) ??
    lacks(
      at(at(at(dtlsOf(c), "dtls"), "transport"), "socket"),
      "the DTLS socket's transport.socket",
      {
        onData: "function",
      },
    ),
  disableWeriftTransportFeedback: (c) => {
    const receiver = receiverOf(c);
    const getter = Object.getOwnPropertyDescriptor(
      Object.getPrototypeOf(receiver ?? {}),
      "twccEnabled",
    )?.get;
    if (!isFunction(getter)) return "RTCRtpReceiver.prototype.twccEnabled is not a getter";
    return lacks(receiver, "RTCRtpReceiver", { receiverTWCC: "present" });
  },
  settleWeriftNacks: (c) =>
    lacks(at(receiverOf(c), "nack"), "RTCRtpReceiver.nack", {
      sendNack: "function",
      lostSeqNumbers: "array",
      mediaSourceSsrc: "present",
    }),
  nackPerStream: (c) =>
    lacks(at(receiverOf(c), "nack"), "RTCRtpReceiver.nack", {
      addPacket: "function",
      close: "function",
      constructor: "function",
    }),
  // Also what Producer.sendNack uses: the receiver's RTCP SSRC and DTLS transport.
  disableWeriftNacks: (c) =>
    lacks(at(receiverOf(c), "nack"), "RTCRtpReceiver.nack", {
      addPacket: "function",
      close: "function",
    }) ?? lacks(receiverOf(c), "RTCRtpReceiver", { rtcpSsrc: "number", dtlsTransport: "object" }),
  resumeRestartedIce: (c) =>
    lacks(at(dtlsOf(c), "iceTransport"), "RTCIceTransport", {
      start: "function",
      waitStart: "present",
    }) ??
    lacks(agentOf(c), "the ICE agent", {
      state: "string",
      remoteUsername: "string",
      localCandidatesEnd: "boolean",
      nominated: "object",
    }),
  followNominations: (c) =>
    lacks(agentOf(c), "the ICE agent", {
      iceLite: "boolean",
      checkIncoming: "function",
      handleConnectionClosed: "function",
      checkList: "array",
    }) ??
    lacks(at(agentOf(c), "nominated"), "the nominated pair", {
      protocol: "object",
      remoteAddr: "array",
      priority: "number",
      nominated: "boolean",
    }) ??
    (at(agentOf(c), "iceLite") === true
      ? undefined
      : "the SFU's agent does not say it is ICE-lite"),
  authenticateChecks: (c) => {
    const agent = agentOf(c);
    const missing = lacks(agent, "the ICE agent", {
      protocols: "array",
      userHistory: "object",
      // answerBinding: werift's handler after its response, and its role check.
      iceControlling: "boolean",
      options: "object",
      checkList: "array",
      earlyChecks: "array",
      earlyChecksDone: "boolean",
      checkIncoming: "function",
    });
    if (missing) return missing;
    const protocols = at(agent, "protocols") as unknown[];
    if (protocols.length === 0) return "the ICE agent has no protocols";
    for (const protocol of protocols) {
      const problem = lacks(at(protocol, "onRequestReceived"), "a protocol's onRequestReceived", {
        execute: "function",
      });
      if (problem) return problem;
    }
    return undefined;
  },
  "FastTransport (srtp/fast-transport.ts)": (c) =>
    lacks(at(dtlsOf(c), "srtp"), "RTCDtlsTransport.srtp", {
      decrypt: "function",
      localContext: "object",
      remoteContext: "object",
    }) ??
    lacks(at(at(dtlsOf(c), "srtp"), "localContext"), "the SRTP context", {
      srtpSessionKey: "object",
      srtpSessionSalt: "object",
      profile: "number",
    }) ??
    lacks(at(dtlsOf(c), "srtcp"), "RTCDtlsTransport.srtcp", {
      decrypt: "function",
      localContext: "object",
      remoteContext: "object",
    }) ??
    lacks(at(at(dtlsOf(c), "srtcp"), "localContext"), "the SRTCP context", {
      srtcpSessionKey: "object",
      srtcpSessionSalt: "object",
      cipher: "object",
    }) ??
    lacks(at(at(at(dtlsOf(c), "srtcp"), "localContext"), "cipher"), "the SRTCP cipher", {
      encryptRTCP: "function",
    }) ??
    lacks(
      at(at(at(agentOf(c), "nominated"), "protocol"), "transport"),
      "the nominated pair's transport",
      {
        type: "string",
        socket: "object",
        closed: "boolean",
        onData: "function", // FastTransport.receive goes in front of it
      },
    ) ??
    lacks(at(at(agentOf(c), "nominated"), "protocol"), "the nominated pair's protocol", {
      localCandidate: "object",
    }) ??
    lacks(at(agentOf(c), "nominated"), "the nominated pair", {
      packetsReceived: "number",
      bytesReceived: "number",
    }) ??
    lacks(dtlsOf(c), "RTCDtlsTransport", { packetsReceived: "number", bytesReceived: "number" }),
  "sendDatagram (srtp/udp-send.ts)": (c) => {
    const socket = at(at(at(at(agentOf(c), "nominated"), "protocol"), "transport"), "socket");
    if (!socket) return "the nominated pair has no UDP socket";
    return sendsDirectly(socket as Socket)
      ? undefined
      : "process.binding('udp_wrap').SendWrap or the dgram socket's handle is gone";
  },
};

/** Runs every probe on `connected`: the patches whose target is missing. */
export function probePatches(
  connected: Connected,
  probes: Record<string, Probe> = PROBES,
): PatchFailure[] {
  const failures: PatchFailure[] = [];
  for (const [patch, probe] of Object.entries(probes)) {
    let problem: string | undefined;
    try {
      problem = probe(connected);
    } catch (err) {
      problem = `checking it threw: ${String(err)}`;
    }
    if (problem) failures.push({ patch, problem });
  }
  return failures;
}

/**
 * Connects an SFU-side and a client-side werift peer connection over loopback (a video
 * section, as a publisher's) and runs `check` on the SFU side once it is connected (both
 * are closed when it returns or settles). `prepare` sees the SFU side before the client
 * has its answer, as the SFU's own patches do.
 */
export async function withLoopbackPair<T>(
  check: (connected: Connected) => T | Promise<T>,
  {
    timeoutMs = 5_000,
    prepare,
  }: { timeoutMs?: number; prepare?: (sfu: RTCPeerConnection) => void } = {},
): Promise<T> {
  const sfu = new RTCPeerConnection(peerConfig(LOOPBACK, "publish", "lite"));
  const client = new RTCPeerConnection(peerConfig(LOOPBACK, "publish"));
  let timer: NodeJS.Timeout | undefined;
  try {
    client.onicecandidate = ({ candidate }) => {
      if (candidate) void sfu.addIceCandidate(candidate).catch(() => {});
    };
    client.addTransceiver("video", { direction: "sendonly" });
    await client.setLocalDescription(await client.createOffer());
    await sfu.setRemoteDescription(client.localDescription!);
    const answer = await sfu.createAnswer();
    await sfu.setLocalDescription({ type: "answer", sdp: asDtlsServer(answer.sdp) });
    prepare?.(sfu);
    const connected = new Promise<void>((resolve) => {
      if (sfu.connectionState === "connected") resolve();
      sfu.connectionStateChange.subscribe((state) => {
        if (state === "connected") resolve();
      });
    });
    await client.setRemoteDescription(sfu.localDescription!);
    await Promise.race([
      connected,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no loopback connection within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return await check({ pc: sfu });
  } finally {
    clearTimeout(timer);
    await Promise.allSettled([sfu.close(), client.close()]);
  }
}

/** The message sfu/main.ts exits with: each patch whose target moved, and what is missing. */
export function describeFailures(failures: PatchFailure[]): string {
  const lines = failures.map((f) => `  - ${f.patch}: ${f.problem}`);
  return [
    'werift has changed under the SFU\'s patches (they target werift 0.25.2 exactly; see docs/sfu.md, "werift notes"):',
    ...lines,
  ].join("\n");
}

/** The start-up check: the patches whose target is missing (none on the pinned werift). */
export async function checkWeriftPatches(): Promise<PatchFailure[]> {
  try {
    return await withLoopbackPair((connected) => probePatches(connected));
  } catch (err) {
    return [{ patch: "the loopback connection the check needs", problem: String(err) }];
  }
}
