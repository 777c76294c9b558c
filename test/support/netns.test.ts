import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Lab, labAvailable } from "./netns";

/**
 * The network lab the real-network call tests build on (test/support/netns.ts): hosts
 * reach each other on both families through the router, NAT hides a host and refuses
 * connections towards it, loss and blackouts drop what they should, an address can change
 * under a running host, and nothing is left behind.
 */

/** On `host`: answers each TCP connection with the address it came from; counts UDP datagrams. */
const probeServer = `const net = require("node:net"), dgram = require("node:dgram");
let datagrams = 0;
net.createServer((c) => c.end(c.remoteAddress.replace(/^::ffff:/, ""))).listen(7000, "::");
const udp = dgram.createSocket("udp4").on("message", () => datagrams++);
udp.bind(7001, () => net.createServer((c) => c.end(String(datagrams))).listen(7002, "::", () => console.log("ready")));`;

/** Connects to argv[1]:argv[2] and prints the answer, or "unreachable" within 1 s. */
const probe = `const net = require("node:net");
const [host, port] = process.argv.slice(1);
const c = net.connect({ host, port: Number(port), timeout: 1000 });
let answer = "";
c.on("data", (d) => (answer += d)).on("end", () => console.log(answer));
c.on("timeout", () => { console.log("unreachable"); process.exit(0); });
c.on("error", () => { console.log("unreachable"); process.exit(0); });`;

/** Sends argv[3] UDP datagrams to argv[1]:argv[2], 1 ms apart. */
const blast = `const dgram = require("node:dgram");
const [host, port, count] = process.argv.slice(1);
const s = dgram.createSocket("udp4");
let sent = 0;
const tick = setInterval(() => {
  s.send("x", Number(port), host);
  if (++sent === Number(count)) { clearInterval(tick); setTimeout(() => s.close(), 100); }
}, 1);`;

describe("network lab", () => {
  let lab: Lab;
  const node = process.execPath;
  const ask = async (from: string, host: string, port = 7000) =>
    (await lab.run(lab.host(from).netns, node, ["-e", probe, host, String(port)])).trim();

  beforeAll(async () => {
    // Fail, never skip: without root, iproute2 and nftables nothing here has been tested.
    if (!labAvailable()) throw new Error("the network lab needs root, iproute2 and nftables");
    lab = await Lab.create([{ name: "server" }, { name: "alice" }, { name: "home", nat: true }]);
    const server = lab.spawn("server", node, ["-e", probeServer], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise((resolve) => server.stdout!.once("data", resolve));
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  test("hosts are dual-stack with default routes and reach each other through the router", async () => {
    const alice = lab.host("alice");
    const server = lab.host("server");
    expect(alice.ipv4).toEqual(["10.77.2.2"]);
    expect(alice.ipv6).toEqual(["2001:db8:77:2::2"]);
    const routes = await lab.run(alice.netns, "ip", ["route", "show", "default"]);
    expect(routes).toContain("default via 10.77.2.1 dev eth0");
    expect(await lab.run(alice.netns, "ip", ["-6", "route", "show", "default"])).toContain(
      "default via 2001:db8:77:2::1 dev eth0",
    );
    expect(await ask("alice", server.ipv4[0]!)).toBe("10.77.2.2");
    expect(await ask("alice", server.ipv6[0]!)).toBe("2001:db8:77:2::2");
    // The namespace has its own loopback, nothing else: the machine's interfaces are not there.
    const links = await lab.run(alice.netns, "ip", ["-br", "link"]);
    expect(
      links
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(/[\s@]/)[0]),
    ).toEqual(["lo", "eth0"]);
  });

  test("a host behind NAT reaches out under the router's address and cannot be reached", async () => {
    const home = lab.host("home");
    expect(home.ipv6).toEqual([]);
    expect(await ask("home", lab.host("server").ipv4[0]!)).toBe("10.77.1.1");
    const listener = lab.spawn("home", node, ["-e", probeServer], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise((resolve) => listener.stdout!.once("data", resolve));
    expect(await ask("alice", home.ipv4[0]!)).toBe("unreachable");
    listener.kill();
  });

  test("a blackout cuts a host off until it ends; loss drops about its share", async () => {
    const server = lab.host("server").ipv4[0]!;
    await lab.impair("alice", { blackout: true });
    expect(await ask("alice", server)).toBe("unreachable");
    await lab.impair("alice", { blackout: false });
    expect(await ask("alice", server)).toBe("10.77.2.2");

    await lab.setLink("alice", false);
    expect(await ask("alice", server)).toBe("unreachable");
    await lab.setLink("alice", true);
    await expect.poll(() => ask("alice", server), { timeout: 5_000 }).toBe("10.77.2.2");

    const before = Number(await ask("alice", server, 7002));
    await lab.impair("alice", { lossPercent: 50 });
    await lab.run(lab.host("alice").netns, node, ["-e", blast, server, "7001", "400"]);
    await lab.impair("alice", { lossPercent: 0 });
    const received = Number(await ask("alice", server, 7002)) - before;
    expect(received).toBeGreaterThan(120);
    expect(received).toBeLessThan(280);
    await expect(lab.impair("alice", { lossPercent: 101 })).rejects.toThrow(/0–100/);
  });

  test("a host's address can change under it", async () => {
    const server = lab.host("server").ipv4[0]!;
    const fresh = await lab.addAddress("alice");
    expect(fresh).toBe("10.77.2.3");
    await lab.removeAddress("alice", "10.77.2.2");
    expect(lab.host("alice").ipv4).toEqual(["10.77.2.3"]);
    expect(await ask("alice", server)).toBe("10.77.2.3");
    const v6 = await lab.addAddress("alice", 6);
    await lab.removeAddress("alice", "2001:db8:77:2::2");
    expect(await ask("alice", lab.host("server").ipv6[0]!)).toBe(v6);
    await expect(lab.removeAddress("alice", "10.77.2.2")).rejects.toThrow(/no address/);
  });

  test("a port on a host's loopback is reachable from the test through forward()", async () => {
    const read = (port: number) =>
      new Promise<string>((resolve, reject) => {
        let data = "";
        connect(port, "127.0.0.1")
          .on("data", (d) => (data += String(d)))
          .on("end", () => resolve(data))
          .on("error", reject);
      });
    expect(await read(await lab.forward("server", 7000))).toBe("127.0.0.1");

    // The same port number on both sides, for a program that announces its own port.
    const port = await lab.forward("alice");
    const listener = lab.spawn(
      "alice",
      node,
      [
        "-e",
        `require("node:net").createServer((c) => c.end("alice")).listen(${port}, "127.0.0.1", () => console.log("ready"))`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise((resolve) => listener.stdout!.once("data", resolve));
    expect(await read(port)).toBe("alice");
    listener.kill();
  });

  test("destroy removes the namespaces, the processes in them and the files", async () => {
    const other = await Lab.create([{ name: "solo" }]);
    const netns = other.host("solo").netns;
    const child = other.spawn("solo", "sleep", ["600"]);
    await other.destroy();
    expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
    expect(readFileSync("/proc/self/mounts", "utf8")).not.toContain(netns);
    expect(await lab.run(lab.router, "ip", ["netns", "list"])).not.toContain(netns);
  });

  test("a new lab removes what a crashed run left behind, and nothing of live runs", async () => {
    const dead = spawnSync("true").pid;
    const leftover = `parley-${dead}-1-router`;
    const leftoverDir = path.join(tmpdir(), `parley-${dead}-1-x`);
    await lab.run(lab.router, "ip", ["netns", "add", leftover]);
    mkdirSync(leftoverDir);
    const other = await Lab.create([{ name: "solo" }]);
    await other.destroy();
    const names = await lab.run(lab.router, "ip", ["netns", "list"]);
    expect(names).not.toContain(leftover);
    expect(existsSync(leftoverDir)).toBe(false);
    expect(names).toContain(lab.router);
  });

  test("bad lab specifications are refused before anything is built", async () => {
    await expect(Lab.create([{ name: "a" }, { name: "a" }])).rejects.toThrow(/unique/);
    await expect(Lab.create([{ name: "Bad Name" }])).rejects.toThrow(/bad host name/);
    await expect(Lab.create([{ name: "router" }])).rejects.toThrow(/bad host name/);
  });
});
