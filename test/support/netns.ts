import { type ChildProcess, execFile, spawn, type SpawnOptions } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

/**
 * Real networks built inside this machine (issue 8): one network namespace per host,
 * each joined by a veth pair to a "router" namespace that forwards between them, as a
 * LAN or the internet would. Every host has a dual-stack address — 10.77.<i>.2/24 and
 * 2001:db8:77:<i>::2/64 (documentation ranges, global-looking to a browser) — and default
 * routes via the router, like a real machine; a host behind NAT has only 10.77.<i>.2,
 * masqueraded by the router, which also refuses every connection opened towards it.
 * Nothing connects the lab to the machine's own interfaces: traffic never leaves it.
 *
 * Needs root, iproute2 and nftables. Loss and blackouts are nftables rules in the router
 * (this kernel has no netem). Names are `parley-<pid>-<lab>-<host>`, unique per run; a lab
 * removes those of dead processes (a crashed run) when it starts, and all of its own —
 * namespaces, the processes it started in them, its temporary files — in `destroy()`.
 */

const exec = promisify(execFile);
const PREFIX = "parley-";
/** Per-namespace files that `ip netns exec` mounts over /etc (setNames). */
const NETNS_ETC = "/etc/netns";

export interface HostSpec {
  name: string;
  /** Behind a NAT: IPv4 only, masqueraded, unreachable from the other hosts. */
  nat?: boolean;
}

export interface Host {
  readonly name: string;
  /** The network namespace (`ip netns exec <netns> …`). */
  readonly netns: string;
  /** The router side of this host's veth pair, in the router namespace. */
  readonly uplink: string;
  readonly nat: boolean;
  /** The host's addresses now (the first is the one it started with). */
  readonly ipv4: string[];
  readonly ipv6: string[];
}

interface Impairment {
  lossPercent: number;
  blackout: boolean;
}

let labs = 0;

/** The router's nftables chain for what it forwards to and from the host (`impair`). */
const chainOf = (host: Host) => `host_${host.name}`;

async function ip(...args: string[]): Promise<string> {
  try {
    return (await exec("ip", args)).stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`ip ${args.join(" ")}: ${stderr || String(err)}`);
  }
}

/**
 * Whether labs can be built here (root, iproute2, nftables). Under CI=true a missing piece
 * throws instead, so the tests that need a lab fail rather than skip.
 */
export function labAvailable(): boolean {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root");
  for (const tool of ["ip", "nft"]) {
    const found = (process.env.PATH ?? "")
      .split(":")
      .some((dir) => existsSync(path.join(dir, tool)));
    if (!found) missing.push(tool);
  }
  if (missing.length === 0) return true;
  if (process.env.CI === "true")
    throw new Error(`CI=true but network-namespace tests need ${missing.join(", ")}`);
  return false;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether a lab name (`parley-<pid>-…`) belongs to a run that no longer exists. */
function stale(name: string): boolean {
  const owner = /^parley-(\d+)-/.exec(name)?.[1];
  return owner !== undefined && !processAlive(Number(owner));
}

/**
 * Deletes the lab namespaces and temporary files a run that no longer exists left behind,
 * killing what still runs in them (processes that run started). Live runs' are left alone.
 */
export async function removeStaleNamespaces(): Promise<void> {
  for (const line of (await ip("netns", "list")).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (stale(name)) await deleteNamespace(name);
  }
  for (const dir of [tmpdir(), NETNS_ETC]) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      if (stale(entry)) rmSync(path.join(dir, entry), { recursive: true, force: true });
    }
  }
}

async function deleteNamespace(netns: string): Promise<void> {
  const pids = (await ip("netns", "pids", netns).catch(() => "")).split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await ip("netns", "delete", netns).catch(() => {});
  rmSync(path.join(NETNS_ETC, netns), { recursive: true, force: true });
}

export class Lab {
  readonly hosts = new Map<string, Host>();
  readonly router: string;
  /** Temporary files of this lab (wrapper scripts, sockets, browser profiles). */
  readonly dir: string;
  private readonly children = new Set<ChildProcess>();
  private readonly forwards = new Set<Server>();
  private readonly impairments = new Map<string, Impairment>();

  private constructor(private readonly id: string) {
    this.router = `${id}-router`;
    this.dir = mkdtempSync(path.join(tmpdir(), `${id}-`));
  }

  /** Builds the router and the hosts. Throws (having removed what it made) if it cannot. */
  static async create(specs: HostSpec[]): Promise<Lab> {
    const names = specs.map((s) => s.name);
    if (specs.length === 0 || specs.length > 200)
      throw new Error("a lab has between 1 and 200 hosts");
    if (new Set(names).size !== names.length) throw new Error("host names must be unique");
    const bad = names.find((n) => !/^[a-z][a-z0-9]{0,11}$/.test(n));
    if (bad !== undefined || names.includes("router"))
      throw new Error(
        `bad host name ${JSON.stringify(bad ?? "router")}: [a-z][a-z0-9]{0,11}, not "router"`,
      );

    await removeStaleNamespaces();
    labs += 1;
    const lab = new Lab(`${PREFIX}${process.pid}-${labs}`);
    try {
      await lab.build(specs);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private async build(specs: HostSpec[]): Promise<void> {
    await this.addNamespace(this.router);
    await this.sysctl(this.router, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1");
    for (const [index, spec] of specs.entries()) {
      const i = index + 1;
      const host: Host = {
        name: spec.name,
        netns: `${this.id}-${spec.name}`,
        uplink: `r${i}`,
        nat: spec.nat ?? false,
        ipv4: [`10.77.${i}.2`],
        ipv6: spec.nat ? [] : [`2001:db8:77:${i}::2`],
      };
      this.hosts.set(spec.name, host);
      await this.addNamespace(host.netns);
      const r = ["-n", this.router];
      const h = ["-n", host.netns];
      await ip(
        ...r,
        "link",
        "add",
        host.uplink,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        host.netns,
      );
      await ip(...r, "addr", "add", `10.77.${i}.1/24`, "dev", host.uplink);
      await ip(...r, "-6", "addr", "add", `2001:db8:77:${i}::1/64`, "dev", host.uplink);
      await ip(...r, "link", "set", host.uplink, "up");
      // A removed first address hands its routes to the next one (address changes).
      await this.sysctl(host.netns, "net.ipv4.conf.all.promote_secondaries=1");
      await ip(...h, "addr", "add", `${host.ipv4[0]}/24`, "dev", "eth0");
      for (const v6 of host.ipv6) await ip(...h, "-6", "addr", "add", `${v6}/64`, "dev", "eth0");
      await ip(...h, "link", "set", "eth0", "up");
      await ip(...h, "route", "add", "default", "via", `10.77.${i}.1`);
      if (!spec.nat) await ip(...h, "-6", "route", "add", "default", "via", `2001:db8:77:${i}::1`);
      this.impairments.set(spec.name, { lossPercent: 0, blackout: false });
    }
    const hosts = [...this.hosts.values()];
    const natted = hosts.filter((h) => h.nat);
    // One chain per host, rewritten by `impair`; NAT as a home router does it. (NAT is in an
    // `ip` table: in an `inet` one, this kernel's masquerade stalls forwarded IPv6 too.)
    await this.nft(`
      table inet lab {
        ${hosts.map((h) => `chain ${chainOf(h)} { }`).join("\n")}
        chain forward {
          type filter hook forward priority 0; policy accept;
          ${hosts.map((h) => `iifname "${h.uplink}" jump ${chainOf(h)}\noifname "${h.uplink}" jump ${chainOf(h)}`).join("\n")}
          ${natted.map((h) => `oifname "${h.uplink}" ct state established,related accept\noifname "${h.uplink}" drop`).join("\n")}
        }
      }
      table ip nat {
        chain postrouting {
          type nat hook postrouting priority 100;
          ${natted.map((h) => `iifname "${h.uplink}" oifname != "${h.uplink}" masquerade`).join("\n")}
        }
      }`);
    await this.settle();
  }

  /**
   * A namespace whose interfaces skip IPv6 duplicate address detection (a veth is usable at
   * once, not a second later) and keep their IPv6 addresses while down (`setLink`), as
   * their IPv4 ones are kept.
   */
  private async addNamespace(netns: string): Promise<void> {
    await ip("netns", "add", netns);
    await ip("-n", netns, "link", "set", "lo", "up");
    const settings = ["accept_dad=0", "keep_addr_on_down=1"].flatMap((s) => [
      `net.ipv6.conf.default.${s}`,
      `net.ipv6.conf.all.${s}`,
    ]);
    await this.sysctl(netns, ...settings);
  }

  /**
   * Has every host resolve its gateway (and the router its hosts) before anything runs:
   * the first packet forwarded between two unresolved IPv6 neighbours was sometimes lost
   * here, which cost a test's first connection a one-second TCP retransmit.
   */
  private async settle(): Promise<void> {
    for (const host of this.hosts.values()) {
      const gateways = [`10.77.${host.uplink.slice(1)}.1`];
      if (!host.nat) gateways.push(`2001:db8:77:${host.uplink.slice(1)}::1`);
      const poke = gateways.map((g) => `echo > /dev/udp/${g}/9`).join("; ");
      await this.run(host.netns, "bash", ["-c", poke]);
      for (const gateway of gateways) {
        for (let tries = 0; ; tries++) {
          const state = await ip("-n", host.netns, "neigh", "show", gateway);
          if (/REACHABLE|STALE|DELAY|PROBE/.test(state)) break;
          if (tries === 100) throw new Error(`${host.name} cannot resolve its gateway ${gateway}`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    }
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${JSON.stringify(name)} in this lab`);
    return host;
  }

  /** Runs nftables commands (a ruleset in `nft -f` syntax) in the router. */
  async nft(ruleset: string): Promise<void> {
    await this.run(this.router, "nft", ["-f", "-"], ruleset);
  }

  private async sysctl(netns: string, ...settings: string[]): Promise<void> {
    await this.run(netns, "sysctl", ["-q", "-w", ...settings]);
  }

  /** Runs a command to completion inside a namespace (a host's, or the router's). */
  async run(netns: string, command: string, args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        "ip",
        ["netns", "exec", netns, command, ...args],
        (err, stdout, stderr) => {
          if (err)
            reject(
              new Error(
                `${command} ${args.join(" ")} in ${netns}: ${stderr.trim() || String(err)}`,
              ),
            );
          else resolve(stdout);
        },
      );
      // A command that reads no input may exit before taking it; its exit status tells.
      child.stdin?.on("error", () => {});
      child.stdin?.end(input ?? "");
    });
  }

  /**
   * Starts a long-running process on a host; it is killed in `destroy()` if still running.
   * `ip netns exec` execs the command, so the child's pid is the command's own.
   */
  spawn(host: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.host(host).netns, command, ...args], options);
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /**
   * An executable that runs `executable` inside the host's namespace with the arguments
   * it is given: for Playwright's `executablePath` (Playwright drives Chromium over a
   * pipe, which crosses namespaces; a debugging port on the host's loopback would not).
   */
  wrap(host: string, executable: string): string {
    const netns = this.host(host).netns;
    const file = path.join(this.dir, `${host}-${path.basename(executable)}`);
    writeFileSync(file, `#!/bin/sh\nexec ip netns exec '${netns}' '${executable}' "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  /**
   * A port on this process's 127.0.0.1 that leads to `port` on the host's own loopback: a
   * relay in the namespace serves a Unix socket (the filesystem is shared, the network is
   * not). Without `port`, a free local port leads to the same number in the namespace,
   * for a program told its port that then announces it, like Firefox's WebDriver BiDi URL.
   */
  async forward(host: string, port?: number): Promise<number> {
    const socket = path.join(this.dir, `${host}-${this.forwards.size}.sock`);
    const server = createServer((c) => {
      const u = createConnection(socket);
      c.pipe(u).pipe(c);
      c.on("error", () => u.destroy());
      u.on("error", () => c.destroy());
    });
    this.forwards.add(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const local = (server.address() as { port: number }).port;
    const target = port ?? local;
    const relay = `const net = require("node:net");
      const [path, port] = process.argv.slice(1);
      net.createServer((c) => {
        const t = net.connect(Number(port), "127.0.0.1");
        c.pipe(t).pipe(c);
        c.on("error", () => t.destroy());
        t.on("error", () => c.destroy());
      }).listen(path, () => console.log("ready"));`;
    const child = this.spawn(host, process.execPath, ["-e", relay, socket, String(target)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", (code) =>
        reject(new Error(`the relay to ${host}:${target} exited (${code})`)),
      );
    });
    return local;
  }

  /**
   * Gives the host another address (in its own subnet, so the router reaches it without a
   * new route) and returns it: with `removeAddress` of the old one, an address change.
   */
  async addAddress(host: string, family: 4 | 6 = 4): Promise<string> {
    const h = this.host(host);
    const i = h.uplink.slice(1);
    const taken = family === 4 ? h.ipv4 : h.ipv6;
    if (family === 6 && h.nat) throw new Error(`${host} is behind NAT and has no IPv6`);
    let n = 3;
    const candidate = () => (family === 4 ? `10.77.${i}.${n}` : `2001:db8:77:${i}::${n}`);
    while (taken.includes(candidate())) n += 1;
    if (n > 254) throw new Error(`${host} has no free address left`);
    const address = candidate();
    const prefix = family === 4 ? "/24" : "/64";
    await ip("-n", h.netns, `-${family}`, "addr", "add", address + prefix, "dev", "eth0");
    taken.push(address);
    return address;
  }

  async removeAddress(host: string, address: string): Promise<void> {
    const h = this.host(host);
    const list = address.includes(":") ? h.ipv6 : h.ipv4;
    const index = list.indexOf(address);
    if (index < 0) throw new Error(`${host} has no address ${address}`);
    await ip(
      "-n",
      h.netns,
      "addr",
      "del",
      `${address}/${address.includes(":") ? 64 : 24}`,
      "dev",
      "eth0",
    );
    list.splice(index, 1);
  }

  /**
   * Names every host of the lab resolves, `name → host` (a host's first IPv4 address): each
   * namespace gets its own /etc/hosts, which `ip netns exec` mounts from
   * /etc/netns/<netns>/hosts for what it starts afterwards (TLS tests need real names).
   */
  setNames(names: Record<string, string>): void {
    const lines = ["127.0.0.1 localhost", "::1 localhost"];
    for (const [name, host] of Object.entries(names))
      lines.push(`${this.host(host).ipv4[0]} ${name}`);
    for (const netns of [this.router, ...[...this.hosts.values()].map((h) => h.netns)]) {
      mkdirSync(path.join(NETNS_ETC, netns), { recursive: true });
      writeFileSync(path.join(NETNS_ETC, netns, "hosts"), lines.join("\n") + "\n");
    }
  }

  /** Takes the host's link down or up (its interface sees the carrier go, as with a cable). */
  async setLink(host: string, up: boolean): Promise<void> {
    await ip("-n", this.router, "link", "set", this.host(host).uplink, up ? "up" : "down");
  }

  /**
   * Impairs what the router forwards to and from the host, in both directions:
   * `lossPercent` of packets dropped at random, or everything (`blackout`: the path dies
   * somewhere upstream while the host's own interface stays up). Unset fields keep theirs.
   */
  async impair(host: string, change: Partial<Impairment>): Promise<void> {
    const h = this.host(host);
    const next = { ...this.impairments.get(host)!, ...change };
    if (!Number.isInteger(next.lossPercent) || next.lossPercent < 0 || next.lossPercent > 100)
      throw new Error(`lossPercent must be an integer 0–100, not ${next.lossPercent}`);
    const rules = [
      `flush chain inet lab ${chainOf(h)}`,
      next.blackout ? `add rule inet lab ${chainOf(h)} drop` : "",
      next.lossPercent > 0
        ? `add rule inet lab ${chainOf(h)} numgen random mod 100 < ${next.lossPercent} drop`
        : "",
    ];
    await this.nft(rules.filter(Boolean).join("\n"));
    this.impairments.set(host, next);
  }

  /** Stops everything this lab started and removes its namespaces and files. */
  async destroy(): Promise<void> {
    for (const server of this.forwards) server.close();
    this.forwards.clear();
    await Promise.all([...this.children].map((child) => stop(child)));
    for (const host of this.hosts.values()) await deleteNamespace(host.netns);
    await deleteNamespace(this.router);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** SIGTERM, then SIGKILL if the process has not exited within 5 s. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
