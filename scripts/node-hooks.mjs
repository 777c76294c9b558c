// Preloaded (node --import) into processes that run the app's TypeScript outside Next's
// bundler: server.ts, scripts, benchmarks. `server-only` is a marker that Next resolves to
// an empty module for server code; plain Node resolves it to a module that throws, so it
// is mapped to the empty one here. Client components never reach this process.
import { registerHooks } from "node:module";

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === "server-only") {
      return { url: "data:text/javascript,export{}", shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});
