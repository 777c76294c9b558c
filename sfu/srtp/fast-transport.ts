/**
 * The SFU's own SRTP on top of a werift DTLS transport, for the hot path (docs/sfu.md,
 * "The fast forwarding path"). werift keeps doing ICE, DTLS, SRTCP indices and the RTCP no
 * listener reads; this class takes over SRTP and SRTCP once DTLS has negotiated
 * AEAD_AES_128_GCM:
 *
 * - **Receive**: werift's `srtp.decrypt` (a new decipher per packet) is replaced with
 *   {@link AesGcmSrtp.unprotect}; every plaintext packet is also shown to `onRtp` with its
 *   arrival time (transport-wide congestion control feedback reads it there). Decrypted
 *   RTCP is shown to `onRtcp` first, which may keep it from werift's parse and routing.
 *   Datagrams this class can finish — routed media, RTCP the listener reads — are taken
 *   off the UDP socket before werift's ICE dispatch sees them (`receive`, RFC 7983's
 *   demultiplexing by first byte); the rest, and every packet of a socket not intercepted,
 *   go through werift to the same code.
 * - **Send**: a packet assembled in the scratch area is sealed and written straight to the
 *   nominated ICE pair's UDP socket, skipping werift's sender, its re-serialisation and its
 *   promise per packet.
 *
 * With the other SRTP profile (AES_CM_128_HMAC_SHA1_80, for a client without GCM) `create`
 * returns undefined and callers use werift's own path.
 */
import type { Socket } from "node:dgram";
import { type RTCDtlsTransport, type RTCPeerConnection, SrtpAuthenticationError } from "werift";
import { logger } from "../log";
import { AesGcmSrtp, scratchBuffer } from "./aes-gcm";
import { sendCopy, sendDatagram } from "./udp-send";

const log = logger("srtp");

/** RFC 7714's profile number, as werift reports it. */
const AEAD_AES_128_GCM = 0x0007;

interface SrtpContextKeys {
  srtpSessionKey: Buffer;
  srtpSessionSalt: Buffer;
  profile: number;
}

/** werift's SRTCP context: its session key and salt, and its cipher (whose SRTCP sealing we replace). */
interface SrtcpContextKeys {
  srtcpSessionKey: Buffer;
  srtcpSessionSalt: Buffer;
  cipher: { encryptRTCP(rtcp: Buffer, index: number): Buffer };
}

interface SrtcpSession {
  localContext?: SrtcpContextKeys;
  remoteContext?: SrtcpContextKeys;
  decrypt: (data: Buffer) => Buffer;
}

/** werift's ICE agent (its `Connection`), the parts used here. */
interface IceAgent {
  protocols: IceProtocol[];
  nominated?: NominatedPair;
}

/** One of werift's local sockets (`StunProtocol`) and its transport. */
interface IceProtocol {
  /** Set once the socket is a local candidate: werift drops data arriving before. */
  localCandidate?: unknown;
  transport?: {
    type?: string;
    socket?: Socket;
    closed?: boolean;
    /** Called with every datagram the socket receives. */
    onData: (data: Buffer, addr: [string, number]) => void;
  };
}

interface NominatedPair {
  remoteAddr: [string, number];
  protocol: IceProtocol;
  packetsReceived: number;
  bytesReceived: number;
}

/** A nominated pair on a UDP socket (`FastTransport.udpPair`). */
type UdpPair = NominatedPair & {
  protocol: { transport: NonNullable<IceProtocol["transport"]> & { socket: Socket } };
};

/** werift's DTLS transport counts the media datagrams it receives and the RTCP it sends. */
interface DtlsCounters {
  packetsReceived: number;
  bytesReceived: number;
  packetsSent: number;
  bytesSent: number;
}

/** Per incoming SSRC: RFC 3711 §3.3.1 rollover counter estimation state. */
interface ReceiveState {
  roc: number;
  lastSeq: number;
}

export type RtpListener = (packet: Buffer, headerLength: number, arrivalMs: number) => void;

/**
 * Sees a decrypted compound RTCP packet before werift; returns true when it has dealt with
 * it (werift then neither parses nor routes it), false to leave it to werift.
 */
export type RtcpListener = (packet: Buffer) => boolean;

/**
 * Takes a decrypted media packet werift will not see: `packet` holds the plaintext RTP
 * (header of `headerLength` bytes, then the payload up to `payloadEnd`, padding removed).
 */
export type MediaRoute = (packet: Buffer, headerLength: number, payloadEnd: number) => void;

interface Route {
  payloadType: number;
  deliver: MediaRoute;
}

/** UDP transports already behind a `FastTransport.receive`. */
const intercepted = new WeakSet<object>();

/**
 * Thrown out of the SRTP or SRTCP `decrypt` werift calls, for a packet that has been handed
 * to its route (media) or read (RTCP): werift drops a packet whose SRTP fails (a debug log
 * line, nothing else), so this is how it is told to stop there, before its parse and
 * route. One instance: throwing it captures no stack.
 */
const ROUTED = new SrtpAuthenticationError("packet handed to the SFU's own route");

export class FastTransport {
  private readonly sender: AesGcmSrtp;
  private readonly receiver: AesGcmSrtp;
  private readonly receiveStates = new Map<number, ReceiveState>();
  private onRtp: RtpListener | undefined;
  private onRtcp: RtcpListener | undefined;
  private readonly routes = new Map<number, Route>();
  /** Opens SRTCP with the peer's keys; undefined while werift's SRTCP context is missing. */
  private rtcpOpener: AesGcmSrtp | undefined;
  packetsSent = 0;
  bytesSent = 0;

  private constructor(
    readonly dtls: RTCDtlsTransport,
    local: SrtpContextKeys,
    remote: SrtpContextKeys,
  ) {
    this.sender = new AesGcmSrtp(local.srtpSessionKey, local.srtpSessionSalt);
    this.receiver = new AesGcmSrtp(remote.srtpSessionKey, remote.srtpSessionSalt);
  }

  /** Takes over SRTP of a connected DTLS transport, or returns undefined (not GCM, not ready). */
  static create(dtls: RTCDtlsTransport): FastTransport | undefined {
    const session = dtls.srtp as unknown as
      | {
          localContext?: SrtpContextKeys;
          remoteContext?: SrtpContextKeys;
          decrypt: (data: Buffer) => Buffer;
        }
      | undefined;
    const local = session?.localContext;
    const remote = session?.remoteContext;
    if (!session || !local || !remote || local.profile !== AEAD_AES_128_GCM) return undefined;
    let transport: FastTransport;
    try {
      transport = new FastTransport(dtls, local, remote);
    } catch {
      return undefined; // werift's own SRTP keeps working
    }
    session.decrypt = (data) => transport.decrypt(data);
    transport.rtcpOpener = takeOverSrtcp(dtls, (rtcp) => transport.readRtcp(rtcp));
    transport.interceptDatagrams();
    return transport;
  }

  /** Sees every incoming plaintext RTP packet (one listener). */
  listen(listener: RtpListener | undefined): void {
    this.onRtp = listener;
  }

  /** Sees every incoming encrypted RTCP packet once decrypted, before werift (one listener). */
  listenRtcp(listener: RtcpListener | undefined): void {
    this.onRtcp = listener;
  }

  /**
   * From now on, media of `ssrc` with `payloadType` goes to `deliver` instead of through
   * werift's RTP parse and route (docs/sfu.md, "The fast forwarding path"). Packets of
   * other payload types (RTX, RED) of that SSRC, and of other SSRCs, still take werift's.
   */
  route(ssrc: number, payloadType: number, deliver: MediaRoute): void {
    this.routes.set(ssrc, { payloadType, deliver });
  }

  unroute(ssrc: number): void {
    this.routes.delete(ssrc);
  }

  /**
   * Seals the RTP packet in the scratch area and sends it. Returns false when there is no
   * UDP path (not connected, or ICE-TCP: then the caller falls back to werift).
   */
  sendScratch(
    headerLength: number,
    payloadLength: number,
    ssrc: number,
    roc: number,
    seq: number,
  ): boolean {
    const pair = this.udpPair();
    if (!pair) return false;
    const length = this.sender.sealScratch(headerLength, payloadLength, ssrc, roc, seq);
    // Copied out of the scratch area (the next packet is sealed there) into a send buffer
    // that is reused for as long as sends complete synchronously: no garbage per packet.
    const remote = pair.remoteAddr;
    sendCopy(pair.protocol.transport.socket, scratchBuffer(), length, remote[1], remote[0]);
    this.packetsSent++;
    this.bytesSent += length;
    return true;
  }

  /**
   * Sends a compound RTCP packet as SRTCP straight to the nominated pair's UDP socket, as
   * media goes: werift's SRTCP session keeps the index and our sealer seals (`takeOverSrtcp`).
   * werift's `sendRtcp` took its ICE agent's promise chain and `socket.send`'s address lookup
   * for each, and transport-wide feedback alone is 20 packets a second per publisher. Returns
   * false when there is no UDP path (the caller falls back to werift's `sendRtcp`).
   */
  sendRtcp(payload: Buffer): boolean {
    const pair = this.udpPair();
    const srtcp = (this.dtls as unknown as { srtcp?: { encrypt(rtcp: Buffer): Buffer } }).srtcp;
    if (!pair || !srtcp) return false;
    const datagram = srtcp.encrypt(payload);
    const remote = pair.remoteAddr;
    sendDatagram(pair.protocol.transport.socket, datagram, remote[1], remote[0]);
    const dtls = this.dtls as unknown as DtlsCounters;
    dtls.packetsSent++;
    dtls.bytesSent += datagram.length;
    return true;
  }

  /**
   * The nominated ICE pair when it is on an open UDP socket, or undefined (none yet, or
   * ICE-TCP). Returns werift's own object: nothing is allocated per packet.
   */
  private udpPair(): UdpPair | undefined {
    const pair = (this.dtls.iceTransport.connection as unknown as IceAgent).nominated;
    const transport = pair?.protocol.transport;
    if (!transport?.socket || transport.type !== "udp" || transport.closed) return undefined;
    return pair as UdpPair;
  }

  /** A stream we sent ends: drop the keystream made ahead for it. */
  forget(ssrc: number): void {
    this.sender.forget(ssrc);
  }

  /**
   * Puts this transport in front of werift's ICE dispatch on each of the connection's UDP
   * sockets (issue 15): werift handed every datagram through three layers of its events (a
   * promise each), its STUN parser and its DTLS transport before our `decrypt`, and was then
   * stopped by an exception. `receive` finishes what it can here; everything else (STUN,
   * DTLS, media not routed, RTCP the listener leaves, unencrypted RTCP) goes on to werift as
   * before. Sockets werift opens later (none after gathering, in practice) stay werift's.
   */
  private interceptDatagrams(): void {
    const agent = this.dtls.iceTransport?.connection as unknown as IceAgent | undefined;
    for (const protocol of agent?.protocols ?? []) {
      const transport = protocol.transport;
      if (!transport || transport.type !== "udp" || intercepted.has(transport)) continue;
      intercepted.add(transport);
      const werift = transport.onData;
      transport.onData = (data, addr) => {
        if (!this.receive(data, protocol)) werift(data, addr);
      };
    }
  }

  /**
   * RFC 7983: a first byte of 128–191 is RTP or RTCP (RFC 5761 tells them apart by the
   * second, as werift does). Returns true when the datagram was dealt with here: routed
   * media (delivered, or dropped when it fails authentication) and SRTCP the listener reads
   * (or that fails authentication), with werift's receive counters kept as it keeps them.
   * False leaves the datagram to werift untouched.
   */
  private receive(data: Buffer, protocol: IceProtocol): boolean {
    const first = data[0];
    if (first === undefined || first < 128 || first > 191 || !protocol.localCandidate) return false;
    const second = data[1] ?? 0;
    if (second >= 192 && second <= 208) {
      if (!this.onRtcp || !this.rtcpOpener) return false;
      const rtcp = this.rtcpOpener.unprotectRtcp(data);
      if (rtcp === undefined) return false; // not encrypted (E = 0): werift's own code
      // Forged or corrupt: dropped, as werift drops it. Left by the listener: werift parses it.
      if (rtcp !== null && !this.readRtcp(rtcp)) return false;
    } else {
      if (data.length < 12) return false;
      const route = this.routes.get(data.readUInt32BE(8));
      if (!route || (second & 0x7f) !== route.payloadType) return false;
      const headerLength = rtpHeaderLength(data);
      if (headerLength < 0) return false;
      const packet = this.open(data, headerLength);
      if (packet) this.deliver(packet, headerLength, route);
    }
    const pair = (this.dtls.iceTransport.connection as unknown as IceAgent).nominated;
    if (pair?.protocol === protocol) {
      pair.packetsReceived++;
      pair.bytesReceived += data.length;
    }
    const dtls = this.dtls as unknown as DtlsCounters;
    dtls.packetsReceived++;
    dtls.bytesReceived += data.length;
    return true;
  }

  /** werift's SRTP decrypt, replaced: a packet werift still receives (not intercepted or not routed). */
  private decrypt(data: Buffer): Buffer {
    const headerLength = rtpHeaderLength(data);
    if (headerLength < 0) throw new SrtpAuthenticationError("malformed SRTP packet");
    const packet = this.open(data, headerLength);
    if (!packet) throw new SrtpAuthenticationError("SRTP authentication failed");
    const route = this.routes.get(packet.readUInt32BE(8));
    if (route && (packet[1]! & 0x7f) === route.payloadType) {
      this.deliver(packet, headerLength, route);
      throw ROUTED;
    }
    return packet;
  }

  /**
   * Decrypts an SRTP packet in place (RFC 3711 §3.3.1 rollover estimation per SSRC) and
   * shows it to the RTP listener: the plaintext, or undefined when authentication fails.
   */
  private open(data: Buffer, headerLength: number): Buffer | undefined {
    const ssrc = data.readUInt32BE(8);
    const seq = data.readUInt16BE(2);
    let state = this.receiveStates.get(ssrc);
    const roc = state ? estimateRoc(state, seq) : 0;
    const length = this.receiver.unprotect(data, data.length, headerLength, ssrc, roc, seq);
    if (length < 0) return undefined;
    if (!state) {
      state = { roc, lastSeq: seq };
      this.receiveStates.set(ssrc, state);
    } else if (roc > state.roc || (roc === state.roc && seq > state.lastSeq)) {
      state.roc = roc;
      state.lastSeq = seq;
    }
    const packet = data.subarray(0, length);
    this.onRtp?.(packet, headerLength, performance.now());
    return packet;
  }

  /** Hands plaintext media to its route; a packet whose padding does not fit is dropped. */
  private deliver(packet: Buffer, headerLength: number, route: Route): void {
    const end = payloadEnd(packet, headerLength);
    if (end < 0) return;
    try {
      route.deliver(packet, headerLength, end);
    } catch (err) {
      log.error("routing a media packet failed", {
        ssrc: packet.readUInt32BE(8),
        error: String(err),
      });
    }
  }

  /** Whether the RTCP listener has dealt with `rtcp` (one that threw is dropped, not re-read). */
  private readRtcp(rtcp: Buffer): boolean {
    if (!this.onRtcp) return false;
    try {
      return this.onRtcp(rtcp);
    } catch (err) {
      log.error("reading an RTCP packet failed", { error: String(err) });
      return true; // part of it may have been acted on: werift must not act on it again
    }
  }
}

/**
 * SRTCP with our GCM code too (RFC 7714 §9): werift made a Node cipher object per RTCP
 * packet each way (tens of µs), which was most of what 50 idle subscribers cost (their
 * receiver reports and REMBs). werift keeps the SRTCP index per SSRC (it calls the
 * cipher's `encryptRTCP` with it); we replace the sealing and the opening. An opened packet
 * goes to `read` first and only to werift's RTCP parse when `read` leaves it. A packet that
 * is not encrypted (E = 0; browsers never send one) still goes to werift's own code.
 */
function takeOverSrtcp(
  dtls: RTCDtlsTransport,
  read: (rtcp: Buffer) => boolean,
): AesGcmSrtp | undefined {
  const session = (dtls as unknown as { srtcp?: SrtcpSession }).srtcp;
  const local = session?.localContext;
  const remote = session?.remoteContext;
  if (!session || !local || !remote) return undefined;
  const sealer = new AesGcmSrtp(local.srtcpSessionKey, local.srtcpSessionSalt);
  const opener = new AesGcmSrtp(remote.srtcpSessionKey, remote.srtcpSessionSalt);
  local.cipher.encryptRTCP = (rtcp, index) => sealer.protectRtcp(rtcp, index);
  const weriftDecrypt = session.decrypt;
  session.decrypt = (data) => {
    const rtcp = opener.unprotectRtcp(data);
    if (rtcp === null) throw new SrtpAuthenticationError("SRTCP authentication failed");
    if (rtcp === undefined) return weriftDecrypt(data);
    if (read(rtcp)) throw ROUTED;
    return rtcp;
  };
  return opener;
}

/** RFC 3711 §3.3.1: the index's ROC guessed from the highest sequence number seen. */
function estimateRoc(state: ReceiveState, seq: number): number {
  if (state.lastSeq < 0x8000)
    return seq - state.lastSeq > 0x8000 && state.roc > 0 ? state.roc - 1 : state.roc;
  return state.lastSeq - 0x8000 > seq ? state.roc + 1 : state.roc;
}

/** Length of the RTP header (fixed part, CSRCs, extension), or -1 when it does not fit. */
export function rtpHeaderLength(packet: Uint8Array): number {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return -1;
  let length = 12 + (packet[0]! & 0x0f) * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < length + 4) return -1;
    length += 4 + ((packet[length + 2]! << 8) | packet[length + 3]!) * 4;
  }
  return length <= packet.length ? length : -1;
}

/**
 * Where the payload of a plaintext RTP packet ends: before its padding (RFC 3550 §5.1, the
 * last byte counts the padding), or -1 when the padding does not fit.
 */
export function payloadEnd(packet: Uint8Array, headerLength: number): number {
  if (!(packet[0]! & 0x20)) return packet.length;
  const padding = packet[packet.length - 1]!;
  const end = packet.length - padding;
  return padding > 0 && end >= headerLength ? end : -1;
}

const watched = new WeakSet<RTCDtlsTransport>();

/**
 * Calls `ready` synchronously when a DTLS transport of `pc` connects, i.e. right after
 * werift made its SRTP session and before any SRTP packet is handled: a browser starts
 * its bandwidth probes at once, and feedback that misses them makes the probes fail.
 * Call after each setLocal/RemoteDescription (new transports appear there).
 */
export function whenSrtpReady(
  pc: RTCPeerConnection,
  ready: (dtls: RTCDtlsTransport) => void,
): void {
  for (const dtls of pc.dtlsTransports) {
    if (watched.has(dtls)) continue;
    watched.add(dtls);
    // An exception here would fail werift's connect(): keep it to ourselves.
    const safely = () => {
      try {
        ready(dtls);
      } catch (err) {
        log.error("taking over SRTP failed; werift's SRTP stays in use", { error: String(err) });
      }
    };
    if (dtls.state === "connected") safely();
    dtls.onStateChange.subscribe((state) => {
      if (state === "connected") safely();
    });
  }
}
