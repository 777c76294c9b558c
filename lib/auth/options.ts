import "server-only";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { db, runtime } from "@/lib/server/runtime";
import { safeReturnPath } from "./redirect";
import { authenticationResponseSchema, finishAuthentication, passkeyConfig } from "./passkeys";
import { guestSchema, signInSchema } from "./schemas";
import { authenticate, doCreateGuest } from "./service";

/**
 * The user's session version a token was signed in at (findSessionUser in ./service.ts);
 * tokens from before versions existed count as 0.
 */
export function sessionVersionOf(token: { ver?: unknown }): number {
  return typeof token.ver === "number" ? token.ver : 0;
}

/** Thirty days, renewed while the person keeps coming back. */
export const SESSION_MAX_AGE_S = 30 * 24 * 60 * 60;

/**
 * NextAuth v4 with JWT sessions. Three credential providers: email + password for accounts
 * (created through POST /api/accounts, then signed in here), a passkey's assertion
 * (lib/auth/passkeys.ts; its challenge from POST /api/passkeys/signin-options), and a
 * display name alone for guests who arrive by link. The JWT carries the user id, the
 * session version it was signed in at, and NextAuth's default `name` claim (the display
 * name at sign-in, trusted by nothing); who the user is now, and whether that version is
 * still current, is read from the database on each request (lib/auth/session.ts).
 */
export function authOptions(): NextAuthOptions {
  return {
    // The secret in use (configured or generated: lib/server/secrets.ts), passed as the
    // option so NextAuth never falls back to reading NEXTAUTH_SECRET from the environment.
    secret: runtime().secrets.authSecret,
    session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_S },
    pages: { signIn: "/signin", error: "/signin" },
    providers: [
      CredentialsProvider({
        id: "password",
        name: "Email and password",
        credentials: { email: { type: "email" }, password: { type: "password" } },
        async authorize(credentials) {
          const parsed = signInSchema.safeParse(credentials);
          if (!parsed.success) return null;
          const found = await authenticate(db(), parsed.data.email, parsed.data.password);
          return found
            ? {
                id: found.user.id,
                name: found.user.displayName,
                sessionVersion: found.sessionVersion,
              }
            : null;
        },
      }),
      CredentialsProvider({
        id: "passkey",
        name: "Passkey",
        credentials: { response: { type: "text" } },
        async authorize(credentials, req) {
          let raw: unknown;
          try {
            raw = JSON.parse(credentials?.response ?? "");
          } catch {
            return null;
          }
          const parsed = authenticationResponseSchema.safeParse(raw);
          if (!parsed.success) return null;
          const host = (req.headers as Record<string, string | undefined> | undefined)?.host;
          const { rp } = passkeyConfig(host ?? null);
          const found = await finishAuthentication(db(), rp, parsed.data);
          return found
            ? {
                id: found.user.id,
                name: found.user.displayName,
                sessionVersion: found.sessionVersion,
              }
            : null;
        },
      }),
      CredentialsProvider({
        id: "guest",
        name: "Guest",
        credentials: { displayName: { type: "text" } },
        async authorize(credentials) {
          const parsed = guestSchema.safeParse(credentials);
          if (!parsed.success) return null;
          const user = await doCreateGuest(db(), parsed.data.displayName);
          return { id: user.id, name: user.displayName, sessionVersion: 0 };
        },
      }),
    ],
    callbacks: {
      /** After sign-in or sign-out, only a path on our own origin (lib/auth/redirect.ts). */
      redirect({ url, baseUrl }) {
        return `${baseUrl}${safeReturnPath(url, new URL(baseUrl).host)}`;
      },
      jwt({ token, user }) {
        if (user) {
          token.sub = user.id;
          token.ver = user.sessionVersion;
        }
        return token;
      },
      session({ session, token }) {
        if (token.sub && session.user) session.user.id = token.sub;
        session.sessionVersion = sessionVersionOf(token);
        return session;
      },
    },
  };
}
