import type { ConnectionRole } from "@/sfu/protocol";
import type { SignalingClient } from "@/sfu/signaling-client";

/**
 * Trickle ICE towards the SFU for one connection. The SFU refuses candidates for a
 * connection it has not negotiated yet, so candidates wait here until the description
 * they belong to has been sent (`release`); after that they go out as they come.
 */
export class TrickleBuffer {
  private released = false;
  private readonly waiting: (RTCIceCandidate | null)[] = [];

  constructor(
    private readonly signaling: SignalingClient,
    private readonly connection: ConnectionRole,
  ) {}

  add(candidate: RTCIceCandidate | null): void {
    if (this.released) this.send(candidate);
    else this.waiting.push(candidate);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const candidate of this.waiting.splice(0)) this.send(candidate);
  }

  private send(candidate: RTCIceCandidate | null): void {
    // Firefox ends gathering with an empty candidate as well as with null: one end is enough.
    if (candidate && candidate.candidate === "") return;
    const init = candidate?.toJSON() ?? null;
    const payload = init
      ? {
          candidate: init.candidate ?? "",
          sdpMid: init.sdpMid ?? null,
          sdpMLineIndex: init.sdpMLineIndex ?? null,
          usernameFragment: init.usernameFragment ?? null,
        }
      : null;
    // A refused candidate costs nothing but that path; the connection's state tells the rest.
    this.signaling
      .request("iceCandidate", { connection: this.connection, candidate: payload })
      .catch((err: unknown) => {
        if (this.signaling.socket.connected)
          console.warn(`[call] ${this.connection} candidate refused: ${String(err)}`);
      });
  }
}
