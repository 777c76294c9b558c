/**
 * A private network namespace for `bench:sfu --compare janus`: Janus gathers no loopback
 * candidates, so both SFUs and the bots run in a namespace of their own with a veth pair
 * (`v0` 10.99.0.1 ↔ `v1`). Traffic between addresses of the namespace goes over its
 * loopback, exactly as on 127.0.0.1; nothing outside the namespace sees it.
 *
 * The benchmark runs itself again under `unshare -n` (root) or `unshare -rn` (a user
 * namespace, where the kernel allows it) and sets the namespace up from inside.
 */
import { execFileSync, spawn } from "node:child_process";

export const PRIVATE_MEDIA_IP = "10.99.0.1";
export const PRIVATE_INTERFACE = "v0";
const MARK = "PARLEY_BENCH_NETNS";

/** Whether this process already runs inside the benchmark's namespace. */
export function inPrivateNetwork(): boolean {
  return process.env[MARK] === "1";
}

/** Runs this same command again inside a new network namespace; resolves with its exit code. */
export function rerunInPrivateNetwork(): Promise<number> {
  const unshare = process.getuid?.() === 0 ? ["-n"] : ["-rn"];
  const child = spawn(
    "unshare",
    [...unshare, "--", process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: "inherit", env: { ...process.env, [MARK]: "1" } },
  );
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Inside the namespace: loopback up, and the veth pair with the media address. */
export function setUpPrivateNetwork(): void {
  const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "inherit" });
  ip("link", "set", "lo", "up");
  ip("link", "add", PRIVATE_INTERFACE, "type", "veth", "peer", "name", "v1");
  ip("addr", "add", `${PRIVATE_MEDIA_IP}/24`, "dev", PRIVATE_INTERFACE);
  ip("link", "set", PRIVATE_INTERFACE, "up");
  ip("link", "set", "v1", "up");
}
