/**
 * Why a peer connection failed, in words an operator can act on. The SFU is ICE-lite: it
 * never sends a connectivity check, so "ICE failed" on its side means the peer's checks
 * stopped arriving or never came. A connection watched here fails, once, when
 * - it is not connected `connectTimeoutMs` after its first negotiation (the peer's checks
 *   never reached the SFU: blocked UDP/TCP on its path, or it needed TURN), or
 * - werift reports it failed, with the DTLS or ICE state that made it so.
 * Later outages are not failures: the client restarts ICE, and its signaling socket closing
 * ends the peer.
 */
import type { RTCPeerConnection } from "werift";

export interface HealthWatch {
  /** Call after each negotiation; the first one starts the connect timer. */
  negotiated(): void;
  stop(): void;
}

export function watchHealth(
  pc: RTCPeerConnection,
  connectTimeoutMs: number,
  onFailure: (reason: string) => void,
): HealthWatch {
  let timer: NodeJS.Timeout | undefined;
  let connected = false;
  let done = false;
  const fail = (reason: string) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    onFailure(reason);
  };
  const subscription = pc.connectionStateChange.subscribe((state) => {
    if (state === "connected") {
      connected = true;
      clearTimeout(timer);
    } else if (state === "failed") {
      fail(describeFailure(pc));
    }
  });
  return {
    negotiated() {
      if (connected || done || timer) return;
      timer = setTimeout(() => {
        const seconds = Math.round(connectTimeoutMs / 1000);
        fail(
          pc.iceConnectionState === "connected" || pc.iceConnectionState === "completed"
            ? `DTLS handshake not done within ${seconds} s of the negotiation (${dtlsStates(pc)})`
            : `no ICE connectivity check from the peer within ${seconds} s: UDP and TCP to the SFU's media ports are blocked on its path, or it needs a TURN server`,
        );
      }, connectTimeoutMs);
      timer.unref();
    },
    stop() {
      done = true;
      clearTimeout(timer);
      subscription.unSubscribe();
    },
  };
}

function describeFailure(pc: RTCPeerConnection): string {
  if (pc.dtlsTransports.some((t) => t.state === "failed"))
    return `DTLS handshake failed (${dtlsStates(pc)})`;
  return `ICE failed (ICE ${pc.iceConnectionState}, ${dtlsStates(pc)})`;
}

function dtlsStates(pc: RTCPeerConnection): string {
  const states = pc.dtlsTransports.map((t) => t.state);
  return `DTLS ${states.length > 0 ? states.join(", ") : "not started"}`;
}
