/**
 * A call participant whose WebRTC stack is aiortc (peer.py, a Python process) while the
 * signaling runs here through {@link SignalingClient}: this side joins, relays the publish
 * offer and every subscribe offer to peer.py and its answers back, and maps the SFU's
 * track ids to the m-lines peer.py counts media on.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import type { EventPayload } from "../../protocol";
import { SignalingClient } from "../../signaling-client";

/** Debian's python3-aiortc installs for the system Python, not for a pyenv one on the PATH. */
export const AIORTC_PYTHON = process.env.AIORTC_PYTHON ?? "/usr/bin/python3";
const PEER_SCRIPT = path.join(import.meta.dirname, "peer.py");

/** Why aiortc cannot run here, or undefined when it can. */
export function aiortcMissing(): string | undefined {
  const probe = spawnSync(
    AIORTC_PYTHON,
    ["-c", "import aiortc, numpy; print(aiortc.__version__)"],
    { encoding: "utf8" },
  );
  if (probe.status === 0) return undefined;
  return `${AIORTC_PYTHON} cannot import aiortc (apt-get install python3-aiortc): ${probe.error?.message ?? probe.stderr.trim()}`;
}

const ConnectionState = z.enum([
  "new",
  "connecting",
  "connected",
  "disconnected",
  "failed",
  "closed",
]);
type ConnectionState = z.infer<typeof ConnectionState>;

const PeerEvent = z.discriminatedUnion("event", [
  z.object({
    event: z.literal("connection"),
    pc: z.enum(["publish", "subscribe"]),
    state: ConnectionState,
  }),
  z.object({ event: z.literal("track"), mid: z.string(), kind: z.enum(["audio", "video"]) }),
]);
const Reply = z
  .object({ id: z.number(), ok: z.boolean(), error: z.string().optional() })
  .passthrough();
const OfferReply = z.object({
  sdp: z.string(),
  tracks: z.array(z.object({ mid: z.string(), kind: z.enum(["audio", "video"]) })),
});
const AnswerReply = z.object({ sdp: z.string() });
const IceRole = z.enum(["controlling", "controlled"]).nullable();
const StatsReply = z.object({
  connections: z.object({ publish: ConnectionState, subscribe: ConnectionState }),
  iceRoles: z.object({ publish: IceRole, subscribe: IceRole }),
  tracks: z.array(
    z.object({
      mid: z.string(),
      kind: z.enum(["audio", "video"]),
      frames: z.number(),
      packets: z.number(),
      width: z.number(),
    }),
  ),
});

/** What arrived for one track of someone else: decoded frames and RTP packets. */
export interface TrackMedia {
  trackId: string;
  mid: string;
  kind: "audio" | "video";
  frames: number;
  packets: number;
  /** Width of the last decoded video frame (0 before one). */
  width: number;
}

export interface AiortcPeerOptions {
  url: string;
  token: string;
  roomId: string;
  /** The one host address aiortc gathers (the test SFU listens on loopback). */
  host: string;
}

export class AiortcPeer {
  readonly signaling: SignalingClient;
  /** Every connection state each side went through, in order. */
  readonly states: Record<"publish" | "subscribe", ConnectionState[]> = {
    publish: [],
    subscribe: [],
  };
  readonly errors: string[] = [];
  offersAnswered = 0;
  /** The SFU's subscribe offers, as received. */
  readonly offers: string[] = [];
  peerId?: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private trackIdByMid = new Map<string, string>();
  private subscribeChain: Promise<void> = Promise.resolve();
  private exited = false;

  private constructor(options: AiortcPeerOptions) {
    this.child = spawn(AIORTC_PYTHON, [PEER_SCRIPT, "--host", options.host], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr.on("data", (chunk: Buffer) =>
      process.stderr.write(`[aiortc] ${chunk.toString()}`),
    );
    this.child.once("exit", (code, signal) => {
      this.exited = true;
      for (const { reject } of this.pending.values())
        reject(new Error(`peer.py exited (${code ?? signal})`));
      this.pending.clear();
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => this.onLine(line));
    this.signaling = new SignalingClient({ url: options.url, timeoutMs: 15_000 });
    this.signaling.on("subscribeOffer", (offer) => {
      this.subscribeChain = this.subscribeChain
        .then(() => this.answer(offer))
        .catch(
          (err: unknown) =>
            void this.errors.push(`answering offer ${offer.revision}: ${String(err)}`),
        );
    });
    this.signaling.on("peerError", (error) =>
      this.errors.push(`peerError ${error.code}: ${error.message}`),
    );
    this.signaling.on("closed", ({ reason }) => this.errors.push(`closed: ${reason}`));
  }

  static async join(options: AiortcPeerOptions): Promise<AiortcPeer> {
    const peer = new AiortcPeer(options);
    try {
      await peer.signaling.connected();
      const joined = await peer.signaling.request("join", {
        token: options.token,
        roomId: options.roomId,
      });
      peer.peerId = joined.self.peerId;
      return peer;
    } catch (err) {
      await peer.close();
      throw err;
    }
  }

  /** Publishes aiortc's synthetic microphone (Opus) and camera (VP8); returns their track ids. */
  async publish(): Promise<string[]> {
    const offer = OfferReply.parse(
      await this.command({ cmd: "publish-offer", audio: true, video: true }),
    );
    const tracks = offer.tracks.map((t) => ({
      mid: t.mid,
      source: t.kind === "audio" ? ("mic" as const) : ("camera" as const),
    }));
    const answer = await this.signaling.request("publishOffer", { sdp: offer.sdp, tracks });
    await this.command({ cmd: "set-answer", sdp: answer.sdp });
    return answer.tracks.map((t) => t.trackId);
  }

  /** Media received so far, per track of someone else that is still offered to us. */
  async media(): Promise<Map<string, TrackMedia>> {
    const stats = StatsReply.parse(await this.command({ cmd: "stats" }));
    const media = new Map<string, TrackMedia>();
    for (const track of stats.tracks) {
      const trackId = this.trackIdByMid.get(track.mid);
      if (trackId) media.set(trackId, { trackId, ...track });
    }
    return media;
  }

  /** Each connection's state and aiortc's ICE role in it. */
  async connections(): Promise<Pick<z.infer<typeof StatsReply>, "connections" | "iceRoles">> {
    const { connections, iceRoles } = StatsReply.parse(await this.command({ cmd: "stats" }));
    return { connections, iceRoles };
  }

  async leave(): Promise<void> {
    await this.signaling.request("leave", {}).catch(() => {});
    await this.close();
  }

  async close(): Promise<void> {
    this.signaling.close();
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    await this.command({ cmd: "close" }).catch(() => {});
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private async answer(offer: EventPayload<"subscribeOffer">): Promise<void> {
    this.offers.push(offer.sdp);
    const answer = AnswerReply.parse(
      await this.command({ cmd: "subscribe-offer", sdp: offer.sdp }),
    );
    await this.signaling.request("subscribeAnswer", { revision: offer.revision, sdp: answer.sdp });
    // Once negotiated, only this offer's tracks are live: a stopped m-line's mid maps to nothing.
    this.trackIdByMid = new Map(offer.tracks.map((t) => [t.mid, t.trackId]));
    this.offersAnswered++;
  }

  private command(message: Record<string, unknown>): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error("peer.py has exited"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ id, ...message })}\n`);
    });
  }

  private onLine(line: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.errors.push(`peer.py wrote a line that is not JSON: ${line.slice(0, 200)}`);
      return;
    }
    const event = PeerEvent.safeParse(raw);
    if (event.success) {
      if (event.data.event === "connection") this.states[event.data.pc].push(event.data.state);
      return;
    }
    const reply = Reply.safeParse(raw);
    if (!reply.success) {
      this.errors.push(`peer.py wrote an unknown message: ${line.slice(0, 200)}`);
      return;
    }
    const waiter = this.pending.get(reply.data.id);
    this.pending.delete(reply.data.id);
    if (!waiter) return;
    if (reply.data.ok) waiter.resolve(reply.data);
    else waiter.reject(new Error(`peer.py: ${reply.data.error ?? "failed"}`));
  }
}
