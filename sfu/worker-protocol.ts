/**
 * Messages between the SFU's main thread (signaling, tokens, placement: sfu/workers.ts)
 * and its media workers (sfu/worker.ts). Both ends are this code base in one process, so
 * they are typed rather than parsed: everything from clients was parsed with its zod
 * schema on the main thread before it gets here (sfu/signaling.ts).
 */
import type { MessagePort } from "node:worker_threads";
import type { SfuConfig } from "./config";
import type {
  CommandName,
  EventName,
  EventPayload,
  ErrorBody,
  Participant,
  TrackInfo,
} from "./protocol";
import type { RoomChange } from "./room";
import type { CallGrant } from "./token";

/** What a worker is started with (workerData). */
export interface WorkerInit {
  index: number;
  config: SfuConfig;
  /** This worker's share of the RTC port range. */
  portRange: [number, number];
}

/** A track of a room's other workers, and where it is published. */
export interface RemoteTrack {
  track: TrackInfo;
  worker: number;
}

/** What a room's part on a new worker must know of its parts on the others. */
export interface RemoteState {
  participants: Participant[];
  tracks: RemoteTrack[];
}

/** A change in a room's part on another worker (`worker`). */
export interface RemoteChange {
  roomId: string;
  worker: number;
  change: RoomChange;
}

export type ToWorker =
  | { type: "join"; id: number; socketId: string; grant: CallGrant; remote: RemoteState }
  | { type: "command"; id: number; peerId: string; name: CommandName; payload: unknown }
  | { type: "resume"; id: number; socketId: string; peerId: string; token: string }
  /** The client's socket went (Socket.IO's reason). */
  | { type: "socketClosed"; socketId: string; reason: string }
  /**
   * What happened in rooms' parts on other workers, batched per event-loop turn: a
   * participant's tracks published by one offer arrive together, so its subscribers get
   * them in one renegotiation.
   */
  | { type: "remote"; changes: RemoteChange[] }
  /** A pipe link to another worker (sfu/pipe.ts). */
  | { type: "link"; worker: number; port: MessagePort }
  | { type: "stats"; id: number }
  /** Tests only (SFU_DEBUG_CRASH): throw from the event loop. */
  | { type: "crash" }
  | { type: "close"; id: number };

export type FromWorker =
  | { type: "ready" }
  /** The worker cannot start (werift's patches lost their targets: sfu/self-check.ts). */
  | { type: "failed"; message: string }
  | { type: "result"; id: number; ok: true; data: unknown }
  | { type: "result"; id: number; ok: false; error: ErrorBody }
  | { type: "event"; socketId: string; event: EventName; payload: EventPayload<EventName> }
  | { type: "disconnect"; socketId: string }
  | { type: "room"; roomId: string; change: RoomChange };
