import "server-only";
import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import { db } from "@/lib/server/runtime";
import { safeReturnPath } from "./redirect";
import { guestSchema, signInSchema } from "./schemas";
import { authenticate, doCreateGuest } from "./service";

/** Thirty days, renewed while the person keeps coming back. */
const SESSION_MAX_AGE_S = 30 * 24 * 60 * 60;

/**
 * NextAuth v4 with JWT sessions. Two credential providers: email + password for accounts
 * (created through POST /api/accounts, then signed in here) and a display name alone for
 * guests who arrive by link. The JWT carries only the user id; who the user is now is read
 * from the database on each request (lib/auth/session.ts).
 */
export function authOptions(): NextAuthOptions {
  return {
    secret: process.env.AUTH_SECRET,
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
          const user = await authenticate(db(), parsed.data.email, parsed.data.password);
          return user ? { id: user.id, name: user.displayName } : null;
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
          return { id: user.id, name: user.displayName };
        },
      }),
    ],
    callbacks: {
      /** After sign-in or sign-out, only a path on our own origin (lib/auth/redirect.ts). */
      redirect({ url, baseUrl }) {
        return `${baseUrl}${safeReturnPath(url, new URL(baseUrl).host)}`;
      },
      jwt({ token, user }) {
        if (user) token.sub = user.id;
        return token;
      },
      session({ session, token }) {
        if (token.sub && session.user) session.user.id = token.sub;
        return session;
      },
    },
  };
}
