/**
 * A Room is one call on one media worker: its peers there and what they publish. It wires
 * each new track to every other peer, tells everyone who came, went, published and muted,
 * and closes itself when its last peer leaves. Parents (the worker) drop it on `closed`.
 *
 * A room spread over several workers (docs/sfu.md, "Workers") has a Room on each; each
 * knows the others' participants ({@link addRemoteParticipant}) and receives their tracks
 * through pipes ({@link addRemoteTrack}), and reports its own changes (`change`) for the
 * main thread to pass on.
 */
import { ActiveSpeaker } from "./active-speaker";
import type { Logger } from "./log";
import type { Peer } from "./peer";
import type { ProducerLike } from "./producer";
import type { CommandResult, EventName, EventPayload, Participant, TrackInfo } from "./protocol";
import { live } from "./stats";
import { TypedEmitter } from "./typed-emitter";

/** What a Room's own peers did, for the Room's parts on other workers. */
export type RoomChange =
  | { kind: "participantJoined"; participant: Participant }
  | { kind: "participantLeft"; peerId: string }
  | { kind: "trackPublished"; track: TrackInfo }
  | { kind: "trackUnpublished"; trackId: string }
  | { kind: "trackMuted"; trackId: string; muted: boolean };

export class Room extends TypedEmitter<{ closed: []; change: [RoomChange] }> {
  readonly peers = new Map<string, Peer>();
  /** Participants on the room's other workers. */
  private readonly remotes = new Map<string, Participant>();
  /** Their tracks, piped here. */
  private readonly remoteTracks = new Map<string, ProducerLike>();
  private readonly speaker = new ActiveSpeaker();
  private closed_ = false;

  static create(id: string, log: Logger): Room {
    return new Room(id, log);
  }

  private constructor(
    readonly id: string,
    private readonly log: Logger,
  ) {
    super();
    live.rooms++;
    this.speaker.on("changed", (peerId) => this.broadcast("activeSpeaker", { peerId }));
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** Every track published in the room, this worker's and those piped here. */
  producers(): ProducerLike[] {
    return [
      ...[...this.peers.values()].flatMap((peer) => peer.producers),
      ...this.remoteTracks.values(),
    ];
  }

  /**
   * Adds a peer and returns what `join` answers. Synchronous on purpose: the Server calls
   * it inside its room queue, so the room cannot close half-way through a join.
   */
  addPeer(peer: Peer): CommandResult<"join"> {
    const state = this.stateFor(peer);
    const existing = this.producers();
    this.peers.set(peer.id, peer);
    peer.on("produced", (producer) => this.addTrack(producer, true));
    peer.on("closed", () => this.onPeerClosed(peer));
    this.broadcast("participantJoined", { participant: peer.participant }, peer.id);
    this.emit("change", { kind: "participantJoined", participant: peer.participant });
    for (const producer of existing) peer.subscribe(producer);
    this.log.info("peer joined", { roomId: this.id, peerId: peer.id, peers: this.peers.size });
    return state;
  }

  /** One of this room's peers by id. */
  peer(peerId: string): Peer | undefined {
    return this.peers.get(peerId);
  }

  /** The call as `peer` sees it: the others and what they publish (`join`, `resume`). */
  stateFor(peer: Peer): CommandResult<"join"> {
    const others = [...this.peers.values()].filter((other) => other !== peer);
    return {
      self: { ...peer.participant, mayPublish: peer.mayPublish },
      participants: [...others.map((other) => other.participant), ...this.remotes.values()],
      tracks: this.producers()
        .filter((producer) => producer.peerId !== peer.id)
        .map((producer) => producer.info()),
      resumeToken: peer.resumeToken,
    };
  }

  /** Idempotent: closes every peer, then emits `closed`. */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    live.rooms--;
    for (const peer of [...this.peers.values()]) peer.close("room closed");
    this.peers.clear();
    for (const track of [...this.remoteTracks.values()]) track.close();
    this.remotes.clear();
    this.speaker.close();
    this.emit("closed");
    this.removeAllListeners();
  }

  /** A participant of this room joined on another worker. */
  addRemoteParticipant(participant: Participant): void {
    if (this.closed_ || this.remotes.has(participant.peerId)) return;
    this.remotes.set(participant.peerId, participant);
    this.broadcast("participantJoined", { participant });
  }

  /** A participant on another worker left (or its worker died): its piped tracks go too. */
  removeRemoteParticipant(peerId: string): void {
    if (!this.remotes.delete(peerId)) return;
    for (const track of [...this.remoteTracks.values()]) if (track.peerId === peerId) track.close();
    this.speaker.remove(peerId);
    this.broadcast("participantLeft", { peerId });
  }

  /** A track published on another worker, piped here (sfu/pipe.ts). */
  addRemoteTrack(track: ProducerLike): void {
    if (this.closed_ || this.remoteTracks.has(track.id)) {
      track.close();
      return;
    }
    this.remoteTracks.set(track.id, track);
    track.on("closed", () => this.remoteTracks.delete(track.id));
    this.addTrack(track, false);
  }

  /** A track published on another worker, piped here, by id. */
  remoteTrack(trackId: string): ProducerLike | undefined {
    return this.remoteTracks.get(trackId);
  }

  /** Offers a new track to everyone but its publisher, and follows its mutes and end. */
  private addTrack(producer: ProducerLike, local: boolean): void {
    const publisherId = producer.peerId;
    this.broadcast("trackPublished", { track: producer.info() }, publisherId);
    if (local) this.emit("change", { kind: "trackPublished", track: producer.info() });
    for (const peer of this.peers.values()) if (peer.id !== publisherId) peer.subscribe(producer);
    producer.on("muted", (muted) => {
      this.broadcast("trackMuted", { trackId: producer.id, muted });
      if (local) this.emit("change", { kind: "trackMuted", trackId: producer.id, muted });
    });
    producer.on("audioLevel", (level) => this.speaker.report(publisherId, level));
    producer.on("closed", () => {
      if (producer.source === "mic") this.speaker.remove(publisherId);
      this.broadcast("trackUnpublished", { trackId: producer.id }, publisherId);
      if (local) this.emit("change", { kind: "trackUnpublished", trackId: producer.id });
    });
  }

  private onPeerClosed(peer: Peer): void {
    if (this.peers.get(peer.id) !== peer) return;
    this.peers.delete(peer.id);
    this.speaker.remove(peer.id);
    this.emit("change", { kind: "participantLeft", peerId: peer.id });
    this.broadcast("participantLeft", { peerId: peer.id });
    this.log.info("peer left", { roomId: this.id, peerId: peer.id, peers: this.peers.size });
    if (this.peers.size === 0) this.close();
  }

  private broadcast<K extends EventName>(
    event: K,
    payload: EventPayload<K>,
    exceptPeerId?: string,
  ): void {
    for (const peer of this.peers.values()) if (peer.id !== exceptPeerId) peer.send(event, payload);
  }
}
