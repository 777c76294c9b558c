/**
 * The publish connection: the browser offers, the SFU answers (as DTLS server). One
 * transceiver per source, made on first use and kept: turning the camera off or muting the
 * microphone only swaps the sent track (`replaceTrack`) and tells the SFU `setTrackMuted`,
 * without renegotiating; starting or stopping a screen share re-offers. Design: docs/calls.md.
 */
import { LAYER_ORDER, NOMINAL_HEIGHT } from "@/sfu/layer-selection";
import { kindOfSource, type SimulcastLayer, type TrackSource, TRACK_SOURCES } from "@/sfu/protocol";
import type { SignalingClient } from "@/sfu/signaling-client";
import { cameraCaptureHeight } from "./local-media";
import type { IceSettings } from "./ticket";

const LAYER_BITRATE: Record<SimulcastLayer, number> = {
  low: 150_000,
  medium: 500_000,
  high: 1_500_000,
};

/**
 * The camera's simulcast layers for a capture `height`; rids are the SFU's layer names, and
 * the SFU forwards one per subscriber, picked from the tile size each reports and its
 * bandwidth. A layer is sent only where the capture is at least its nominal height
 * (180p low, 360p medium, 720p high), the top one always at full size: 720p sends three
 * layers, 360p two (low and medium), as browsers do too — Chromium sends no more than two
 * layers of a 360p capture, so a third asked for would never flow and the full size would
 * never reach anyone.
 */
export function cameraLayers(height: number): RTCRtpEncodingParameters[] {
  const layers = LAYER_ORDER.filter((layer) => NOMINAL_HEIGHT[layer] <= height);
  if (layers.length === 0) layers.push("low");
  return layers.map((rid, i) => ({
    rid,
    scaleResolutionDownBy: i === layers.length - 1 ? 1 : height / NOMINAL_HEIGHT[rid],
    maxBitrate: LAYER_BITRATE[rid],
  }));
}

/** What to do with one source: send `track` (null = muted/off) while `publish` is true. */
export interface SourceWish {
  publish: boolean;
  track: MediaStreamTrack | null;
}

export class Publisher {
  readonly pc: RTCPeerConnection;
  private readonly transceivers = new Map<TrackSource, RTCRtpTransceiver>();
  private readonly wishes = new Map<TrackSource, SourceWish>();
  /** The SFU's track id per published source, from the last answer. */
  private readonly trackIds = new Map<TrackSource, string>();
  /** The muted state the SFU last heard, per source. */
  private readonly mutedSent = new Map<TrackSource, boolean>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly signaling: SignalingClient,
    ice: IceSettings,
  ) {
    // The default bundle policy, not max-bundle: with max-bundle Firefox offers every m-line
    // after the first as `bundle-only` with port 0, which reads as "not sending". The SFU
    // answers with one bundle either way.
    // No trickling: the SFU is ICE-lite and learns this browser's addresses from its
    // connectivity checks (docs/sfu.md, "ICE"), so candidates are never sent.
    this.pc = new RTCPeerConnection({
      iceServers: ice.iceServers,
      iceTransportPolicy: ice.iceTransportPolicy,
    });
  }

  /** The SFU's id for a source you publish (for matching active-speaker and mute events). */
  trackIdOf(source: TrackSource): string | undefined {
    return this.trackIds.get(source);
  }

  /** Sets what each given source should send and brings the connection there, in order. */
  update(wishes: Partial<Record<TrackSource, SourceWish>>): Promise<void> {
    for (const [source, wish] of Object.entries(wishes) as [TrackSource, SourceWish][]) {
      this.wishes.set(source, wish);
    }
    const next = this.chain.then(() => this.apply());
    // The chain goes on after a failure; the caller still sees this update's error.
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Re-offers with fresh ICE credentials (after a network change or outage), in order. */
  restartIce(): Promise<void> {
    const next = this.chain.then(() => {
      if (!this.closed && this.pc.remoteDescription) return this.negotiate({ iceRestart: true });
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Local tracks belong to the Call (they outlive a reconnect); only the connection goes.
    this.pc.close();
  }

  private async apply(): Promise<void> {
    if (this.closed) return;
    let negotiate = false;
    for (const source of TRACK_SOURCES) {
      const wish = this.wishes.get(source);
      let transceiver = this.transceivers.get(source);
      if (wish?.publish) {
        if (!transceiver) {
          transceiver = this.pc.addTransceiver(wish.track ?? kindOfSource(source), {
            direction: "sendonly",
            ...(source === "camera"
              ? {
                  sendEncodings: cameraLayers(
                    wish.track?.getSettings().height ?? cameraCaptureHeight(),
                  ),
                }
              : {}),
          });
          this.transceivers.set(source, transceiver);
          negotiate = true;
        } else if (transceiver.direction !== "sendonly") {
          transceiver.direction = "sendonly";
          negotiate = true;
        }
        if (transceiver.sender.track !== wish.track)
          await transceiver.sender.replaceTrack(wish.track);
      } else if (transceiver && transceiver.direction !== "inactive") {
        await transceiver.sender.replaceTrack(null);
        transceiver.direction = "inactive";
        this.trackIds.delete(source);
        negotiate = true;
      }
    }
    if (negotiate) await this.negotiate();
    await this.sendMuted();
  }

  private published(): { source: TrackSource; mid: string; muted: boolean }[] {
    const tracks: { source: TrackSource; mid: string; muted: boolean }[] = [];
    for (const [source, transceiver] of this.transceivers) {
      if (transceiver.direction !== "sendonly" || !transceiver.mid) continue;
      tracks.push({ source, mid: transceiver.mid, muted: !this.wishes.get(source)?.track });
    }
    return tracks;
  }

  private async negotiate(options?: RTCOfferOptions): Promise<void> {
    const offer = await this.pc.createOffer(options);
    await this.pc.setLocalDescription(offer);
    if (this.closed) return;
    const tracks = this.published();
    const result = await this.signaling.request("publishOffer", {
      sdp: this.pc.localDescription!.sdp,
      tracks,
    });
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: "answer", sdp: result.sdp });
    this.trackIds.clear();
    for (const track of result.tracks) this.trackIds.set(track.source, track.trackId);
    for (const track of tracks) this.mutedSent.set(track.source, track.muted);
  }

  private async sendMuted(): Promise<void> {
    for (const [source, trackId] of this.trackIds) {
      const muted = !this.wishes.get(source)?.track;
      if (this.mutedSent.get(source) === muted) continue;
      this.mutedSent.set(source, muted);
      await this.signaling.request("setTrackMuted", { trackId, muted });
    }
  }
}
