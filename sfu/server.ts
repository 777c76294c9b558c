/**
 * The SFU's Server, on the main thread: the signaling endpoint (Socket.IO on
 * SIGNALING_PATH, plus GET /stats and /health on the same port), call tokens, and which
 * media worker each participant is on (sfu/workers.ts). It authenticates `join` with a
 * call token, places the participant ({@link placePeer}), and from then on relays the
 * socket's commands to that worker and the worker's events to the socket. It also keeps
 * each room's directory (who is on which worker, what they publish) and passes a room's
 * changes on to its other workers. Design: docs/sfu.md ("Workers").
 */
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import { Server as SocketServer, type Socket } from "socket.io";
import type { SfuConfig } from "./config";
import { SfuError } from "./errors";
import { logger } from "./log";
import {
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type Participant,
  SIGNALING_PATH,
} from "./protocol";
import type { RoomChange } from "./room";
import { type CommandHandler, ParticipantSocket } from "./signaling";
import { rtpCounters, type SfuStats } from "./stats";
import { TypedEmitter } from "./typed-emitter";
import { UsedTokens, verifyCallToken } from "./token";
import type { FromWorker, RemoteChange, RemoteState, RemoteTrack } from "./worker-protocol";
import { placePeer, WorkerPool } from "./workers";

const log = logger("server");

/** A room as the main thread knows it: which workers it is on, and who and what is where. */
interface RoomEntry {
  /** Its participants per worker, joins in flight included. */
  workers: Map<number, number>;
  participants: Map<string, { participant: Participant; worker: number }>;
  tracks: Map<string, RemoteTrack>;
}

export class Server extends TypedEmitter<{ closed: [] }> {
  private readonly rooms = new Map<string, RoomEntry>();
  /** Joined participants: their worker, room and current socket. */
  private readonly peers = new Map<
    string,
    { worker: number; roomId: string; socket: ParticipantSocket }
  >();
  /** Sockets handed to a worker, by Socket.IO id. */
  private readonly sockets = new Map<string, { socket: ParticipantSocket; worker: number }>();
  /** Participants per worker, joins in flight included (placement's load). */
  private readonly workerLoad: number[];
  private readonly usedTokens = new UsedTokens();
  /** Room changes waiting to go to each worker (see {@link relay}). */
  private readonly relays = new Map<number, RemoteChange[]>();
  private closed_ = false;

  /** Starts the media workers, then listens; resolves once the port is bound. */
  static async create(config: SfuConfig): Promise<Server> {
    const pool = new WorkerPool(config, logger("workers"));
    await pool.start();
    const http = createServer();
    const server = new Server(config, http, pool);
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(config.SFU_PORT, config.SFU_HOST, () => {
        http.off("error", reject);
        resolve();
      });
    });
    return server;
  }

  private readonly io: SocketServer;

  private constructor(
    private readonly config: SfuConfig,
    private readonly http: HttpServer,
    private readonly pool: WorkerPool,
  ) {
    super();
    this.workerLoad = new Array<number>(pool.size).fill(0);
    pool.on("message", (worker, message) => this.onWorkerMessage(worker, message));
    pool.on("down", (worker) => this.onWorkerDown(worker));
    this.io = new SocketServer(http, {
      path: SIGNALING_PATH,
      serveClient: false,
      // SDPs are a few kB; nothing legitimate comes near this.
      maxHttpBufferSize: 256 * 1024,
      cors: {
        origin: config.SFU_ALLOWED_ORIGINS === "*" ? true : config.SFU_ALLOWED_ORIGINS.split(","),
      },
      pingInterval: 10_000,
      pingTimeout: 10_000,
    });
    this.io.on("connection", (socket) => this.onConnection(socket));
    // Socket.IO answers its own path; everything else on the port comes here.
    http.on("request", (req: IncomingMessage, res: ServerResponse) => {
      if (req.url?.startsWith(SIGNALING_PATH)) return;
      this.onHttpRequest(req, res);
    });
  }

  /** The bound signaling port (useful with SFU_PORT=0). */
  get port(): number {
    const address = this.http.address();
    return typeof address === "object" && address ? address.port : this.config.SFU_PORT;
  }

  /** Participants and rooms on this node (the registry's heartbeat). */
  load(): { peers: number; rooms: number } {
    return { peers: this.peers.size, rooms: this.rooms.size };
  }

  /** Every worker's figures, summed (GET /stats), with the rooms and peers per worker. */
  async stats(): Promise<SfuStats> {
    const parts = await Promise.all(
      Array.from({ length: this.pool.size }, (_, index) =>
        this.pool.isAlive(index)
          ? (this.pool.request(index, { type: "stats" }) as Promise<SfuStats>).catch(() => null)
          : Promise.resolve(null),
      ),
    );
    return mergeStats(
      parts,
      parts.map((_, index) => ({
        index,
        alive: this.pool.isAlive(index),
        peers: this.workerLoad[index]!,
        rooms: [...this.rooms.values()].filter((room) => room.workers.has(index)).length,
      })),
      { rooms: this.rooms.size, peers: this.peers.size },
    );
  }

  /** Idempotent: closes every room and worker and stops listening. */
  async close(): Promise<void> {
    if (this.closed_) return;
    this.closed_ = true;
    await this.pool.close();
    this.rooms.clear();
    await this.io.close();
    this.http.closeAllConnections();
    this.emit("closed");
    this.removeAllListeners();
  }

  private onConnection(socket: Socket): void {
    const participant: ParticipantSocket = new ParticipantSocket(
      socket,
      log,
      this.beforeJoin(() => participant),
    );
    // A socket that never joins is dropped, so idle connections cannot pile up.
    participant.requireJoinWithin(this.config.SFU_JOIN_TIMEOUT_MS);
    participant.onDisconnect((reason) => {
      const entry = this.sockets.get(participant.id);
      if (entry?.socket !== participant) return;
      this.sockets.delete(participant.id);
      this.pool.send(entry.worker, { type: "socketClosed", socketId: participant.id, reason });
    });
  }

  /** The handler of a socket that has not joined: `join`, `resume` or `ping`. */
  private beforeJoin(participant: () => ParticipantSocket): CommandHandler {
    let joining = false;
    return async <K extends CommandName>(
      name: K,
      payload: CommandPayload<K>,
    ): Promise<CommandResult<K>> => {
      if (name === "ping") return {} as CommandResult<K>;
      if (name !== "join" && name !== "resume")
        throw new SfuError("not_joined", "join the call first");
      if (joining) throw new SfuError("already_joined", "a join is already in progress");
      joining = true;
      try {
        if (name === "resume")
          return (await this.resume(
            participant(),
            payload as CommandPayload<"resume">,
          )) as CommandResult<K>;
        return (await this.join(
          participant(),
          payload as CommandPayload<"join">,
        )) as CommandResult<K>;
      } finally {
        joining = false;
      }
    };
  }

  /** Hands a live peer over to its client's new socket (`resume`), on its worker. */
  private async resume(
    socket: ParticipantSocket,
    { peerId, token }: CommandPayload<"resume">,
  ): Promise<CommandResult<"resume">> {
    const peer = this.peers.get(peerId);
    if (!peer) throw new SfuError("unknown_session", "that call session has ended; join again");
    this.sockets.set(socket.id, { socket, worker: peer.worker });
    try {
      const state = (await this.pool.request(peer.worker, {
        type: "resume",
        socketId: socket.id,
        peerId,
        token,
      })) as CommandResult<"resume">;
      peer.socket = socket;
      socket.handOver(this.commandsTo(peer.worker, peerId));
      return state;
    } catch (err) {
      if (this.sockets.get(socket.id)?.socket === socket) this.sockets.delete(socket.id);
      throw err;
    }
  }

  private async join(
    socket: ParticipantSocket,
    payload: CommandPayload<"join">,
  ): Promise<CommandResult<"join">> {
    if (this.closed_) throw new SfuError("closing", "the SFU is shutting down");
    const grant = await verifyCallToken(
      this.config.CALL_TOKEN_SECRET,
      payload.token,
      this.usedTokens,
    );
    if (grant.roomId !== payload.roomId)
      throw new SfuError("wrong_room", "the call token is for another room");
    if (!socket.connected) throw new SfuError("closing", "the socket closed while joining");
    const room = this.roomEntry(grant.roomId);
    let members = 0;
    for (const count of room.workers.values()) members += count;
    if (members >= this.config.SFU_MAX_PEERS_PER_ROOM)
      throw new SfuError("forbidden", "the call is full");
    const worker = placePeer(
      room.workers,
      this.workerLoad.map((peers, index) => ({ index, peers, alive: this.pool.isAlive(index) })),
      this.config.SFU_ROOM_PEERS_PER_WORKER,
    );
    if (worker === undefined) throw new SfuError("closing", "no media worker is running");
    this.count(grant.roomId, worker, +1);
    this.sockets.set(socket.id, { socket, worker });
    const remote: RemoteState = {
      participants: [...room.participants.values()]
        .filter((p) => p.worker !== worker)
        .map((p) => p.participant),
      tracks: [...room.tracks.values()].filter((t) => t.worker !== worker),
    };
    let result: CommandResult<"join">;
    try {
      result = (await this.pool.request(worker, {
        type: "join",
        socketId: socket.id,
        grant: {
          roomId: grant.roomId,
          userId: grant.userId,
          displayName: grant.displayName,
          mayPublish: grant.mayPublish,
        },
        remote,
      })) as CommandResult<"join">;
    } catch (err) {
      if (this.pool.isAlive(worker)) this.count(grant.roomId, worker, -1);
      if (this.sockets.get(socket.id)?.socket === socket) this.sockets.delete(socket.id);
      throw err;
    }
    const peerId = result.self.peerId;
    this.peers.set(peerId, { worker, roomId: grant.roomId, socket });
    socket.handOver(this.commandsTo(worker, peerId));
    return result;
  }

  /**
   * Queues a room change for another worker; the queue goes out at the end of this turn of
   * the event loop, so changes that came together (one offer's tracks) arrive together.
   */
  private relay(to: number, change: RemoteChange): void {
    const queue = this.relays.get(to);
    if (queue) {
      queue.push(change);
      return;
    }
    this.relays.set(to, [change]);
    if (this.relays.size === 1)
      setImmediate(() => {
        for (const [worker, changes] of this.relays)
          this.pool.send(worker, { type: "remote", changes });
        this.relays.clear();
      });
  }

  /** A joined socket's commands, to its peer on its worker. */
  private commandsTo(worker: number, peerId: string): CommandHandler {
    return <K extends CommandName>(name: K, payload: CommandPayload<K>) =>
      this.pool.request(worker, { type: "command", peerId, name, payload }) as Promise<
        CommandResult<K>
      >;
  }

  private roomEntry(roomId: string): RoomEntry {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { workers: new Map(), participants: new Map(), tracks: new Map() };
      this.rooms.set(roomId, room);
    }
    return room;
  }

  /** A participant more or fewer on a room's part on a worker. */
  private count(roomId: string, worker: number, delta: 1 | -1): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    const count = (room.workers.get(worker) ?? 0) + delta;
    if (count > 0) room.workers.set(worker, count);
    else room.workers.delete(worker);
    this.workerLoad[worker] = Math.max(0, this.workerLoad[worker]! + delta);
    if (room.workers.size === 0) this.rooms.delete(roomId);
  }

  private onWorkerMessage(worker: number, message: FromWorker): void {
    switch (message.type) {
      case "event":
        this.sockets.get(message.socketId)?.socket.send(message.event, message.payload);
        return;
      case "disconnect": {
        const entry = this.sockets.get(message.socketId);
        if (!entry) return;
        this.sockets.delete(message.socketId);
        entry.socket.disconnect();
        return;
      }
      case "room":
        this.onRoomChange(message.roomId, worker, message.change);
        return;
      case "ready":
      case "failed":
      case "result":
        return; // the pool's own
    }
  }

  /** Keeps the room's directory, and tells the room's other workers. */
  private onRoomChange(roomId: string, worker: number, change: RoomChange): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    switch (change.kind) {
      case "participantJoined":
        room.participants.set(change.participant.peerId, {
          participant: change.participant,
          worker,
        });
        break;
      case "participantLeft":
        room.participants.delete(change.peerId);
        for (const [trackId, { track }] of room.tracks)
          if (track.peerId === change.peerId) room.tracks.delete(trackId);
        this.peers.delete(change.peerId);
        break;
      case "trackPublished":
        room.tracks.set(change.track.trackId, { track: change.track, worker });
        break;
      case "trackUnpublished":
        room.tracks.delete(change.trackId);
        break;
      case "trackMuted": {
        const entry = room.tracks.get(change.trackId);
        if (entry) entry.track = { ...entry.track, muted: change.muted };
        break;
      }
    }
    for (const other of room.workers.keys())
      if (other !== worker) this.relay(other, { roomId, worker, change });
    if (change.kind === "participantLeft") this.count(roomId, worker, -1);
  }

  /**
   * A worker died: its participants are told their session ended (their clients rejoin,
   * and are placed on a live worker), and their rooms' other workers that they left.
   */
  private onWorkerDown(worker: number): void {
    for (const [socketId, entry] of this.sockets) {
      if (entry.worker !== worker) continue;
      this.sockets.delete(socketId);
      entry.socket.send("closed", { reason: "the SFU's media worker stopped; join again" });
      entry.socket.disconnect();
    }
    for (const [roomId, room] of [...this.rooms]) {
      for (const [peerId, { worker: on }] of [...room.participants])
        if (on === worker) this.onRoomChange(roomId, worker, { kind: "participantLeft", peerId });
      if (room.workers.has(worker)) {
        this.workerLoad[worker] = 0;
        room.workers.delete(worker);
        if (room.workers.size === 0) this.rooms.delete(roomId);
      }
    }
    for (const [peerId, peer] of this.peers) if (peer.worker === worker) this.peers.delete(peerId);
    this.workerLoad[worker] = 0;
  }

  private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://sfu");
    const loopback = isLoopback(req.socket.remoteAddress);
    if (req.method === "GET" && url.pathname === "/health") {
      sendJson(res, 200, { ok: true });
    } else if (req.method === "GET" && url.pathname === "/stats" && loopback) {
      this.stats().then(
        (stats) => sendJson(res, 200, stats),
        () => sendJson(res, 500, { error: "stats failed" }),
      );
    } else if (
      req.method === "POST" &&
      url.pathname === "/debug/crash-worker" &&
      loopback &&
      this.config.SFU_DEBUG_CRASH
    ) {
      const index = Number(url.searchParams.get("index"));
      if (!Number.isInteger(index) || !this.pool.isAlive(index)) {
        sendJson(res, 400, { error: "no live worker with that index" });
        return;
      }
      this.pool.crash(index);
      sendJson(res, 202, { crashing: index });
    } else {
      sendJson(res, 404, { error: "not found" });
    }
  }
}

/** Sums the workers' figures; rooms and peers come from the main thread's directory. */
export function mergeStats(
  parts: Array<SfuStats | null>,
  workers: SfuStats["workers"],
  counts: { rooms: number; peers: number },
): SfuStats {
  const { rss, heapUsed, external } = process.memoryUsage();
  const merged: SfuStats = {
    ...counts,
    transports: 0,
    producers: 0,
    consumers: 0,
    rtp: rtpCounters(),
    forwardDelay: [],
    tracks: [],
    workers,
    memory: { rss, heapUsed, external },
    uptimeSeconds: Math.round(process.uptime()),
  };
  for (const part of parts) {
    if (!part) continue;
    merged.transports += part.transports;
    merged.producers += part.producers;
    merged.consumers += part.consumers;
    for (const key of Object.keys(merged.rtp) as Array<keyof SfuStats["rtp"]>)
      merged.rtp[key] += part.rtp[key];
    part.forwardDelay.forEach(
      (n, i) => (merged.forwardDelay[i] = (merged.forwardDelay[i] ?? 0) + n),
    );
    merged.tracks.push(...part.tracks);
  }
  return merged;
}

function isLoopback(address: string | undefined): boolean {
  return (
    !!address &&
    (address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127."))
  );
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}
