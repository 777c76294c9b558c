/**
 * The HTTPS listeners of lib/server/tls/ with a stand-in app, configured from the
 * environment as server.ts configures them: what test/server/tls/acme.test.ts runs on a
 * lab host against a real ACME CA. `GET /status` answers the TLS status /api/health
 * reports; everything else `hello <path>`.
 */
import { loadEnv } from "@/lib/env";
import { tlsPlan } from "@/lib/server/tls/config";
import { createWeb, type Web } from "@/lib/server/tls/web";

const plan = tlsPlan(loadEnv());
let web: Web | undefined = undefined;
web = await createWeb(plan, {
  dataDir: process.env.DATA_DIR!,
  handler: (req, res) => {
    if (req.url === "/status") {
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify(web?.status()));
    } else res.end(`hello ${req.url}`);
  },
});
await web.listen("0.0.0.0");
console.info("listening");
process.on("SIGTERM", () => void web?.close().then(() => process.exit(0)));
