import type { DefaultSession } from "next-auth";

declare module "next-auth" {
  interface Session {
    user: DefaultSession["user"] & { id: string };
    /** The user's session version this session was signed in at. */
    sessionVersion: number;
  }
  interface User {
    sessionVersion: number;
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    /** The session version at sign-in (lib/auth/options.ts). */
    ver?: number;
  }
}
