#!/usr/bin/env node
// Finds (or installs, where this machine allows) the browsers the end-to-end tests drive,
// and prints them as shell assignments: CHROMIUM_PATH=… FIREFOX_PATH=…
//
// Order for each browser: the variable already set, the system's own, one Playwright already
// downloaded; then, as root on Debian, `apt-get install` (the distribution's package: nothing
// is fetched from outside the npm registry and the apt mirrors). Otherwise it stops and says
// how to get one.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

const BROWSERS = {
  chromium: {
    env: "CHROMIUM_PATH",
    system: [
      "/usr/bin/chromium",
      "/usr/bin/chromium-browser",
      "/usr/bin/google-chrome",
      "/usr/bin/google-chrome-stable",
    ],
    apt: "chromium",
  },
  firefox: {
    env: "FIREFOX_PATH",
    system: ["/usr/bin/firefox-esr", "/usr/bin/firefox"],
    apt: "firefox-esr",
  },
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : ["chromium"];

function executable(path) {
  if (!path) return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function playwrightOwn(name) {
  try {
    const pw = await import("playwright-core");
    const path = pw[name]?.executablePath?.();
    return executable(path) ? path : null;
  } catch {
    return null;
  }
}

function aptInstall(pkg) {
  if (process.getuid?.() !== 0) return false;
  if (spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status !== 0) return false;
  console.error(`[browsers] installing ${pkg} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  if (update.status !== 0) return false;
  return (
    spawnSync("apt-get", ["install", "-y", "-qq", pkg], { stdio: "inherit", env }).status === 0
  );
}

async function find(name) {
  const spec = BROWSERS[name];
  if (!spec) throw new Error(`unknown browser ${name}`);
  const fromEnv = process.env[spec.env];
  if (fromEnv) {
    if (executable(fromEnv)) return fromEnv;
    throw new Error(`${spec.env}=${fromEnv} is not an executable`);
  }
  const look = async () => spec.system.find(executable) ?? (await playwrightOwn(name));
  let path = await look();
  if (!path && aptInstall(spec.apt)) path = await look();
  if (!path) {
    throw new Error(
      `No ${name} for the browser tests. Install your system's package (Debian: ` +
        `\`sudo apt-get install ${spec.apt}\`) or set ${spec.env} to its executable.`,
    );
  }
  return path;
}

try {
  const lines = [];
  for (const name of wanted) lines.push(`${BROWSERS[name].env}=${await find(name)}`);
  console.log(lines.join("\n"));
} catch (err) {
  console.error(`[browsers] ${err.message}`);
  process.exit(1);
}
