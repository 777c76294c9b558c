import "server-only";
import { NextResponse } from "next/server";
import type { z } from "zod";
import type { SessionUser } from "@/lib/auth/schemas";
import { getSessionUser } from "@/lib/auth/session";
import {
  AppError,
  badRequest,
  forbidden,
  isAppError,
  statusOf,
  toErrorBody,
  unauthorized,
} from "@/lib/errors";
import { writeAllowed } from "@/lib/realtime/origin";
import { readCapped } from "./body";
import { isRateLimited, rateLimitedResponse } from "./rate-limit";
import { runtime } from "./runtime";

/**
 * Every route handler goes through `route`: it refuses cross-site writes, authenticates
 * (unless `public`), parses the JSON body (at most MAX_BODY_BYTES, never buffered past
 * that) or query string with a zod schema, and turns errors into
 * `{ error: { code, message } }` with the matching status (errorResponse). Bugs are
 * logged, not leaked.
 */
type Context<P> = { params: Promise<P> };

interface Options<S extends z.ZodType | undefined> {
  /** Validates the JSON body (POST/PATCH/PUT) or the query string (GET/DELETE). */
  input?: S;
  public?: boolean;
}

type Input<S> = S extends z.ZodType ? z.output<S> : undefined;

export function route<P, S extends z.ZodType | undefined = undefined>(
  options: Options<S>,
  handler: (args: {
    req: Request;
    user: SessionUser;
    input: Input<S>;
    params: P;
  }) => Promise<unknown>,
) {
  return async (req: Request, context: Context<P>): Promise<Response> => {
    try {
      checkSameOrigin(req);
      const user = options.public ? null : await getSessionUser();
      if (!options.public && !user) throw unauthorized();
      const input = options.input ? await parseInput(req, options.input) : undefined;
      const result = await handler({
        req,
        user: user as SessionUser,
        input: input as Input<S>,
        params: await context.params,
      });
      if (result instanceof Response) return result;
      return NextResponse.json(result ?? null);
    } catch (err) {
      return errorResponse(req, err);
    }
  };
}

/**
 * The one place a failure becomes an HTTP answer: by its code (lib/errors.ts), whichever
 * module graph threw it, so an AppError from an object server.ts built (the SFU placement,
 * the rate limits) gets its status like one thrown here. Rate-limit refusals say when to
 * try again (`Retry-After`). Anything without a code is a bug: logged, answered 500 (or
 * 503 when the database is unreachable).
 */
/** The JSON error answer for `err` (one mapping of codes to statuses, `Retry-After` included). */
export function errorResponse(req: Request, err: unknown): Response {
  if (isRateLimited(err)) return rateLimitedResponse(err);
  if (!isAppError(err)) console.error(`[route] ${req.method} ${new URL(req.url).pathname}:`, err);
  const body = toErrorBody(err);
  return NextResponse.json({ error: body }, { status: statusOf(body.code) });
}

async function parseInput(req: Request, schema: z.ZodType): Promise<unknown> {
  let raw: unknown;
  if (req.method === "GET" || req.method === "DELETE") {
    raw = Object.fromEntries(new URL(req.url).searchParams);
  } else {
    const text = await readJsonBody(req);
    try {
      raw = text ? JSON.parse(text) : {};
    } catch {
      throw badRequest("The request body is not valid JSON");
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(issue?.message ?? "Invalid input");
  }
  return parsed.data;
}

/** The largest JSON body any route accepts (its inputs are names, ids and short settings). */
export const MAX_BODY_BYTES = 64 * 1024;

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * CSRF defence that does not rest on SameSite cookies alone: a browser names the page that
 * made a request in Origin (and says in Sec-Fetch-Site how it relates to us), so a write
 * from another site is refused before it does anything. The rule is the WebSockets' one
 * (lib/realtime/origin.ts: this host, PUBLIC_URL, ALLOWED_ORIGINS). Clients that are not
 * browsers send neither header and still need a session.
 */
function checkSameOrigin(req: Request): void {
  if (!WRITE_METHODS.has(req.method)) return;
  const { config } = runtime();
  const ok = writeAllowed(
    {
      origin: req.headers.get("origin"),
      secFetchSite: req.headers.get("sec-fetch-site"),
      host: req.headers.get("host"),
    },
    { publicUrl: config.PUBLIC_URL, extra: config.ALLOWED_ORIGINS },
  );
  if (!ok) throw forbidden("Requests from other sites are not accepted");
}

/**
 * A write's body, as text, refused as soon as it is known to be too large: from its
 * Content-Length before a byte is read, or while streaming (a chunked body has no length),
 * so at most MAX_BODY_BYTES (plus one chunk) is ever held. Only JSON is accepted: a form
 * or text/plain body is what a cross-site page can send without asking first.
 */
async function readJsonBody(req: Request): Promise<string> {
  const type = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new AppError("unsupported_media_type", "Send the request body as application/json");
  }
  const tooLarge = () =>
    new AppError(
      "too_large",
      `The request body is too large (at most ${MAX_BODY_BYTES / 1024} KB)`,
    );
  const declared = req.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= MAX_BODY_BYTES)) throw tooLarge();
  const body = await readCapped(req.body, MAX_BODY_BYTES);
  if (!body) throw tooLarge();
  return body.toString("utf8");
}
