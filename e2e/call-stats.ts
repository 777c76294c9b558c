import type { Page } from "@playwright/test";

/**
 * What the real-network call tests measure in a page (Chromium), through the peer
 * connections `recordCallMedia` kept and the tiles' media elements: the path each
 * connection took, the received media's statistics, and when each frame was shown.
 * Every function handed to `page.evaluate` is self-contained (it runs in the page).
 */

export interface Path {
  /** The local candidate of the selected pair: host, srflx, prflx or relay. */
  type: string;
  address: string;
  /** For a relay candidate: how the browser reaches the TURN server (udp, tcp, tls). */
  relayProtocol?: string;
}

/** The selected path of each of the page's open media connections. */
export function selectedPaths(page: Page): Promise<Path[]> {
  return page.evaluate(async () => {
    const pcs =
      (window as { recordedPeerConnections?: RTCPeerConnection[] }).recordedPeerConnections ?? [];
    const paths: { type: string; address: string; relayProtocol?: string }[] = [];
    for (const pc of pcs.filter((p) => p.connectionState === "connected")) {
      const stats = await pc.getStats();
      stats.forEach((report: { type: string; selectedCandidatePairId?: string }) => {
        if (report.type !== "transport" || !report.selectedCandidatePairId) return;
        const pair = stats.get(report.selectedCandidatePairId) as
          { localCandidateId: string } | undefined;
        const local =
          pair && (stats.get(pair.localCandidateId) as Record<string, string> | undefined);
        if (local)
          paths.push({
            type: local.candidateType!,
            address: local.address!,
            ...(local.relayProtocol ? { relayProtocol: local.relayProtocol } : {}),
          });
      });
    }
    return paths;
  });
}

/** The ICE username fragment of each open connection's local description (changes on restart). */
export function iceUfrags(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    ((window as { recordedPeerConnections?: RTCPeerConnection[] }).recordedPeerConnections ?? [])
      .filter((pc) => pc.connectionState !== "closed")
      .map((pc) => /a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? "")?.[1] ?? ""),
  );
}

export interface Received {
  video: {
    freezeCount: number;
    totalFreezesDuration: number;
    framesDecoded: number;
    keyFramesDecoded: number;
    pliCount: number;
    nackCount: number;
    retransmittedPacketsReceived: number;
    packetsLost: number;
    packetsReceived: number;
    frameWidth: number;
  };
  audio: {
    concealedSamples: number;
    silentConcealedSamples: number;
    totalSamplesReceived: number;
    concealmentEvents: number;
    packetsLost: number;
    packetsReceived: number;
  };
}

/** The inbound-rtp statistics of the named tile's video and audio; null while either is missing. */
export function receivedFrom(page: Page, name: string): Promise<Received | null> {
  return page.evaluate(async (name) => {
    const tiles = document.querySelectorAll<HTMLElement>(
      'section[aria-label="Call"] [role="group"]',
    );
    const tile = [...tiles].find((t) => t.getAttribute("aria-label") === name);
    const stream = tile?.querySelector("video")?.srcObject;
    const videoId = stream instanceof MediaStream ? stream.getTracks()[0]?.id : undefined;
    // The sound plays in the shell's CallAudio, outliving tiles; the tile names its track.
    const audioId = tile?.getAttribute("data-audio-track") ?? undefined;
    const pcs =
      (window as { recordedPeerConnections?: RTCPeerConnection[] }).recordedPeerConnections ?? [];
    let video: Record<string, number> | undefined;
    let audio: Record<string, number> | undefined;
    for (const pc of pcs.filter((p) => p.connectionState !== "closed")) {
      (await pc.getStats()).forEach(
        (r: Record<string, number> & { type: string; trackIdentifier?: string }) => {
          if (r.type !== "inbound-rtp") return;
          if (r.trackIdentifier === videoId) video = r;
          if (r.trackIdentifier === audioId) audio = r;
        },
      );
    }
    if (!video || !audio) return null;
    const pick = (r: Record<string, number>, keys: string[]) =>
      Object.fromEntries(keys.map((k) => [k, r[k] ?? 0]));
    return {
      video: pick(video, [
        "freezeCount",
        "totalFreezesDuration",
        "framesDecoded",
        "keyFramesDecoded",
        "pliCount",
        "nackCount",
        "retransmittedPacketsReceived",
        "packetsLost",
        "packetsReceived",
        "frameWidth",
      ]),
      audio: pick(audio, [
        "concealedSamples",
        "silentConcealedSamples",
        "totalSamplesReceived",
        "concealmentEvents",
        "packetsLost",
        "packetsReceived",
      ]),
    } as unknown as Received;
  }, name);
}

/** What the page's publish connection sent again on request, and whether RTX was negotiated. */
export function sentVideo(
  page: Page,
): Promise<{ rtxNegotiated: boolean; nackCount: number; retransmittedPacketsSent: number }> {
  return page.evaluate(async () => {
    const pcs =
      (window as { recordedPeerConnections?: RTCPeerConnection[] }).recordedPeerConnections ?? [];
    let nackCount = 0;
    let retransmittedPacketsSent = 0;
    let rtxNegotiated = false;
    for (const pc of pcs.filter((p) => p.connectionState !== "closed")) {
      let sends = false;
      (await pc.getStats()).forEach(
        (r: {
          type: string;
          kind?: string;
          nackCount?: number;
          retransmittedPacketsSent?: number;
        }) => {
          if (r.type !== "outbound-rtp" || r.kind !== "video") return;
          sends = true;
          nackCount += r.nackCount ?? 0;
          retransmittedPacketsSent += r.retransmittedPacketsSent ?? 0;
        },
      );
      if (sends && /a=rtpmap:\d+ rtx\/90000/.test(pc.remoteDescription?.sdp ?? ""))
        rtxNegotiated = true;
    }
    return { rtxNegotiated, nackCount, retransmittedPacketsSent };
  });
}

/**
 * Starts logging, on the named tile, the wall-clock time (ms) of every frame its video
 * shows, and marks the tile's element. Later `frameTimes` reads the log; it returns null
 * if the tile's element is not the marked one any more (it disappeared, even briefly).
 */
export function watchTile(page: Page, name: string): Promise<boolean> {
  return page.evaluate((name) => {
    const tiles = document.querySelectorAll<HTMLElement>(
      'section[aria-label="Call"] [role="group"]',
    );
    const tile = [...tiles].find((t) => t.getAttribute("aria-label") === name) as
      (HTMLElement & { watched?: boolean }) | undefined;
    const video = tile?.querySelector("video") as
      (HTMLVideoElement & { frameTimes?: number[] }) | null | undefined;
    if (!tile || !video) return false;
    tile.watched = true;
    if (!video.frameTimes) {
      const times: number[] = (video.frameTimes = []);
      const count = () => {
        times.push(Date.now());
        video.requestVideoFrameCallback(count);
      };
      video.requestVideoFrameCallback(count);
    }
    return true;
  }, name);
}

export function frameTimes(page: Page, name: string): Promise<number[] | null> {
  return page.evaluate((name) => {
    const tiles = document.querySelectorAll<HTMLElement>(
      'section[aria-label="Call"] [role="group"]',
    );
    const tile = [...tiles].find((t) => t.getAttribute("aria-label") === name) as
      (HTMLElement & { watched?: boolean }) | undefined;
    const video = tile?.querySelector("video") as
      (HTMLVideoElement & { frameTimes?: number[] }) | null | undefined;
    if (!tile?.watched || !video?.frameTimes) return null;
    return video.frameTimes;
  }, name);
}

/** The longest time (ms) between two frames shown in [from, to]. */
export function longestGap(times: number[], from: number, to: number): number {
  let previous = from;
  let longest = 0;
  for (const t of times.filter((t) => t >= from && t <= to)) {
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return Math.max(longest, to - previous);
}

/**
 * When video came back after an outage that ended, or began, at `since`: the frame that
 * ends the first pause of at least `pauseMs` ending after `since` (a pause may start
 * before it: a blackout), provided `sustained` frames follow it; `since` itself if video
 * never paused. Undefined until video has resumed.
 */
export function resumedAt(
  times: number[],
  since: number,
  pauseMs = 300,
  sustained = 10,
): number | undefined {
  for (let i = 1; i < times.length; i++) {
    if (times[i]! <= since || times[i]! - times[i - 1]! < pauseMs) continue;
    return times.length - i > sustained ? times[i] : undefined;
  }
  const after = times.filter((t) => t > since);
  // No pause for 2 s and frames up to now: it never stopped.
  const flowing = after.length > sustained && Date.now() - after.at(-1)! < pauseMs;
  return flowing && Date.now() - since > 2_000 ? since : undefined;
}

/** For a failure's record: each connection's state, ICE generation and media counters. */
export function connectionSummary(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const lines: string[] = [];
    const pcs =
      (window as { recordedPeerConnections?: RTCPeerConnection[] }).recordedPeerConnections ?? [];
    for (const pc of pcs.filter((p) => p.connectionState !== "closed")) {
      const parts = [
        `${pc.connectionState} ufrag ${/a=ice-ufrag:(\S+)/.exec(pc.localDescription?.sdp ?? "")?.[1]}`,
      ];
      const stats = await pc.getStats();
      stats.forEach((r: Record<string, unknown>) => {
        if (r.type === "inbound-rtp" || r.type === "outbound-rtp")
          parts.push(
            `${r.type} ${r.kind} ${r.rid ?? ""} packets ${r.packetsReceived ?? r.packetsSent} frames ${r.framesDecoded ?? r.framesEncoded ?? "-"} lost ${r.packetsLost ?? "-"} pli ${r.pliCount ?? "-"} nack ${r.nackCount ?? "-"}`,
          );
        if (r.type === "candidate-pair") {
          // Every pair ICE tried, by the local side's kind: why a path was (not) chosen.
          const local = stats.get(r.localCandidateId as string) as Record<string, unknown>;
          const how = local
            ? `${local.candidateType}${local.relayProtocol ? `/${local.relayProtocol}` : ""}/${local.protocol}`
            : "?";
          parts.push(
            `pair ${how} ${r.state}${r.nominated ? " nominated" : ""} sent ${r.bytesSent} received ${r.bytesReceived} requests ${r.requestsSent}/${r.responsesReceived}`,
          );
        }
      });
      lines.push(parts.join(" | "));
    }
    return lines;
  });
}
