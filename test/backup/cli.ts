import { spawn } from "node:child_process";

/**
 * Runs `npm run backup|restore|rotate-files-key` as an operator would (the CLI module under
 * the same Node hooks as the npm scripts), with only the given variables set beside PATH.
 */
export function runCli(
  command: "backup" | "restore" | "rotate-files-key",
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "./scripts/node-hooks.mjs",
        "--import",
        "tsx",
        "lib/backup/cli.ts",
        command,
        ...args,
      ],
      { env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", ...env } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
