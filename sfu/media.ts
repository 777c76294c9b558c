/**
 * What the SFU's werift peer connections negotiate and how they reach the network:
 * codecs, RTP header extensions, ICE options, and the SDP edits werift needs from us.
 */
import {
  type PeerConfig,
  type RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCIceServer,
  // werift's extension factories are named like React hooks; they are not.
  useAbsSendTime as absSendTime,
  useAudioLevelIndication as audioLevelIndication,
  useSdesMid as sdesMid,
  useSdesRTPStreamId as sdesRtpStreamId,
  useTransportWideCC as transportWideCC,
} from "werift";
import { NegotiationError } from "./errors";
import type { IceCandidate } from "./protocol";

/** Where media sockets live; shared by the SFU and the bot. */
export interface MediaNetwork {
  /** Bind and advertise only this address (e.g. 127.0.0.1 in tests); unset = all interfaces. */
  mediaIp?: string;
  /** Written into candidates in place of the bound address (1:1 NAT). */
  announcedIp?: string;
  portRange?: [number, number];
  iceTcp: boolean;
  /** STUN/TURN for a full ICE agent (the bot); the SFU is ICE-lite and gathers host candidates only. */
  iceServers?: RTCIceServer[];
  /**
   * The SFU's connections take over SRTP with their own (srtp/fast-transport.ts) once DTLS is
   * up; false keeps werift's own path (SFU_FAST_SRTP=off, the benchmark's baseline).
   */
  fastSrtp?: boolean;
}

/**
 * Which ICE agent a connection runs (RFC 8445 §2.5):
 * - `lite`: the SFU's. It has public (or announced) host candidates only, never sends a
 *   connectivity check, never resolves or even reads the peer's candidates, and learns the
 *   peer's address from the checks the peer sends it (peer-reflexive). The peer is always
 *   the controlling agent. This is what mediasoup and Janus's ice-lite mode do; why, and
 *   what it cost, in docs/sfu.md ("ICE").
 * - `full`: a regular agent that gathers and checks, for clients (the bot).
 */
export type IceAgent = "lite" | "full";

/**
 * Which side of a participant a connection is: the publisher's uplink or the subscriber's
 * downlink. They differ in congestion control (docs/sfu.md, "Bandwidth"):
 * - publish: transport-wide congestion control. The SFU answers with transport-cc feedback
 *   (`transport-feedback.ts`), so the browser's send-side estimator probes up within seconds.
 * - subscribe: REMB. The SFU stamps abs-send-time on what it forwards and the browser's
 *   receive-side estimator reports what it can take.
 */
export type ConnectionSide = "publish" | "subscribe";

/**
 * Opus and VP8 with the feedback the SFU relays (NACK, PLI, FIR) and the bandwidth
 * feedback of each side. RTX (RFC 4588) on the subscribe side: the SFU answers a
 * subscriber's NACKs with retransmissions in their own stream, which the browser counts
 * apart from the media and does not mistake for reordering. Not on the publish side:
 * werift's receiver does not map RTX to simulcast layers, so publishers retransmit in the
 * original stream (docs/sfu.md, "NACK and retransmission").
 */
export function codecs(side: ConnectionSide = "publish"): Pick<PeerConfig, "codecs"> {
  const congestion = side === "publish" ? [{ type: "transport-cc" }] : [{ type: "goog-remb" }];
  return codecsWith(side, side === "publish" ? [{ type: "transport-cc" }] : [], congestion);
}

type Feedback = Array<{ type: string; parameter?: string }>;

/**
 * Opus and VP8 (NACK, PLI, FIR and `videoCongestion`), plus RTX on the subscribe side:
 * the SFU's codecs, and the bots' (sfu/bot/browser-like.ts) with a browser's feedback.
 */
export function codecsWith(
  side: ConnectionSide,
  audioFeedback: Feedback,
  videoCongestion: Feedback,
): Pick<PeerConfig, "codecs"> {
  return {
    codecs: {
      audio: [
        new RTCRtpCodecParameters({
          mimeType: "audio/opus",
          clockRate: 48000,
          channels: 2,
          parameters: "minptime=10;useinbandfec=1",
          rtcpFeedback: audioFeedback,
        }),
      ],
      video: [
        new RTCRtpCodecParameters({
          mimeType: "video/VP8",
          clockRate: 90000,
          rtcpFeedback: [
            { type: "nack" },
            { type: "nack", parameter: "pli" },
            { type: "ccm", parameter: "fir" },
            ...videoCongestion,
          ],
        }),
        // werift gives it the payload type after VP8's and `apt` pointing at VP8.
        ...(side === "subscribe"
          ? [new RTCRtpCodecParameters({ mimeType: "video/rtx", clockRate: 90000 })]
          : []),
      ],
    },
  };
}

/** werift's RTP header extension factories, for configurations built elsewhere (the bots'). */
export const extension = {
  mid: sdesMid,
  rid: sdesRtpStreamId,
  audioLevel: audioLevelIndication,
  absSendTime,
  transportWideCC,
};

export function headerExtensions(
  side: ConnectionSide = "publish",
): Pick<PeerConfig, "headerExtensions"> {
  const congestion = side === "publish" ? transportWideCC() : absSendTime();
  return {
    headerExtensions: {
      audio: [
        sdesMid(),
        audioLevelIndication(),
        ...(side === "publish" ? [transportWideCC()] : []),
      ],
      video: [sdesMid(), sdesRtpStreamId(), congestion],
    },
  };
}

/** ICE options for one peer connection. */
export function iceOptions(network: MediaNetwork, agent: IceAgent): Partial<PeerConfig> {
  const options: Partial<PeerConfig> = {
    iceLite: agent === "lite",
    iceUseTcp: network.iceTcp,
    iceTcpPassive: network.iceTcp,
    // A lite agent gathers no server-reflexive or relayed candidates: werift skips its
    // built-in public STUN server (which would otherwise be queried) in that mode.
    iceServers: agent === "lite" ? [] : (network.iceServers ?? []),
    icePortRange: network.portRange,
  };
  if (network.mediaIp) {
    // werift gathers every non-loopback interface address and only *filters* that list by
    // iceInterfaceAddresses (falling back to all when nothing matches). Turning off
    // interface discovery and adding the one address makes it gather exactly that one,
    // and binding to it keeps sockets off every other interface.
    const v6 = network.mediaIp.includes(":");
    options.iceUseIpv4 = false;
    options.iceUseIpv6 = false;
    options.iceAdditionalHostAddresses = [network.mediaIp];
    options.iceInterfaceAddresses = v6 ? { udp6: network.mediaIp } : { udp4: network.mediaIp };
  }
  return options;
}

export function peerConfig(
  network: MediaNetwork,
  side: ConnectionSide = "publish",
  agent: IceAgent = "full",
): Partial<PeerConfig> {
  return {
    ...codecs(side),
    ...headerExtensions(side),
    ...iceOptions(network, agent),
    bundlePolicy: "max-bundle",
  };
}

/**
 * werift answers as DTLS client (`a=setup:active`) and, as client, never completes the
 * handshake with Firefox. Rewriting our answer to `passive` before setLocalDescription
 * makes werift take the DTLS server role (it reads the role back from the applied SDP).
 */
export function asDtlsServer(answerSdp: string): string {
  return answerSdp.replace(/^a=setup:(?:active|actpass)(\r?)$/gm, "a=setup:passive$1");
}

/** Rewrites the address of every host candidate line in an SDP or candidate string. */
export function announceAddress(
  text: string,
  boundIp: string | undefined,
  announcedIp: string | undefined,
): string {
  if (!announcedIp || !boundIp || boundIp === announcedIp) return text;
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...
  return text.replace(
    /(candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ )/g,
    (whole, head: string, address: string, tail: string) =>
      address === boundIp ? `${head}${announcedIp}${tail}` : whole,
  );
}

/**
 * A peer's trickled candidate. The SFU is ICE-lite: it learns the peer's addresses from the
 * connectivity checks the peer sends (peer-reflexive), so a remote candidate is never
 * needed, and one that names a host only by mDNS (`<uuid>.local`, browsers' default) or an
 * address the SFU cannot route to would only cost time. Candidates are therefore checked for
 * shape and ignored: nothing here waits on the network, so no command ever does.
 */
export function acceptCandidate(pc: RTCPeerConnection, candidate: IceCandidate | null): void {
  // Browsers signal end-of-candidates with null or an empty candidate string.
  if (candidate === null || candidate.candidate === "") return;
  // A candidate for a connection never negotiated is a client bug worth telling it about.
  if (!pc.remoteDescription)
    throw new NegotiationError("bad_candidate", "that connection has not been negotiated yet");
  if (
    !/^(a=)?candidate:\S+ \d+ (udp|tcp) \d+ \S+ \d+ typ (host|srflx|prflx|relay)( |$)/i.test(
      candidate.candidate,
    )
  ) {
    throw new NegotiationError("bad_candidate", "the ICE candidate is malformed");
  }
}
