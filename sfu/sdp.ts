/**
 * SDP for what werift writes and reads differently from the standards (RFC 8829 JSEP,
 * RFC 8842 DTLS setup, RFC 8843 BUNDLE) and from what other stacks expect:
 * - {@link offerForPeers}: the SFU's subscribe offers, made acceptable to every standard
 *   answerer (browsers, aiortc) without changing what werift applied locally.
 * - {@link endMLine}: how an m-line ends when its track does (never the BUNDLE tag's).
 * - {@link normalizeRemote}: what a client sends, rewritten into the form werift parses.
 * - {@link describeMedia}: a tolerant reading of the m-sections, for checking offers.
 * Pure functions over strings but for endMLine; docs/sfu.md, "Standard peers and SDP".
 */
import type { RTCPeerConnection, RTCRtpTransceiver } from "werift";

export type Direction = "sendrecv" | "sendonly" | "recvonly" | "inactive";
const DIRECTIONS: readonly string[] = ["sendrecv", "sendonly", "recvonly", "inactive"];

/** One m-section as the checks need it. */
export interface MediaSection {
  kind: string;
  /** 0 = rejected or stopped. */
  port: number;
  mid: string | undefined;
  /** The section's direction, else the session's, else sendrecv (RFC 8866 §6.7). */
  direction: Direction;
  /** RTP stream ids the sender announces with `a=rid:<id> send` (simulcast layers). */
  sendRids: string[];
  rtcpMux: boolean;
  /** The `a=setup` value (section, else session). */
  setup: string | undefined;
}

/** An SDP cut into its session lines and one line list per m-section, without line ends. */
export interface SdpLines {
  session: string[];
  media: string[][];
}

/**
 * Splits an SDP on CRLF or bare LF (RFC 8866 asks for CRLF; some stacks and hand edits
 * write LF, and werift only falls back to LF when there is no CRLF at all, so a mix
 * silently merges lines), dropping stray trailing whitespace and empty lines.
 */
export function splitSdp(sdp: string): SdpLines {
  const session: string[] = [];
  const media: string[][] = [];
  for (const raw of sdp.split(/\r?\n|\r/)) {
    const line = raw.trimEnd();
    if (line === "") continue;
    if (line.startsWith("m=")) media.push([line]);
    else if (media.length > 0) media[media.length - 1]!.push(line);
    else session.push(line);
  }
  return { session, media };
}

/** Joins lines back with CRLF after every line, as RFC 8866 writes them. */
export function joinSdp({ session, media }: SdpLines): string {
  return [...session, ...media.flat()].map((line) => `${line}\r\n`).join("");
}

/** The value of the first `a=<name>:<value>` (or flag `a=<name>`) among lines. */
function attribute(lines: readonly string[], name: string): string | undefined {
  for (const line of lines) {
    if (line === `a=${name}`) return "";
    if (line.startsWith(`a=${name}:`)) return line.slice(name.length + 3).trim();
  }
  return undefined;
}

function directionOf(lines: readonly string[]): Direction | undefined {
  return lines
    .map((line) => line.slice(2))
    .find((value): value is Direction => DIRECTIONS.includes(value));
}

/** Port of an `m=<kind> <port>[/<count>] <proto> <fmt>…` line; NaN when malformed. */
function portOf(mLine: string): number {
  const port = mLine.split(/\s+/)[1]?.split("/")[0] ?? "";
  return /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
}

/** Reads every m-section; never throws on attributes it does not know. */
export function describeMedia(sdp: string): MediaSection[] {
  const { session, media } = splitSdp(sdp);
  const sessionDirection = directionOf(session) ?? "sendrecv";
  const sessionSetup = attribute(session, "setup");
  return media.map((lines) => {
    const sendRids = lines
      .filter((line) => line.startsWith("a=rid:"))
      .map((line) => line.slice("a=rid:".length).trim().split(/\s+/))
      .filter(([, direction]) => direction === "send")
      .map(([rid]) => rid!);
    return {
      kind: lines[0]!.slice(2).split(/\s+/)[0] ?? "",
      port: portOf(lines[0]!),
      mid: attribute(lines, "mid") || undefined,
      direction: directionOf(lines) ?? sessionDirection,
      sendRids,
      rtcpMux: attribute(lines, "rtcp-mux") !== undefined,
      setup: attribute(lines, "setup") ?? sessionSetup,
    };
  });
}

/** The mids of the session's `a=group:BUNDLE` line (empty without one). */
export function bundleMids(sdp: string): string[] {
  const group = splitSdp(sdp).session.find((line) => line.startsWith("a=group:BUNDLE"));
  return group?.slice("a=group:BUNDLE".length).trim().split(/\s+/).filter(Boolean) ?? [];
}

/**
 * The SFU's offer as it goes out, from what werift applied locally:
 * - `a=setup:actpass` everywhere. werift writes its negotiated role (`passive`) into
 *   re-offers, but an offerer offers `actpass` every time (RFC 8829 §5.2.2, RFC 8842
 *   §5.2) and aiortc refuses anything else; the answerer keeps the role it has for the
 *   running association (RFC 8842 §5.5), so werift stays the DTLS server it became.
 * - A stopped m-section (port 0) keeps its `a=mid`, is `inactive`, carries no candidates,
 *   and leaves the BUNDLE group (RFC 8843 §7.5.3), but keeps `a=rtcp-mux` as every RTP
 *   section does under JSEP (RFC 8829 §5.2.2); werift drops it and aiortc 1.4 refuses
 *   a section without it ("RTCP mux is not enabled").
 * - `a=ice-lite` once at session level, where RFC 8839 §5.3 puts it and where aiortc 1.4
 *   and libwebrtc read it; werift writes it in every m-section instead.
 */
export function offerForPeers(sdp: string): string {
  const { session, media } = splitSdp(sdp);
  const stoppedMids = new Set<string>();
  const lite = [session, ...media].some((lines) => lines.includes("a=ice-lite"));
  const out: SdpLines = {
    session: [
      ...session.filter((line) => line !== "a=ice-lite").map(asActpass),
      ...(lite ? ["a=ice-lite"] : []),
    ],
    media: media.map((lines) => {
      const section = lines.filter((line) => line !== "a=ice-lite").map(asActpass);
      if (portOf(section[0]!) !== 0) return section;
      const mid = attribute(section, "mid");
      if (mid) stoppedMids.add(mid);
      const kept = section.filter(
        (line) => !/^a=(candidate:|end-of-candidates$|sendrecv$|sendonly$|recvonly$)/.test(line),
      );
      if (!kept.includes("a=inactive")) kept.push("a=inactive");
      if (!kept.includes("a=rtcp-mux")) kept.push("a=rtcp-mux");
      return kept;
    }),
  };
  out.session = out.session.flatMap((line) => {
    if (!line.startsWith("a=group:BUNDLE")) return [line];
    const mids = bundleMids(line).filter((mid) => !stoppedMids.has(mid));
    // A group with no member left says nothing (RFC 8843 §7.2 needs at least one mid).
    return mids.length > 0 ? [`a=group:BUNDLE ${mids.join(" ")}`] : [];
  });
  return joinSdp(out);
}

/**
 * Ends the m-line of a track that is gone, in the offer to come: stopped (port 0, and
 * recycled by werift for a later track of its kind), except the m-line whose mid tags
 * the BUNDLE group, which only goes `inactive` and stays for good. Chromium keeps the
 * bundled transport under the tag's m-line: stopping it made Chromium start a new
 * transport (its connection went back to `connecting` and media stopped for every other
 * track), and recycling it failed its answer ("Failed to setup RTCP mux"). The tag never
 * moves, so at most one m-line idles (mediasoup-client does the same).
 */
export function endMLine(pc: RTCPeerConnection, transceiver: RTCRtpTransceiver): void {
  const tag = bundleMids(pc.localDescription?.sdp ?? "")[0];
  if (transceiver.mid !== null && transceiver.mid === tag) transceiver.setDirection("inactive");
  else transceiver.stop();
}

function asActpass(line: string): string {
  return line.startsWith("a=setup:") ? "a=setup:actpass" : line;
}

/**
 * A client's SDP in the form werift reads: CRLF line ends (see {@link splitSdp}), and
 * `a=rid:<id> <direction>` without restrictions (`pt=…;max-width=…`, RFC 8851 §4), which
 * werift would read as part of the direction and so miss the layer. The restrictions only
 * bind the sender, which applies them itself.
 */
export function normalizeRemote(sdp: string): string {
  const { session, media } = splitSdp(sdp);
  return joinSdp({
    session,
    media: media.map((lines) =>
      lines.map((line) => {
        if (!line.startsWith("a=rid:")) return line;
        const [rid, direction] = line.slice("a=rid:".length).trim().split(/\s+/);
        return direction ? `a=rid:${rid} ${direction}` : line;
      }),
    ),
  });
}
