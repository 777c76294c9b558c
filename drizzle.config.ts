import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations into drizzle/; they are committed and
// applied at start by lib/db/migrate.ts.
export default defineConfig({
  dialect: "postgresql",
  schema: "./lib/db/schema.ts",
  out: "./drizzle",
});
