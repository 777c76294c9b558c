/**
 * Workarounds for werift 0.25.2 bugs that matter to a server exposed to the internet.
 * Each is applied from outside (no edits in node_modules) and documented in docs/sfu.md.
 * package.json pins werift exactly, and sfu/self-check.ts checks at start that every
 * patch here finds its target (add a probe there with each new patch; a test enforces it).
 *
 * DTLS record injection: werift hands every datagram whose first byte is 20–63 to its
 * DTLS socket, whatever its source address, and that socket treats an unknown content type
 * (24–63) or a plaintext alert as a fatal alert and closes the transport. One spoofed
 * datagram to a media port therefore killed a running call. We only ever need three
 * content types from a peer, so every other record is dropped before werift sees it.
 * A real close_notify is dropped too; the peer's departure is noticed through signaling
 * and ICE consent instead.
 */
import type { KeyObject } from "node:crypto";
import type { Socket } from "node:dgram";
import type { RTCDtlsTransport, RTCPeerConnection } from "werift";
import { sendDatagram } from "./srtp/udp-send";
import { bindingSuccess, hasValidIntegrity, integrityKey } from "./stun-integrity";

const CHANGE_CIPHER_SPEC = 20;
const HANDSHAKE = 22;
const APPLICATION_DATA = 23;
const RECORD_HEADER = 13;

const hardened = new WeakSet<RTCDtlsTransport>();

/** Call after each setLocal/RemoteDescription: patches DTLS transports not yet patched. */
export function hardenDtls(pc: RTCPeerConnection): void {
  for (const transport of pc.dtlsTransports) {
    if (hardened.has(transport)) continue;
    hardened.add(transport);
    if (transport.dtls) filterRecords(transport);
    transport.onStateChange.subscribe((state) => {
      // The DTLS socket is created synchronously right after the state turns "connecting".
      if (state === "connecting") process.nextTick(() => filterRecords(transport));
    });
  }
}

/** True when every record in the datagram is well-formed and of a type we accept. */
export function isAcceptableDtls(datagram: Buffer): boolean {
  let offset = 0;
  if (datagram.length < RECORD_HEADER) return false;
  while (offset < datagram.length) {
    if (datagram.length - offset < RECORD_HEADER) return false;
    const type = datagram[offset]!;
    if (type !== CHANGE_CIPHER_SPEC && type !== HANDSHAKE && type !== APPLICATION_DATA)
      return false;
    offset += RECORD_HEADER + datagram.readUInt16BE(offset + 11);
  }
  return offset === datagram.length;
}

interface DataPort {
  onData: (data: Buffer, address: unknown) => void;
}

function filterRecords(transport: RTCDtlsTransport): void {
  const port = (
    transport.dtls as unknown as { transport?: { socket?: Partial<DataPort> } } | undefined
  )?.transport?.socket;
  if (!port || typeof port.onData !== "function" || (port as { hardened?: boolean }).hardened)
    return;
  const deliver = port.onData.bind(port);
  port.onData = (data, address) => {
    if (isAcceptableDtls(data)) deliver(data, address);
  };
  (port as { hardened?: boolean }).hardened = true;
}

/**
 * werift 0.25.2's transport-cc feedback is wrong in ways that keep Chromium's estimate at
 * its 300 kbps start (see transport-feedback.ts); the SFU sends its own. This keeps werift's
 * receivers from also sending theirs: its `twccEnabled` getter is shadowed per instance.
 */
export function disableWeriftTransportFeedback(pc: RTCPeerConnection): void {
  for (const transceiver of pc.getTransceivers()) {
    const receiver = transceiver.receiver as unknown as {
      twccEnabled?: unknown;
      receiverTWCC?: { twccRunning: boolean };
    };
    // setRemoteDescription may already have made one (werift's resyncCodecs).
    if (receiver.receiverTWCC) receiver.receiverTWCC.twccRunning = false;
    receiver.receiverTWCC = undefined;
    if (Object.prototype.hasOwnProperty.call(receiver, "twccEnabled")) continue;
    Object.defineProperty(receiver, "twccEnabled", { get: () => false });
  }
}

interface NackGenerator {
  addPacket(packet: { header: { ssrc: number } }): void;
  close(): void;
  sendNack: () => Promise<unknown>;
  lostSeqNumbers: number[];
  mediaSourceSsrc?: number;
}

/**
 * werift's `sendNack` returns a promise that never settles when there is nothing to send,
 * and its 5 ms NACK loop awaits it before checking whether to stop: once a lost packet
 * arrives late, the loop runs at 200 Hz forever, leaking a promise per tick (measured:
 * 25 ms of CPU per second in an SFU with two idle participants). This settles it.
 */
function settleEmptyNacks(generator: NackGenerator, paceMs = 0): NackGenerator {
  const send = generator.sendNack;
  let sentAt = -Infinity;
  generator.sendNack = () => {
    if (generator.lostSeqNumbers.length === 0 || !generator.mediaSourceSsrc)
      return Promise.resolve();
    const now = performance.now();
    if (now - sentAt < paceMs) return Promise.resolve();
    sentAt = now;
    return send();
  };
  return generator;
}

const perStream = new WeakSet<object>();
const settled = new WeakSet<object>();

/** Applies {@link settleEmptyNacks} to every receiver's NACK generator of `pc`. */
export function settleWeriftNacks(pc: RTCPeerConnection): void {
  for (const transceiver of pc.getTransceivers()) {
    const receiver = transceiver.receiver as unknown as { nack?: NackGenerator };
    if (!receiver.nack || settled.has(receiver.nack)) continue;
    settled.add(receiver.nack);
    settleEmptyNacks(receiver.nack);
  }
}

/**
 * werift 0.25.2 keeps one NACK generator per receiver (m-line) and feeds it every SSRC's
 * sequence numbers: with simulcast the three layers' numbers interleave, it sees constant
 * "loss" and NACKs the publisher every 5 ms with up to 150 numbers that belong to other
 * streams, so the browser retransmits packets nobody lost. This gives each SSRC its own
 * generator (werift's class, taken from the instance), each with {@link settleEmptyNacks}.
 */
export function nackPerStream(pc: RTCPeerConnection, paceMs = 0): void {
  for (const transceiver of pc.getTransceivers()) {
    const receiver = transceiver.receiver as unknown as { nack?: NackGenerator };
    const first = receiver.nack;
    if (!first || perStream.has(receiver)) continue;
    perStream.add(receiver);
    const Generator = first.constructor as new (receiver: unknown) => NackGenerator;
    const generators = new Map<number, NackGenerator>();
    const proxy = Object.create(first) as NackGenerator;
    proxy.addPacket = (packet) => {
      let generator = generators.get(packet.header.ssrc);
      if (!generator) {
        generator = settleEmptyNacks(
          generators.size === 0 ? first : new Generator(receiver),
          paceMs,
        );
        generators.set(packet.header.ssrc, generator);
      }
      generator.addPacket(packet);
    };
    proxy.close = () => {
      first.close();
      for (const generator of generators.values()) generator.close();
    };
    receiver.nack = proxy;
  }
}

/**
 * Switches werift's NACK generators off on `pc`'s receivers: the SFU's producers keep their
 * own loss list per publisher stream and send the NACKs (upstream-loss.ts). werift 0.25.2's
 * generator mixes simulcast layers (see {@link nackPerStream}), stops detecting loss for
 * minutes after a gap across the sequence-number wrap (it compares numbers without the
 * wrap), and gives up on a packet silently, so nobody asks for the key frame that is then
 * needed. Call after each setRemoteDescription (new receivers).
 */
export function disableWeriftNacks(pc: RTCPeerConnection): void {
  for (const transceiver of pc.getTransceivers()) {
    const receiver = transceiver.receiver as unknown as { nack?: NackGenerator };
    const generator = receiver.nack;
    if (!generator || disabled.has(receiver)) continue;
    disabled.add(receiver);
    const off = Object.create(generator) as NackGenerator;
    off.addPacket = () => {};
    off.close = () => generator.close();
    receiver.nack = off;
  }
}

const disabled = new WeakSet<object>();

/**
 * werift 0.25.2 restarts ICE when a description brings new credentials, then starts
 * connectivity only for transports whose DTLS is not connected yet; after a restart DTLS
 * still is, so the new generation never starts: a lite agent queues the peer's checks
 * forever (never nominating, so it cannot send), a full agent never checks. This starts
 * every restarted transport whose DTLS is up. Not awaited: it completes when the peer's
 * checks arrive, and nothing may wait on the network (a command's ack least of all).
 * Call after the description that completes a negotiation is applied.
 */
export function resumeRestartedIce(
  pc: RTCPeerConnection,
  onError: (err: unknown) => void = () => {},
): void {
  for (const dtls of pc.dtlsTransports) {
    const ice = dtls.iceTransport as unknown as RestartableIce;
    const agent = ice.connection;
    // Read from the agent itself: werift resets the transport's state without an event, and
    // reports the end of gathering as the agent's "completed".
    const restarted =
      !agent.nominated &&
      agent.remoteUsername !== "" &&
      agent.localCandidatesEnd &&
      agent.state !== "closed";
    if (dtls.state !== "connected" || !restarted || ice.waitStart) continue;
    ice.start().catch(onError);
  }
}

interface RestartableIce {
  connection: {
    state: string;
    remoteUsername: string;
    localCandidatesEnd: boolean;
    nominated?: unknown;
  };
  /** Set while a start() runs. */
  waitStart?: unknown;
  start(): Promise<void>;
}

interface IcePair {
  /** UDP: one socket (`transport`); passive ICE-TCP: one socket per remote address. */
  protocol: { transport?: { closed?: boolean }; getOpenSocket?(addr: [string, number]): unknown };
  remoteAddr: [string, number];
  priority: number;
  nominated: boolean;
  state: number;
}

interface LiteAgent {
  iceLite: boolean;
  nominated?: IcePair;
  checkList: IcePair[];
  checkIncoming(
    message: { attributesKeys: string[] },
    addr: [string, number],
    protocol: unknown,
  ): void;
  handleConnectionClosed(protocol: unknown, remoteAddr: [string, number]): void;
}

const following = new WeakSet<object>();

/**
 * werift 0.25.2 as an ICE-lite agent keeps the first pair the controlling peer nominates,
 * for good. Chromium nominates (USE-CANDIDATE) the connection it has selected, and with a
 * lite peer only that one: its first writable pair — often a TCP one — then the better
 * one it moves to, and a worse one when the better dies (a firewall that starts dropping
 * UDP: TURN over TCP). So werift stayed on whichever came first, and when Chromium later
 * closed the TCP connection it did not use, werift declared ICE failed and the SFU dropped
 * a healthy participant; and after a move to a worse pair the SFU kept sending into the
 * dead one. This follows the latest nomination on an open socket, and moves to the best
 * other nominated pair (instead of failing) when the selected TCP connection closes.
 */
export function followNominations(pc: RTCPeerConnection): void {
  for (const dtls of pc.dtlsTransports) {
    const agent = dtls.iceTransport.connection as unknown as LiteAgent;
    if (!agent.iceLite || following.has(agent)) continue;
    following.add(agent);
    const checkIncoming = agent.checkIncoming.bind(agent);
    agent.checkIncoming = (message, addr, protocol) => {
      checkIncoming(message, addr, protocol);
      if (!message.attributesKeys.includes("USE-CANDIDATE")) return;
      const pair = agent.checkList.find(
        (p) =>
          p.protocol === protocol && p.remoteAddr[0] === addr[0] && p.remoteAddr[1] === addr[1],
      );
      if (!pair) return;
      pair.nominated = true;
      const current = agent.nominated;
      if (current && current !== pair && usable(pair)) agent.nominated = pair;
    };
    const handleConnectionClosed = agent.handleConnectionClosed.bind(agent);
    agent.handleConnectionClosed = (protocol, remoteAddr) => {
      const current = agent.nominated;
      const closing =
        current !== undefined &&
        current.protocol === protocol &&
        current.remoteAddr[0] === remoteAddr[0] &&
        current.remoteAddr[1] === remoteAddr[1];
      const next = closing
        ? agent.checkList
            .filter((p) => p !== current && p.nominated && usable(p))
            .sort((a, b) => b.priority - a.priority)[0]
        : undefined;
      if (next) agent.nominated = next;
      else handleConnectionClosed(protocol, remoteAddr);
    };
  }
}

/** Whether the pair's socket is still open. */
function usable(pair: IcePair): boolean {
  const { protocol } = pair;
  if (protocol.getOpenSocket) return protocol.getOpenSocket(pair.remoteAddr) !== undefined;
  return protocol.transport?.closed !== true;
}

interface CheckingAgent {
  iceLite: boolean;
  iceControlling: boolean;
  protocols: CheckingProtocol[];
  /** Local ufrag → password, every generation's (werift keeps them across ICE restarts). */
  userHistory: Record<string, string>;
  options: { filterStunResponse?: unknown };
  checkList: unknown[];
  /** Requests that arrive before the remote candidates, checked once they are known. */
  earlyChecks: unknown[];
  earlyChecksDone: boolean;
  checkIncoming(message: StunRequest, addr: [string, number], protocol: CheckingProtocol): void;
}

interface CheckingProtocol {
  onRequestReceived: { execute: (...args: never[]) => void };
  transport?: { type?: string; closed?: boolean; socket?: Socket };
}

interface StunRequest {
  messageMethod: number;
  attributesKeys: string[];
  getAttributeValue(name: string): unknown;
}

/** STUN's binding method (RFC 5389 §18.1). */
const BINDING = 0x001;

const authenticated = new WeakSet<object>();
/** Per agent, an HMAC key per local password (stun-integrity.ts: integrityKey). */
const integrityKeys = new WeakMap<object, Map<string, KeyObject>>();

/**
 * werift 0.25.2 answers a binding request and acts on it (a lite agent takes its
 * USE-CANDIDATE as a nomination) without checking its USERNAME or MESSAGE-INTEGRITY: anyone
 * who could reach a media port could point a call's media at an address of their choosing
 * (measured: 198 of 300 s of a call starved under forged requests). This drops every request
 * whose USERNAME does not name one of the agent's ufrags or whose integrity does not verify
 * with that ufrag's password (RFC 8445 §7.3, RFC 5389 §10.1.2), before werift sees it, and
 * answers the authentic ones itself where it can ({@link answerBinding}).
 * Call after each setLocalDescription (it patches protocols not yet patched).
 */
export function authenticateChecks(pc: RTCPeerConnection): void {
  for (const dtls of pc.dtlsTransports) {
    const agent = dtls.iceTransport.connection as unknown as CheckingAgent;
    let keys = integrityKeys.get(agent);
    if (!keys) integrityKeys.set(agent, (keys = new Map()));
    const keyFor = (password: string): KeyObject => {
      let key = keys.get(password);
      if (!key) keys.set(password, (key = integrityKey(password)));
      return key;
    };
    for (const protocol of agent.protocols) {
      const event = protocol.onRequestReceived;
      if (authenticated.has(event)) continue;
      authenticated.add(event);
      const execute = event.execute.bind(event) as (
        message: StunRequest,
        addr: [string, number],
        data: Buffer,
      ) => void;
      event.execute = ((message: StunRequest, addr: [string, number], data: Buffer) => {
        const username = message.getAttributeValue("USERNAME");
        if (typeof username !== "string" || !Buffer.isBuffer(data)) return;
        const localUfrag = username.split(":")[0] ?? "";
        const password = Object.hasOwn(agent.userHistory, localUfrag)
          ? agent.userHistory[localUfrag]
          : undefined;
        if (password === undefined) return;
        const key = keyFor(password);
        if (!hasValidIntegrity(data, key)) return;
        if (!answerBinding(agent, protocol, message, addr, data, key)) execute(message, addr, data);
      }) as never;
    }
  }
}

/**
 * Answers an authenticated binding request as werift's lite agent does — the success
 * response, then the check itself (a nomination, {@link followNominations}), or kept for
 * when the remote candidates are known — but with the response written in one buffer and
 * sent straight to the socket (stun-integrity.ts: bindingSuccess; udp-send.ts). Browsers
 * send one every few seconds per connection to keep consent (RFC 7675), and werift's
 * response was most of what they cost an idle SFU (issue 15). Returns false, leaving the
 * request to werift, for what werift answers otherwise: a method other than binding, a role
 * conflict (a peer that also says it is controlled), an IPv6 source, a TCP connection.
 */
function answerBinding(
  agent: CheckingAgent,
  protocol: CheckingProtocol,
  message: StunRequest,
  addr: [string, number],
  request: Buffer,
  key: KeyObject,
): boolean {
  const transport = protocol.transport;
  if (
    message.messageMethod !== BINDING ||
    agent.iceControlling ||
    message.attributesKeys.includes("ICE-CONTROLLED") ||
    agent.options.filterStunResponse ||
    transport?.type !== "udp" ||
    !transport.socket
  )
    return false;
  const response = bindingSuccess(request, addr[0], addr[1], key);
  if (!response) return false;
  if (!transport.closed) {
    try {
      sendDatagram(transport.socket, response, addr[1], addr[0]);
    } catch {
      // The socket closed underneath: as werift's send, the check goes on without an answer.
    }
  }
  if (agent.checkList.length === 0 && !agent.earlyChecksDone) {
    agent.earlyChecks.push([message, addr, protocol]);
  } else {
    agent.checkIncoming(message, addr, protocol);
  }
  return true;
}
