/**
 * A Room is one call: its peers and what they publish. It wires each new track to every
 * other peer, tells everyone who came, went, published and muted, and closes itself when
 * the last peer leaves. Parents (the Server) drop it on `closed`.
 */
import { ActiveSpeaker } from "./active-speaker";
import type { Logger } from "./log";
import type { Peer } from "./peer";
import type { Producer } from "./producer";
import type { CommandResult, EventName, EventPayload } from "./protocol";
import { live } from "./stats";
import { TypedEmitter } from "./typed-emitter";

export class Room extends TypedEmitter<{ closed: [] }> {
  readonly peers = new Map<string, Peer>();
  private readonly speaker = new ActiveSpeaker();
  private closed_ = false;

  static async create(id: string, log: Logger): Promise<Room> {
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

  /** Every track published in the room. */
  producers(): Producer[] {
    return [...this.peers.values()].flatMap((peer) => peer.producers);
  }

  /**
   * Adds a peer and returns what `join` answers. Synchronous on purpose: the Server calls
   * it inside its room queue, so the room cannot close half-way through a join.
   */
  addPeer(peer: Peer): CommandResult<"join"> {
    const state = this.stateFor(peer);
    const existing = this.producers();
    this.peers.set(peer.id, peer);
    peer.on("produced", (producer) => this.onProduced(peer, producer));
    peer.on("closed", () => this.onPeerClosed(peer));
    this.broadcast("participantJoined", { participant: peer.participant }, peer.id);
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
      participants: others.map((other) => other.participant),
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
    this.speaker.close();
    this.emit("closed");
    this.removeAllListeners();
  }

  private onProduced(publisher: Peer, producer: Producer): void {
    this.broadcast("trackPublished", { track: producer.info() }, publisher.id);
    for (const peer of this.peers.values()) if (peer !== publisher) peer.subscribe(producer);
    producer.on("muted", (muted) => this.broadcast("trackMuted", { trackId: producer.id, muted }));
    producer.on("audioLevel", (level) => this.speaker.report(publisher.id, level));
    producer.on("closed", () => {
      if (producer.source === "mic") this.speaker.remove(publisher.id);
      this.broadcast("trackUnpublished", { trackId: producer.id }, publisher.id);
    });
  }

  private onPeerClosed(peer: Peer): void {
    if (this.peers.get(peer.id) !== peer) return;
    this.peers.delete(peer.id);
    this.speaker.remove(peer.id);
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
