import "server-only";
import { getServerSession } from "next-auth";
import { decode, encode } from "next-auth/jwt";
import { redirect } from "next/navigation";
import type { Db } from "@/lib/db/client";
import { db, runtime } from "@/lib/server/runtime";
import { authOptions, SESSION_MAX_AGE_S, sessionVersionOf } from "./options";
import type { SessionUser } from "./schemas";
import { findSessionUser } from "./service";

/** NextAuth names its cookie `__Secure-…` when it was set over HTTPS. */
const SESSION_COOKIES = ["__Secure-next-auth.session-token", "next-auth.session-token"];

/** The signed-in user of this request (route handlers and server components), or null. */
export async function getSessionUser(): Promise<SessionUser | null> {
  const session = await getServerSession(authOptions());
  const id = session?.user?.id;
  return id ? findSessionUser(db(), id, session.sessionVersion) : null;
}

/** For pages: the signed-in user, or a redirect to /signin and back to `returnTo`. */
export async function requirePageUser(returnTo: string): Promise<SessionUser> {
  const user = await getSessionUser();
  if (!user) redirect(`/signin?callbackUrl=${encodeURIComponent(returnTo)}`);
  return user;
}

/**
 * The user a raw `Cookie` header belongs to: for the Socket.IO handshake and plain-Node
 * routes, where NextAuth's request helpers do not apply. NextAuth splits a large token
 * over `name.0`, `name.1`, …; both forms are read.
 */
export async function getSessionUserFromCookieHeader(
  cookieHeader: string | undefined,
  database: Db = db(),
): Promise<SessionUser | null> {
  const token = sessionTokenFromCookies(parseCookies(cookieHeader ?? ""));
  if (!token) return null;
  try {
    const payload = await decode({ token, secret: runtime().secrets.authSecret });
    return payload?.sub
      ? await findSessionUser(database, payload.sub, sessionVersionOf(payload))
      : null;
  } catch {
    return null;
  }
}

function parseCookies(header: string): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    try {
      cookies.set(name, decodeURIComponent(raw));
    } catch {
      cookies.set(name, raw);
    }
  }
  return cookies;
}

function sessionTokenFromCookies(cookies: Map<string, string>): string | null {
  for (const name of SESSION_COOKIES) {
    const whole = cookies.get(name);
    if (whole) return whole;
    const chunks: string[] = [];
    for (let i = 0; cookies.has(`${name}.${i}`); i++) chunks.push(cookies.get(`${name}.${i}`)!);
    if (chunks.length) return chunks.join("");
  }
  return null;
}

/**
 * A Set-Cookie header giving this browser a new session for `user` at `sessionVersion`,
 * under the cookie name the request came with (`__Secure-…` over HTTPS), as NextAuth sets
 * it. Used where the session version moves on but this browser should stay signed in
 * (changing the password ends the other sessions, not this one). Null when the request
 * had no session cookie.
 */
export async function renewedSessionCookie(
  req: Request,
  user: SessionUser,
  sessionVersion: number,
): Promise<string | null> {
  const cookies = parseCookies(req.headers.get("cookie") ?? "");
  const name = SESSION_COOKIES.find((n) => cookies.has(n) || cookies.has(`${n}.0`));
  if (!name) return null;
  const token = await encode({
    token: { sub: user.id, name: user.displayName, ver: sessionVersion },
    secret: runtime().secrets.authSecret,
    maxAge: SESSION_MAX_AGE_S,
  });
  const secure = name.startsWith("__Secure-") ? "; Secure" : "";
  return `${name}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_MAX_AGE_S}${secure}`;
}
