/**
 * A media worker (a worker thread; sfu/workers.ts starts one per core): the rooms placed on
 * it, their peers with their werift connections, producers and consumers, its own UDP
 * sockets in its share of the port range, and pipes to the other workers (sfu/pipe.ts).
 * Signaling stays on the main thread: commands come in already parsed, events go out to
 * the client's socket there (docs/sfu.md, "Workers").
 */
import { parentPort, workerData } from "node:worker_threads";
import { startStallWatchdog } from "../lib/stall-watchdog";
import { SfuError, toErrorBody } from "./errors";
import { logger, setLogLevel } from "./log";
import type { MediaNetwork } from "./media";
import { Peer } from "./peer";
import { PipeLink } from "./pipe";
import type { CommandName, CommandPayload, EventName, EventPayload, TrackInfo } from "./protocol";
import { Room, type RoomChange } from "./room";
import type { PeerSocket } from "./signaling";
import { checkWeriftPatches, describeFailures } from "./self-check";
import { producers, snapshot } from "./stats";
import type { FromWorker, RemoteState, ToWorker, WorkerInit } from "./worker-protocol";

const port = parentPort!;
const init = workerData as WorkerInit;
const { config, index } = init;
setLogLevel(config.LOG_LEVEL);
const log = logger(`worker-${index}`);

const network: MediaNetwork = {
  mediaIp: config.SFU_MEDIA_IP,
  announcedIp: config.SFU_ANNOUNCED_IP,
  portRange: init.portRange,
  iceTcp: config.SFU_ICE_TCP,
  fastSrtp: config.SFU_FAST_SRTP,
};

const rooms = new Map<string, Room>();
const peers = new Map<string, { peer: Peer; room: Room }>();
const sockets = new Map<string, RemoteSocket>();
const links = new Map<number, PipeLink>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** The client's socket, on the main thread. */
class RemoteSocket implements PeerSocket {
  connected = true;
  private listeners: Array<(reason: string) => void> = [];

  constructor(readonly id: string) {
    sockets.set(id, this);
  }

  send<K extends EventName>(event: K, payload: EventPayload<K>): void {
    if (this.connected) post({ type: "event", socketId: this.id, event, payload });
  }

  disconnect(): void {
    if (!this.connected) return;
    post({ type: "disconnect", socketId: this.id });
    this.gone("server namespace disconnect");
  }

  onDisconnect(listener: (reason: string) => void): void {
    this.listeners.push(listener);
  }

  gone(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    sockets.delete(this.id);
    for (const listener of this.listeners.splice(0)) listener(reason);
  }
}

/** This worker's part of a room; made with what the room's other parts already have. */
function roomFor(roomId: string, remote: RemoteState): Room {
  const existing = rooms.get(roomId);
  if (existing && !existing.closed) return existing;
  const room = Room.create(roomId, log);
  rooms.set(roomId, room);
  room.on("change", (change) => post({ type: "room", roomId, change }));
  room.on("closed", () => {
    if (rooms.get(roomId) === room) rooms.delete(roomId);
  });
  for (const participant of remote.participants) room.addRemoteParticipant(participant);
  for (const { track, worker } of remote.tracks) pipeTrack(room, track, worker);
  return room;
}

/** Pipes a track published on another worker into this worker's part of its room. */
function pipeTrack(room: Room, track: TrackInfo, worker: number): void {
  const link = links.get(worker);
  if (!link || link.closed) {
    log.warn("no pipe to the worker of a track", { trackId: track.trackId, worker });
    return;
  }
  room.addRemoteTrack(link.open(track));
}

function applyRemote(roomId: string, worker: number, change: RoomChange): void {
  const room = rooms.get(roomId);
  if (!room || room.closed) return;
  switch (change.kind) {
    case "participantJoined":
      room.addRemoteParticipant(change.participant);
      return;
    case "participantLeft":
      room.removeRemoteParticipant(change.peerId);
      return;
    case "trackPublished":
      pipeTrack(room, change.track, worker);
      return;
    case "trackUnpublished":
      room.remoteTrack(change.trackId)?.close();
      return;
    case "trackMuted":
      room.remoteTrack(change.trackId)?.setMuted(change.muted);
      return;
  }
}

async function join(socketId: string, grant: ToWorker & { type: "join" }): Promise<unknown> {
  // The room part exists before anything awaits: a change for it may be the next message.
  const room = roomFor(grant.grant.roomId, grant.remote);
  const socket = new RemoteSocket(socketId);
  try {
    const peer = await Peer.create({
      grant: grant.grant,
      socket,
      network,
      answerTimeoutMs: config.SFU_ANSWER_TIMEOUT_MS,
      connectTimeoutMs: config.SFU_CONNECT_TIMEOUT_MS,
      log,
    });
    if (room.closed || !socket.connected) {
      peer.close("join failed");
      throw new SfuError("closing", "the socket closed while joining");
    }
    const result = room.addPeer(peer);
    peers.set(peer.id, { peer, room });
    peer.on("closed", () => peers.delete(peer.id));
    return result;
  } catch (err) {
    socket.gone("join failed");
    if (room.peers.size === 0) room.close();
    throw err;
  }
}

function resume(socketId: string, peerId: string, token: string): unknown {
  const entry = peers.get(peerId);
  if (!entry || entry.peer.closed || !entry.peer.owns(token))
    throw new SfuError("unknown_session", "that call session has ended; join again");
  entry.peer.resume(new RemoteSocket(socketId));
  return entry.room.stateFor(entry.peer);
}

function command(peerId: string, name: CommandName, payload: unknown): Promise<unknown> {
  const entry = peers.get(peerId);
  if (!entry) throw new SfuError("closing", "you have left the call");
  return entry.peer.handle(name, payload as CommandPayload<typeof name>);
}

async function answer(id: number, work: () => unknown): Promise<void> {
  try {
    post({ type: "result", id, ok: true, data: await work() });
  } catch (err) {
    if (!(err instanceof SfuError))
      log.error("request failed", { err: err instanceof Error ? (err.stack ?? err.message) : err });
    post({ type: "result", id, ok: false, error: toErrorBody(err) });
  }
}

function findProducer(trackId: string) {
  for (const producer of producers) if (producer.id === trackId) return producer;
  return undefined;
}

port.on("message", (message: ToWorker) => {
  switch (message.type) {
    case "join":
      void answer(message.id, () => join(message.socketId, message));
      return;
    case "command":
      void answer(message.id, () => command(message.peerId, message.name, message.payload));
      return;
    case "resume":
      void answer(message.id, () => resume(message.socketId, message.peerId, message.token));
      return;
    case "socketClosed":
      sockets.get(message.socketId)?.gone(message.reason);
      return;
    case "remote":
      for (const { roomId, worker, change } of message.changes) applyRemote(roomId, worker, change);
      return;
    case "link": {
      links.get(message.worker)?.close();
      const link = new PipeLink(message.worker, message.port, findProducer);
      links.set(message.worker, link);
      return;
    }
    case "stats":
      void answer(message.id, () => snapshot());
      return;
    case "crash":
      setImmediate(() => {
        throw new Error(`worker ${index} crashed on request (SFU_DEBUG_CRASH)`);
      });
      return;
    case "close":
      void answer(message.id, () => {
        for (const room of [...rooms.values()]) room.close();
        for (const link of links.values()) link.close();
        return {};
      });
      return;
  }
});

// Before taking calls: a patch that lost its target would fail silently mid-call. Each
// worker checks its own copy of werift (and of Node's internals it uses).
const moved = await checkWeriftPatches();
if (moved.length > 0) {
  post({ type: "failed", message: describeFailures(moved) });
} else {
  startStallWatchdog({
    log: (message, fields) => log.warn(message, { ...fields, worker: index }),
  });
  post({ type: "ready" });
}
