/**
 * The SFU's Server: the signaling endpoint (Socket.IO on SIGNALING_PATH, plus GET /stats
 * and /health on the same port) and the rooms. It authenticates `join` with a call token,
 * finds or creates the room (one at a time, so two joins cannot create the same room
 * twice) and hands the socket to a new Peer. Design: docs/sfu.md.
 */
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import { Server as SocketServer, type Socket } from "socket.io";
import { AwaitQueue } from "./await-queue";
import type { SfuConfig } from "./config";
import { SfuError } from "./errors";
import { logger } from "./log";
import type { MediaNetwork } from "./media";
import { Peer } from "./peer";
import {
  type CommandName,
  type CommandPayload,
  type CommandResult,
  SIGNALING_PATH,
} from "./protocol";
import { Room } from "./room";
import { type CommandHandler, ParticipantSocket } from "./signaling";
import { type SfuStats, snapshot } from "./stats";
import { TypedEmitter } from "./typed-emitter";
import { UsedTokens, verifyCallToken } from "./token";

const log = logger("server");

export class Server extends TypedEmitter<{ closed: [] }> {
  readonly rooms = new Map<string, Room>();
  private readonly roomQueue = new AwaitQueue();
  private readonly usedTokens = new UsedTokens();
  private readonly network: MediaNetwork;
  private closed_ = false;

  /** Starts listening; resolves once the port is bound. */
  static async create(config: SfuConfig): Promise<Server> {
    const http = createServer();
    const server = new Server(config, http);
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
  ) {
    super();
    this.network = {
      mediaIp: config.SFU_MEDIA_IP,
      announcedIp: config.SFU_ANNOUNCED_IP,
      portRange: [config.SFU_RTC_MIN_PORT, config.SFU_RTC_MAX_PORT],
      iceTcp: config.SFU_ICE_TCP,
      fastSrtp: config.SFU_FAST_SRTP,
    };
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

  stats(): SfuStats {
    return snapshot();
  }

  /** Idempotent: closes every room and stops listening. */
  async close(): Promise<void> {
    if (this.closed_) return;
    this.closed_ = true;
    for (const room of [...this.rooms.values()]) room.close();
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
          return this.resume(
            participant(),
            payload as CommandPayload<"resume">,
          ) as CommandResult<K>;
        return (await this.join(
          participant(),
          payload as CommandPayload<"join">,
        )) as CommandResult<K>;
      } finally {
        joining = false;
      }
    };
  }

  /** Hands a live peer over to its client's new socket (`resume`). */
  private resume(
    socket: ParticipantSocket,
    { peerId, token }: CommandPayload<"resume">,
  ): CommandResult<"resume"> {
    for (const room of this.rooms.values()) {
      const peer = room.peer(peerId);
      if (!peer || peer.closed || !peer.owns(token)) continue;
      peer.resume(socket);
      return room.stateFor(peer);
    }
    throw new SfuError("unknown_session", "that call session has ended; join again");
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
    const peer = await Peer.create({
      grant,
      socket,
      network: this.network,
      answerTimeoutMs: this.config.SFU_ANSWER_TIMEOUT_MS,
      connectTimeoutMs: this.config.SFU_CONNECT_TIMEOUT_MS,
      log,
    });
    try {
      const result = await this.roomQueue.push(async () => {
        if (!socket.connected) throw new SfuError("closing", "the socket closed while joining");
        const room = await this.roomFor(grant.roomId);
        if (room.peers.size >= this.config.SFU_MAX_PEERS_PER_ROOM)
          throw new SfuError("forbidden", "the call is full");
        return room.addPeer(peer);
      });
      socket.handOver(peer.handle);
      return result;
    } catch (err) {
      peer.close("join failed");
      throw err;
    }
  }

  private async roomFor(roomId: string): Promise<Room> {
    const existing = this.rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    const room = await Room.create(roomId, log);
    this.rooms.set(roomId, room);
    room.on("closed", () => {
      if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
    });
    return room;
  }

  private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "").split("?")[0];
    if (req.method === "GET" && path === "/health") {
      sendJson(res, 200, { ok: true });
    } else if (req.method === "GET" && path === "/stats" && isLoopback(req.socket.remoteAddress)) {
      sendJson(res, 200, this.stats());
    } else {
      sendJson(res, 404, { error: "not found" });
    }
  }
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
