import NextAuth from "next-auth";
import { authLimits, limitSignIn } from "@/lib/auth/limits";
import { authOptions } from "@/lib/auth/options";

type Context = { params: Promise<{ nextauth: string[] }> };

const handler = (req: Request, ctx: Context) => NextAuth(req as never, ctx as never, authOptions());

/** Sign-ins and guest creation are rate-limited (lib/auth/limits.ts) before NextAuth runs. */
async function post(req: Request, ctx: Context): Promise<Response> {
  return (await limitSignIn(req, authLimits())) ?? handler(req, ctx);
}

export { handler as GET, post as POST };
