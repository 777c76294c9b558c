import "server-only";
import { NextResponse } from "next/server";
import type { z } from "zod";
import type { SessionUser } from "@/lib/auth/schemas";
import { getSessionUser } from "@/lib/auth/session";
import { AppError, badRequest, toErrorBody, unauthorized } from "@/lib/errors";

/**
 * Every route handler goes through `route`: it authenticates (unless `public`), parses the
 * JSON body or query string with a zod schema, and turns errors into
 * `{ error: { code, message } }` with the matching status. Bugs are logged, not leaked.
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
      const body = toErrorBody(err);
      if (!(err instanceof AppError)) console.error(`[route] ${req.method} ${new URL(req.url).pathname}:`, err);
      return NextResponse.json({ error: body }, { status: err instanceof AppError ? err.status : body.code === "unavailable" ? 503 : 500 });
    }
  };
}

async function parseInput(req: Request, schema: z.ZodType): Promise<unknown> {
  let raw: unknown;
  if (req.method === "GET" || req.method === "DELETE") {
    raw = Object.fromEntries(new URL(req.url).searchParams);
  } else {
    const text = await req.text();
    if (text.length > 64 * 1024) throw new AppError("too_large", "Request body too large");
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
