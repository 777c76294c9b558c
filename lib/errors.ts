/**
 * Errors a user can cause and fix, with a stable code for clients and a message to show.
 * Anything else is a bug: logged, and reported to the client as "internal".
 *
 * Recognise them with {@link isAppError} (by their `code`), never `instanceof AppError`:
 * server.ts and the code Next bundles each have their own copy of this class, and an
 * error thrown by an object server.ts built (the SFU placement, the rate limits) reaches
 * route handlers as the other copy's instance (docs/architecture.md).
 */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "unsupported_media_type"
  | "rate_limited"
  | "unavailable"
  | "internal";

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "AppError";
  }
  get status(): number {
    return STATUS[this.code];
  }
}

/** Any AppError, whichever module graph made it: an Error whose `code` is an ErrorCode. */
export function isAppError(err: unknown): err is AppError {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && Object.hasOwn(STATUS, code);
}

export const badRequest = (message: string) => new AppError("bad_request", message);
export const notFound = (message = "Not found") => new AppError("not_found", message);
export const forbidden = (message = "You can't do that here") => new AppError("forbidden", message);
export const unauthorized = (message = "Sign in first") => new AppError("unauthorized", message);

export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

/** The JSON body of every error response and every failed ack. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

export function toErrorBody(err: unknown): ErrorBody {
  if (isAppError(err)) return { code: err.code, message: err.message };
  if (isDatabaseUnavailable(err)) {
    return { code: "unavailable", message: "The database is unavailable; try again shortly" };
  }
  return { code: "internal", message: "Something went wrong on our side" };
}

/** Connection-level failures (server restarting, network) rather than bad queries. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === "object" && !seen.has(e)) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === "string" &&
      (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "57P01", "57P02", "57P03"].includes(
        code,
      ) ||
        code.startsWith("08"))
    ) {
      return true;
    }
    const message = (e as { message?: unknown }).message;
    if (
      typeof message === "string" &&
      /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
        message,
      )
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
