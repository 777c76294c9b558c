/**
 * Janus (Debian's `janus` package) as the benchmark's reference SFU (issue 15, part 3):
 * a Janus process with a generated configuration in a temporary directory (the VideoRoom
 * plugin and the HTTP transport only, its API on 127.0.0.1, ICE-lite like Parley's SFU,
 * media on one interface), and werift peers that publish to and subscribe from a VideoRoom
 * with the same sources, SRTP and feedback as the Parley bots (sfu/bot).
 *
 * Nothing is installed here: `janusBinary()` says whether `janus` is on the PATH
 * (`apt-get install janus`). Janus gathers no loopback candidates, so the comparison runs
 * in a private network namespace with a veth pair (bench/sfu/netns.ts).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { RTCPeerConnection, type RTCRtpTransceiver, type RtpPacket } from "werift";
import { z } from "zod";
import { browserPeerConfig } from "../../sfu/bot/browser-like";
import { sendThroughSender, waitForConnected } from "../../sfu/bot/bot";
import { countPacket, newReceivedTrack, type ReceivedTrack } from "../../sfu/bot/received-track";
import { VideoSource, type VideoShape } from "../../sfu/bot/rtp-source";
import { type MediaNetwork, peerConfig } from "../../sfu/media";
import { FastTransport, whenSrtpReady } from "../../sfu/srtp/fast-transport";
import { nackPerStream } from "../../sfu/werift-patches";

/** Where Debian (and a source build) put Janus's plugins and transports. */
const LIBRARY_DIRS = [
  "/usr/lib/x86_64-linux-gnu/janus",
  "/usr/lib/aarch64-linux-gnu/janus",
  "/usr/lib/janus",
  "/usr/local/lib/janus",
  "/opt/janus/lib/janus",
];

/** The `janus` executable and its library directory, or undefined when it is not installed. */
export function janusBinary(): { binary: string; libraries: string; version: string } | undefined {
  let binary: string;
  try {
    binary = execFileSync("sh", ["-c", "command -v janus"], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
  const libraries = LIBRARY_DIRS.find((dir) =>
    existsSync(path.join(dir, "plugins", "libjanus_videoroom.so")),
  );
  if (!binary || !libraries) return undefined;
  // `janus -V` prints its version and exits with 1.
  const printed = spawnSync(binary, ["-V"], { encoding: "utf8" }).stdout ?? "";
  const version = /Janus version: \d+ \(([^)]+)\)/.exec(printed)?.[1];
  return { binary, libraries, version: version ?? "unknown" };
}

export const JANUS_ROOM = 1234;

export interface JanusProcess {
  pid: number;
  api: JanusApi;
  stop(): Promise<void>;
}

/**
 * Starts Janus with only the VideoRoom plugin and the HTTP transport, media restricted to
 * `mediaInterface` (ICE-lite, no mDNS), its HTTP API on 127.0.0.1:`httpPort`.
 */
export async function startJanus(options: {
  mediaInterface: string;
  httpPort: number;
  rtpPorts: [number, number];
}): Promise<JanusProcess> {
  const installed = janusBinary();
  if (!installed) throw new Error("janus is not installed (apt-get install janus)");
  const dir = mkdtempSync(path.join(tmpdir(), "parley-janus-"));
  for (const [folder, library] of [
    ["plugins", "libjanus_videoroom.so"],
    ["transports", "libjanus_http.so"],
  ] as const) {
    mkdirSync(path.join(dir, folder));
    symlinkSync(path.join(installed.libraries, folder, library), path.join(dir, folder, library));
  }
  mkdirSync(path.join(dir, "events"));
  mkdirSync(path.join(dir, "loggers"));
  writeFileSync(
    path.join(dir, "janus.jcfg"),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${dir}/plugins"
  transports_folder = "${dir}/transports"
  events_folder = "${dir}/events"
  loggers_folder = "${dir}/loggers"
  debug_level = 3
  session_timeout = 120
  server_name = "parley-bench"
}
certificates: {}
media: {
  rtp_port_range = "${options.rtpPorts[0]}-${options.rtpPorts[1]}"
}
nat: {
  nice_debug = false
  ice_lite = true
  ignore_mdns = true
  ice_enforce_list = "${options.mediaInterface}"
}
plugins: {}
transports: {}
loggers: {}
events: {}
`,
  );
  writeFileSync(
    path.join(dir, "janus.transport.http.jcfg"),
    `general: {
  json = "compact"
  base_path = "/janus"
  http = true
  port = ${options.httpPort}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
}
cors: {}
`,
  );
  writeFileSync(
    path.join(dir, "janus.plugin.videoroom.jcfg"),
    `general: {}
room-${JANUS_ROOM}: {
  description = "bench"
  publishers = 10
  bitrate = 0
  fir_freq = 0
  videocodec = "vp8"
  audiocodec = "opus"
}
`,
  );
  const child: ChildProcess = spawn(
    installed.binary,
    ["-C", path.join(dir, "janus.jcfg"), "-F", dir, "--disable-colors"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const api = new JanusApi(`http://127.0.0.1:${options.httpPort}/janus`);
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`janus exited with ${child.exitCode}`);
    if (await api.ready()) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("janus did not answer on its HTTP API in 15 s");
    }
    await sleep(100);
  }
  return {
    pid: child.pid!,
    api,
    async stop() {
      api.close();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const Jsep = z.object({ type: z.enum(["offer", "answer"]), sdp: z.string() });
const JanusMessage = z
  .object({
    janus: z.string(),
    transaction: z.string().optional(),
    sender: z.number().optional(),
    data: z.object({ id: z.number() }).passthrough().optional(),
    plugindata: z
      .object({ data: z.record(z.string(), z.unknown()) })
      .passthrough()
      .optional(),
    jsep: Jsep.optional(),
    error: z.object({ code: z.number(), reason: z.string() }).optional(),
  })
  .passthrough();
type JanusMessage = z.infer<typeof JanusMessage>;

/**
 * Janus's HTTP API (REST + long polling): one session, handles attached to the VideoRoom
 * plugin, plugin messages answered asynchronously through the session's event stream.
 */
export class JanusApi {
  private session: number | undefined;
  private polling = false;
  private transactions = 0;
  private readonly waiting = new Map<string, (message: JanusMessage) => void>();

  constructor(private readonly base: string) {}

  async ready(): Promise<boolean> {
    try {
      return (await fetch(`${this.base}/info`)).ok;
    } catch {
      return false;
    }
  }

  /** Creates the session (once) and starts its long-poll loop. */
  private async sessionId(): Promise<number> {
    if (this.session !== undefined) return this.session;
    const created = await this.post(this.base, { janus: "create" });
    this.session = created.data!.id;
    this.polling = true;
    void this.poll();
    return this.session;
  }

  async attach(): Promise<number> {
    const session = await this.sessionId();
    const attached = await this.post(`${this.base}/${session}`, {
      janus: "attach",
      plugin: "janus.plugin.videoroom",
    });
    return attached.data!.id;
  }

  /** Sends a VideoRoom request and resolves with its (asynchronous) event. */
  async message(
    handle: number,
    body: Record<string, unknown>,
    jsep?: z.infer<typeof Jsep>,
  ): Promise<JanusMessage> {
    const transaction = `t${++this.transactions}`;
    const event = new Promise<JanusMessage>((resolve) => this.waiting.set(transaction, resolve));
    const reply = await this.post(
      `${this.base}/${this.session}/${handle}`,
      { janus: "message", body, ...(jsep ? { jsep } : {}) },
      transaction,
    );
    if (reply.janus !== "ack") {
      this.waiting.delete(transaction);
      return reply;
    }
    const message = await event;
    const data = message.plugindata?.data;
    if (data && typeof data.error === "string") throw new Error(`janus: ${data.error}`);
    return message;
  }

  /** Tells Janus the peer has no more candidates (they are all in its SDP). */
  async endOfCandidates(handle: number): Promise<void> {
    await this.post(`${this.base}/${this.session}/${handle}`, {
      janus: "trickle",
      candidate: { completed: true },
    });
  }

  close(): void {
    this.polling = false;
  }

  private async post(
    url: string,
    body: Record<string, unknown>,
    transaction = `t${++this.transactions}`,
  ): Promise<JanusMessage> {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...body, transaction }),
    });
    const message = JanusMessage.parse(await res.json());
    if (message.janus === "error")
      throw new Error(`janus: ${message.error?.reason ?? "error"} (${JSON.stringify(body)})`);
    return message;
  }

  private async poll(): Promise<void> {
    while (this.polling) {
      try {
        const res = await fetch(`${this.base}/${this.session}?maxev=50`);
        const events = z.array(JanusMessage).parse(await res.json());
        for (const event of events) {
          const resolve = event.transaction ? this.waiting.get(event.transaction) : undefined;
          if (resolve && event.janus === "event") {
            this.waiting.delete(event.transaction!);
            resolve(event);
          }
        }
      } catch {
        if (this.polling) await sleep(100);
      }
    }
  }
}

/** Which bots: browser-like (sfu/bot/browser-like.ts) or the SFU's plain configuration. */
export type BotFeedback = "browser" | "plain";

function config(network: MediaNetwork, side: "publish" | "subscribe", feedback: BotFeedback) {
  return feedback === "browser" ? browserPeerConfig(network, side) : peerConfig(network, side);
}

async function gathered(pc: RTCPeerConnection): Promise<string> {
  const deadline = Date.now() + 5_000;
  while (pc.iceGatheringState !== "complete" && Date.now() < deadline) await sleep(20);
  return pc.localDescription!.sdp;
}

/** A VideoRoom publisher sending the bot's VP8-shaped video. */
export class JanusPublisher {
  private constructor(
    readonly pc: RTCPeerConnection,
    readonly feedId: number,
    private readonly video: VideoSource,
  ) {}

  static async start(
    api: JanusApi,
    network: MediaNetwork,
    shape: VideoShape,
    feedback: BotFeedback,
  ): Promise<JanusPublisher> {
    const handle = await api.attach();
    const pc = new RTCPeerConnection(config(network, "publish", feedback));
    const transceiver: RTCRtpTransceiver = pc.addTransceiver("video", { direction: "sendonly" });
    const video = new VideoSource(shape, (packet) => sendThroughSender(transceiver, packet));
    transceiver.sender.onPictureLossIndication.subscribe(() => video.requestKeyFrame());
    await pc.setLocalDescription(await pc.createOffer());
    const joined = await api.message(
      handle,
      { request: "joinandconfigure", room: JANUS_ROOM, ptype: "publisher", display: "Publisher" },
      { type: "offer", sdp: await gathered(pc) },
    );
    if (!joined.jsep) throw new Error(`janus: no answer to the publisher's offer`);
    await pc.setRemoteDescription(joined.jsep);
    await api.endOfCandidates(handle);
    await waitForConnected(pc, 10_000);
    video.start();
    const feedId = z.number().parse(joined.plugindata?.data.id);
    return new JanusPublisher(pc, feedId, video);
  }

  packetsSent(): number {
    return this.video.packetsSent;
  }

  /** Stops the media (the connection stays): the idle measurement. */
  pause(): void {
    this.video.stop();
  }

  async close(): Promise<void> {
    this.video.stop();
    await this.pc.close().catch(() => {});
  }
}

/** A VideoRoom subscriber counting what it receives, like a bot's received track. */
export class JanusSubscriber {
  readonly track: ReceivedTrack;
  onRtp: ((track: ReceivedTrack, packet: RtpPacket) => void) | undefined;

  private constructor(readonly pc: RTCPeerConnection) {
    this.track = newReceivedTrack(
      "0",
      {
        trackId: "janus",
        peerId: "publisher",
        source: "camera",
        kind: "video",
        muted: false,
        layers: [],
      },
      null,
    );
    pc.onTrack.subscribe((track) =>
      track.onReceiveRtp.subscribe((packet) => {
        countPacket(this.track, packet);
        this.onRtp?.(this.track, packet);
      }),
    );
  }

  static async start(
    api: JanusApi,
    network: MediaNetwork,
    feedId: number,
    feedback: BotFeedback,
  ): Promise<JanusSubscriber> {
    const handle = await api.attach();
    const subscriber = new JanusSubscriber(
      new RTCPeerConnection(config(network, "subscribe", feedback)),
    );
    const { pc } = subscriber;
    const attached = await api.message(handle, {
      request: "join",
      ptype: "subscriber",
      room: JANUS_ROOM,
      streams: [{ feed: feedId }],
    });
    if (!attached.jsep) throw new Error("janus: no offer for the subscriber");
    await pc.setRemoteDescription(attached.jsep);
    nackPerStream(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    // Decrypt with the SFU's SRTP code, as the Parley bots do, so the bots leave the CPU to the SFU.
    whenSrtpReady(pc, (dtls) => void FastTransport.create(dtls));
    await api.message(
      handle,
      { request: "start", room: JANUS_ROOM },
      { type: "answer", sdp: await gathered(pc) },
    );
    await api.endOfCandidates(handle);
    return subscriber;
  }

  totalPackets(): number {
    return this.track.packets;
  }

  async close(): Promise<void> {
    await this.pc.close().catch(() => {});
  }
}
