import { z } from "zod";

/** Characters that would let a name impersonate or reorder text: controls and bidi marks. */
const UNSAFE_TEXT = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

export const displayNameSchema = z
  .string({ error: "Enter a display name" })
  .trim()
  .min(1, "Enter a display name")
  .max(64, "A display name is at most 64 characters")
  .refine((s) => !UNSAFE_TEXT.test(s), "A display name can't contain control characters");

export const emailSchema = z
  .string({ error: "Enter an email address" })
  .trim()
  .toLowerCase()
  .max(254, "That email address is too long")
  .pipe(z.email("Enter a valid email address"));

export const passwordSchema = z
  .string({ error: "Enter a password" })
  .min(8, "A password is at least 8 characters")
  .max(256, "A password is at most 256 characters");

export const createAccountSchema = z.object({
  email: emailSchema,
  password: passwordSchema,
  displayName: displayNameSchema,
});
export type CreateAccountInput = z.infer<typeof createAccountSchema>;

export const signInSchema = z.object({
  email: emailSchema,
  password: z.string().min(1, "Enter your password").max(256),
});

export const guestSchema = z.object({ displayName: displayNameSchema });

/** Who is signed in, as every part of the app sees them. */
export interface SessionUser {
  id: string;
  displayName: string;
  email: string | null;
  isGuest: boolean;
}
