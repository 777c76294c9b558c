/**
 * The signaling protocol between a call participant (browser or bot) and the SFU, over
 * Socket.IO. Shared by both ends, so it imports nothing but zod: no werift, no Node-only
 * modules. Design and sequence diagrams: docs/sfu.md.
 *
 * Shape (after mediasoup-demo's signaling):
 * - The client sends *commands*: `socket.emit(name, payload, ack)`. Every command is
 *   answered exactly once through the ack with an {@link Ack} envelope.
 * - The server sends *events*: `socket.emit(name, payload)`, never expecting an answer.
 *   The answer to a `subscribeOffer` event is the `subscribeAnswer` command.
 * - Per participant there are two peer connections: *publish* (the client offers, the SFU
 *   answers as DTLS server) and *subscribe* (the SFU offers and renegotiates as tracks come
 *   and go, the client answers). Each direction has one offerer, so there is no glare; the
 *   SFU keeps at most one subscribe offer outstanding and numbers them (`revision`).
 */
import { z } from "zod";

/** Bumped on any incompatible change; a client sends the version it speaks in `join`. */
export const PROTOCOL_VERSION = 1;

/** Socket.IO path of the SFU's signaling, on the SFU and behind the web node's proxy. */
export const SIGNALING_PATH = "/sfu/socket.io/";

// ---------------------------------------------------------------------------------------
// Building blocks

export const TRACK_SOURCES = ["mic", "camera", "screen", "screen-audio"] as const;
/** What a published track carries, in the user's words. */
export const TrackSource = z.enum(TRACK_SOURCES);
export type TrackSource = z.infer<typeof TrackSource>;

export type MediaKind = "audio" | "video";

/** The media kind each source must have: a mismatch in a publish offer is refused. */
export function kindOfSource(source: TrackSource): MediaKind {
  return source === "mic" || source === "screen-audio" ? "audio" : "video";
}

/**
 * Simulcast layers, lowest first. The names are also the RTP stream ids (`rid`s) a
 * publisher must use in its camera's `sendEncodings` (`a=rid:low send` …), so both ends
 * agree without a mapping table.
 */
export const SIMULCAST_LAYERS = ["low", "medium", "high"] as const;
export const SimulcastLayer = z.enum(SIMULCAST_LAYERS);
export type SimulcastLayer = z.infer<typeof SimulcastLayer>;

/** Ids the SFU hands out (peers, tracks) and room ids from tokens. */
export const Id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, '-' or '_'");

/** An SDP blob. Its content is checked by the SFU's parser; this only bounds it. */
export const Sdp = z
  .string()
  .min(8)
  .max(64_000)
  .refine((s) => s.startsWith("v=0"), "SDP must start with v=0");

/** One peer connection of a participant. */
export const ConnectionRole = z.enum(["publish", "subscribe"]);
export type ConnectionRole = z.infer<typeof ConnectionRole>;

/** RTCIceCandidateInit as browsers produce it. `null` (in the command) ends the candidates. */
export const IceCandidate = z.object({
  candidate: z.string().max(1024),
  sdpMid: z.string().max(64).nullish(),
  sdpMLineIndex: z.number().int().min(0).max(1024).nullish(),
  usernameFragment: z.string().max(256).nullish(),
});
export type IceCandidate = z.infer<typeof IceCandidate>;

export const Participant = z.object({
  peerId: Id,
  userId: z.string().min(1).max(128),
  displayName: z.string().min(1).max(100),
});
export type Participant = z.infer<typeof Participant>;

/** A track someone publishes in the room, as others see it. */
export const TrackInfo = z.object({
  trackId: Id,
  peerId: Id,
  source: TrackSource,
  kind: z.enum(["audio", "video"]),
  muted: z.boolean(),
  /** Simulcast layers the publisher announced; empty for a single-layer track. */
  layers: z.array(SimulcastLayer),
});
export type TrackInfo = z.infer<typeof TrackInfo>;

// ---------------------------------------------------------------------------------------
// Errors and the ack envelope

export const ERROR_CODES = [
  /** The payload did not match the command's schema. */
  "bad_request",
  /** No such command. */
  "unknown_command",
  /** Token missing, forged, malformed, signed with another algorithm or for another audience. */
  "invalid_token",
  "token_expired",
  /** The token's `jti` was already used: tokens are single-use. */
  "token_replayed",
  /** The token names another room than the one asked for. */
  "wrong_room",
  /** A command other than `join` before joining. */
  "not_joined",
  "already_joined",
  /** The token does not allow publishing. */
  "forbidden",
  /** The SDP could not be parsed or applied, or does not match the declared tracks. */
  "bad_sdp",
  "bad_candidate",
  /** No track with that id (or not one this participant may act on). */
  "unknown_track",
  /** A `subscribeAnswer` for an offer that is no longer the outstanding one. */
  "stale_answer",
  "rate_limited",
  /** The room or server is closing. */
  "closing",
  /** `resume` of a session that has ended, or with the wrong token. */
  "unknown_session",
  "internal",
] as const;
export const ErrorCode = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z.object({ code: ErrorCode, message: z.string() });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The answer to every command. */
export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

/** A schema for the ack of a command whose result has schema `data`. */
export function ackSchema<T extends z.ZodType>(data: T) {
  return z.discriminatedUnion("ok", [
    z.object({ ok: z.literal(true), data }),
    z.object({ ok: z.literal(false), error: ErrorBody }),
  ]);
}

// ---------------------------------------------------------------------------------------
// Commands: client → server

const PublishedTrack = z.object({
  /** The transceiver's mid in the offer. */
  mid: z.string().min(1).max(64),
  source: TrackSource,
  muted: z.boolean().default(false),
});

/** Where a participant stands in the call: the answer to `join` and to `resume`. */
const CallState = z.object({
  self: Participant.extend({ mayPublish: z.boolean() }),
  /** Everyone else in the call. */
  participants: z.array(Participant),
  /** Tracks the others publish; the SFU offers them on the subscribe connection. */
  tracks: z.array(TrackInfo),
  /** Proves the session is yours when you `resume` it on a new socket. */
  resumeToken: z.string(),
});

export const commands = {
  /** Enter the room named by the call token. Must be the first command. */
  join: {
    input: z.object({
      token: z.string().min(1).max(4096),
      roomId: Id,
      protocolVersion: z.literal(PROTOCOL_VERSION).default(PROTOCOL_VERSION),
    }),
    output: CallState,
  },
  /**
   * Take your session over on a new socket after the old one died (a network change): the
   * peer, its connections, tracks and consumers stay; the old socket is dropped. Instead of
   * `join`, as the first command. `unknown_session` when it has ended or the token is wrong.
   * An unanswered subscribe offer is sent again.
   */
  resume: {
    input: z.object({ peerId: Id, token: z.string().min(1).max(200) }),
    output: CallState,
  },
  /** A round trip, to learn whether this socket still reaches the SFU. */
  ping: {
    input: z.object({}),
    output: z.object({}),
  },
  /**
   * Offer (or re-offer) the publish connection. `tracks` lists every track the offer
   * sends, by mid; a track missing from a re-offer (or whose m-line stops sending) is
   * unpublished. Camera tracks may carry simulcast rids named after {@link SIMULCAST_LAYERS}.
   */
  publishOffer: {
    input: z.object({
      sdp: Sdp,
      tracks: z.array(PublishedTrack).max(TRACK_SOURCES.length),
    }),
    output: z.object({
      /** The SFU's answer (always `a=setup:passive`: the SFU is the DTLS server). */
      sdp: Sdp,
      tracks: z.array(z.object({ mid: z.string(), trackId: Id, source: TrackSource })),
    }),
  },
  /** Answer the subscribe offer with the same `revision`. */
  subscribeAnswer: {
    input: z.object({ revision: z.number().int().min(1), sdp: Sdp }),
    output: z.object({}),
  },
  /** A trickled ICE candidate for one of the two connections; `null` ends them. */
  iceCandidate: {
    input: z.object({ connection: ConnectionRole, candidate: IceCandidate.nullable() }),
    output: z.object({}),
  },
  /**
   * Restart ICE on the subscribe connection (the SFU offers there): the SFU sends a new
   * `subscribeOffer` with fresh ICE credentials, at once or right after the outstanding one
   * is answered. The publish connection needs no command: re-offer it with new credentials
   * (`RTCPeerConnection.restartIce()`). Used after a network change or an outage.
   */
  restartIce: {
    input: z.object({}),
    output: z.object({}),
  },
  /** Mark one of your own published tracks muted or unmuted (others get `trackMuted`). */
  setTrackMuted: {
    input: z.object({ trackId: Id, muted: z.boolean() }),
    output: z.object({}),
  },
  /**
   * Ask for a simulcast layer of a track you receive; `null` lets the SFU choose. The
   * SFU may still send a lower layer (the layer is not published, or bandwidth).
   */
  setPreferredLayer: {
    input: z.object({ trackId: Id, layer: SimulcastLayer.nullable() }),
    output: z.object({}),
  },
  /** The size (CSS pixels × devicePixelRatio) a received video is shown at; 0×0 = hidden. */
  setTileSize: {
    input: z.object({
      trackId: Id,
      width: z.number().int().min(0).max(16_384),
      height: z.number().int().min(0).max(16_384),
    }),
    output: z.object({}),
  },
  /** Leave the call; the server then disconnects the socket. */
  leave: {
    input: z.object({}),
    output: z.object({}),
  },
} as const;

export type CommandName = keyof typeof commands;
export const COMMAND_NAMES = Object.keys(commands) as CommandName[];
/** What a client passes (defaults may be omitted). */
export type CommandInput<K extends CommandName> = z.input<(typeof commands)[K]["input"]>;
/** What the server sees after parsing. */
export type CommandPayload<K extends CommandName> = z.output<(typeof commands)[K]["input"]>;
export type CommandResult<K extends CommandName> = z.output<(typeof commands)[K]["output"]>;

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(commands, name);
}

// ---------------------------------------------------------------------------------------
// Events: server → client

export const events = {
  participantJoined: z.object({ participant: Participant }),
  participantLeft: z.object({ peerId: Id }),
  trackPublished: z.object({ track: TrackInfo }),
  /** The track is gone; its m-line on your subscribe connection goes inactive next offer. */
  trackUnpublished: z.object({ trackId: Id }),
  trackMuted: z.object({ trackId: Id, muted: z.boolean() }),
  /** A new subscribe offer; answer with `subscribeAnswer` carrying the same revision. */
  subscribeOffer: z.object({
    revision: z.number().int().min(1),
    sdp: Sdp,
    /** Which track each sending m-line carries. */
    tracks: z.array(z.object({ mid: z.string(), trackId: Id })),
  }),
  iceCandidate: z.object({ connection: ConnectionRole, candidate: IceCandidate.nullable() }),
  /** The participant speaking loudest now, or null in silence. */
  activeSpeaker: z.object({ peerId: Id.nullable() }),
  /** The simulcast layer the SFU now forwards to you for a track. */
  layerChanged: z.object({ trackId: Id, layer: SimulcastLayer.nullable() }),
  /** Something went wrong outside a command (e.g. your answer never came). */
  peerError: ErrorBody,
  /** The SFU ends your session (timeout, room closing, server shutdown). */
  closed: z.object({ reason: z.string() }),
} as const;

export type EventName = keyof typeof events;
export type EventPayload<K extends EventName> = z.output<(typeof events)[K]>;

/** Socket.IO typing for clients (`io<ServerToClientEvents, ClientToServerEvents>`). */
export type ServerToClientEvents = {
  [K in EventName]: (payload: EventPayload<K>) => void;
};
export type ClientToServerEvents = {
  [K in CommandName]: (
    payload: CommandInput<K>,
    ack: (response: Ack<CommandResult<K>>) => void,
  ) => void;
};

// ---------------------------------------------------------------------------------------
// Node registry (Redis): how standalone SFU nodes announce themselves to web nodes.

export const REGISTRY = {
  /** Hash field = node id, value = JSON {@link SfuNodeRecord}; stale entries are ignored. */
  nodesKey: "parley:sfu:nodes",
  /** String key per room: the id of the node its call is placed on. */
  roomKey: (roomId: string) => `parley:sfu:room:${roomId}`,
  /** A node heartbeats this often; a record older than `staleAfterMs` is dead. */
  heartbeatMs: 5_000,
  staleAfterMs: 15_000,
  /** Placement outlives the last token minted for the room by this long. */
  placementTtlS: 3_600,
} as const;

export const SfuNodeRecord = z.object({
  id: Id,
  /** Where web nodes reach its signaling (http://host:port, no path). */
  url: z.string().url(),
  peers: z.number().int().min(0),
  rooms: z.number().int().min(0),
  heartbeatAt: z.number().int(),
});
export type SfuNodeRecord = z.infer<typeof SfuNodeRecord>;
