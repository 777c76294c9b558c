import type { ErrorBody, ErrorCode } from "./protocol";

/**
 * An error a participant caused and is told about, with a stable protocol code. Anything
 * that is not an SfuError is a bug: logged, and reported to the client as "internal".
 */
export class SfuError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SfuError";
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

/** The call token was refused (forged, expired, replayed, for another room…). */
export class TokenError extends SfuError {
  override name = "TokenError";
}

/** An SDP or ICE candidate the SFU could not parse or apply. */
export class NegotiationError extends SfuError {
  override name = "NegotiationError";
}

/** The room, peer or track is closing or closed; the command came too late. */
export class ClosedError extends SfuError {
  constructor(what: string) {
    super("closing", `${what} is closed`);
    this.name = "ClosedError";
  }
}

/** Turns anything thrown into what the client may see: its code, or "internal". */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof SfuError) return err.toBody();
  return { code: "internal", message: "internal error" };
}

/** For exhaustive switches: the compiler proves this line is never reached. */
export function assertUnreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
