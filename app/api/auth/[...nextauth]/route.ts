import NextAuth from "next-auth";
import { authLimits, limitSignIn } from "@/lib/auth/limits";
import { authOptions } from "@/lib/auth/options";
import { AppError } from "@/lib/errors";
import { errorResponse } from "@/lib/server/route";

type Context = { params: Promise<{ nextauth: string[] }> };

const handler = (req: Request, ctx: Context) => NextAuth(req as never, ctx as never, authOptions());

/**
 * NextAuth's endpoints take forms (its client posts them urlencoded); anything else — JSON,
 * a compressed body — made it fail with a 500, so it is refused here with a clear 415.
 * Sign-ins and guest creation are rate-limited (lib/auth/limits.ts) before NextAuth runs.
 */
async function post(req: Request, ctx: Context): Promise<Response> {
  const type = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded" || req.headers.has("content-encoding")) {
    return errorResponse(
      req,
      new AppError(
        "unsupported_media_type",
        "Send this form as application/x-www-form-urlencoded, uncompressed",
      ),
    );
  }
  return (await limitSignIn(req, authLimits())) ?? handler(req, ctx);
}

export { handler as GET, post as POST };
