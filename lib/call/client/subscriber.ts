/**
 * The subscribe connection: the SFU offers one m-line per track you receive and
 * re-offers as tracks come and go; the browser answers. Offers are applied one at a time,
 * in the order they come. After each, the received tracks are handed to the Call by the
 * SFU's track id. Design: docs/calls.md.
 */
import type { EventPayload } from "@/sfu/protocol";
import type { SignalingClient } from "@/sfu/signaling-client";
import type { IceSettings } from "./ticket";

export type ReceivedTracks = Map<string, MediaStreamTrack>;

export class Subscriber {
  readonly pc: RTCPeerConnection;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Track ids carried by the last applied offer. */
  private current = new Set<string>();

  constructor(
    private readonly signaling: SignalingClient,
    ice: IceSettings,
    private readonly onTracks: (tracks: ReceivedTracks) => void,
    private readonly onFailure: (err: unknown) => void,
  ) {
    // The default bundle policy: an offer whose m-lines are all stopped has no BUNDLE group,
    // which max-bundle refuses.
    // No trickling: the SFU is ICE-lite (see publisher.ts).
    this.pc = new RTCPeerConnection({
      iceServers: ice.iceServers,
      iceTransportPolicy: ice.iceTransportPolicy,
    });
  }

  /** Whether the last applied offer carries this track (its consumer exists on the SFU). */
  has(trackId: string): boolean {
    return this.current.has(trackId);
  }

  handleOffer(offer: EventPayload<"subscribeOffer">): void {
    this.chain = this.chain
      .then(() => this.apply(offer))
      .catch((err: unknown) => {
        if (!this.closed) this.onFailure(err);
      });
  }

  /** Asks the SFU for an offer with fresh ICE credentials; it arrives as a normal offer. */
  async restartIce(): Promise<void> {
    if (this.closed || !this.pc.remoteDescription) return;
    await this.signaling.request("restartIce", {});
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
  }

  private async apply(offer: EventPayload<"subscribeOffer">): Promise<void> {
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    if (this.closed) return;
    const acked = this.signaling.request("subscribeAnswer", {
      revision: offer.revision,
      sdp: this.pc.localDescription!.sdp,
    });
    // Receivers exist once the offer is applied: hand their tracks over without waiting
    // for the ack, so tiles can attach while the SFU finishes.
    const byMid = new Map(this.pc.getTransceivers().map((t) => [t.mid, t]));
    const tracks: ReceivedTracks = new Map();
    for (const { mid, trackId } of offer.tracks) {
      const transceiver = byMid.get(mid);
      if (transceiver) tracks.set(trackId, transceiver.receiver.track);
    }
    this.current = new Set(tracks.keys());
    this.onTracks(tracks);
    await acked;
  }
}
