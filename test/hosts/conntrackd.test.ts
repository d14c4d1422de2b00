import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { CONNTRACKD_CONFIG, CONNTRACKD_RUNTIME_CONFIG, INTERFACE_TOKEN } from "../../src/emit/hosts/conntrackd.js";
import { emitHosts } from "../../src/emit/hosts/hosts.js";
import { SYNC_PORT } from "../../src/emit/hosts/nftables.js";
import { EXAMPLES } from "../support/artifacts.js";
import { isRoot, missingTools, run } from "../support/tools.js";

const DROP_IN = "/etc/systemd/system/conntrackd.service.d/natgw.conf";
const INTERFACES = "/usr/local/lib/natgw/interfaces";
const CTL = "/usr/local/sbin/natgw-ctl";
const CONFIG = "/etc/natgw/config.json";

const models = EXAMPLES.map((example) => compile([`examples/${example}.yaml`]).model!);

/** Every member's files by host path, and whether its gateway is HA. */
const members = models.flatMap((model) =>
  model.gateways.flatMap((gateway) =>
    gateway.members.map((member) => {
      const files = new Map(
        emitHosts(model)
          .artifacts.filter((artifact) => artifact.member === member.name)
          .map((artifact) => [artifact.path.slice(`hosts/${member.name}`.length), artifact] as const),
      );
      return { name: member.name, ha: gateway.mode === "ha", privateIp: member.privateIp, files };
    }),
  ),
);

/** A conntrackd.conf's directives and values, one "Key value" per line, without comments. */
const lines = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));

describe("conntrackd.conf and its drop-in", () => {
  it("exist exactly for the members of HA gateways", () => {
    for (const member of members) {
      expect(member.files.has(CONNTRACKD_CONFIG), member.name).toBe(member.ha);
      expect(member.files.has(DROP_IN), member.name).toBe(member.ha);
    }
  });

  for (const member of members.filter((candidate) => candidate.ha)) {
    it(`${member.name}: syncs with its peer only, on the sync port, and never the members' own traffic`, () => {
      const peer = members.find((other) => other.ha && other !== member && other.name.replace(/-\d+$/, "") === member.name.replace(/-\d+$/, ""))!;
      const conf = lines(member.files.get(CONNTRACKD_CONFIG)!.content);
      expect(conf).toContain(`IPv4_address ${member.privateIp}`);
      expect(conf).toContain(`IPv4_Destination_Address ${peer.privateIp}`);
      expect(conf).toContain(`Port ${SYNC_PORT}`);
      expect(conf).toContain("DisableExternalCache on");
      expect(conf.filter((line) => line.includes(INTERFACE_TOKEN))).toEqual([`Interface ${INTERFACE_TOKEN}`]);
      const ignored = conf.slice(conf.indexOf("Address Ignore {") + 1, conf.indexOf("}", conf.indexOf("Address Ignore {")));
      expect(ignored).toEqual(["IPv4_address 127.0.0.1", `IPv4_address ${member.privateIp}`, `IPv4_address ${peer.privateIp}`]);
      const dropIn = member.files.get(DROP_IN)!.content;
      expect(lines(dropIn).filter((line) => line.startsWith("ExecStart="))).toEqual(["ExecStart=", `ExecStart=/usr/sbin/conntrackd -C ${CONNTRACKD_RUNTIME_CONFIG}`]);
    });
  }
});

/**
 * The configuration as conntrackd reads it, in two network namespaces linked as
 * the two members of examples/ha.yaml are over the private network: each runs
 * the drop-in's ExecStartPre (the private NIC's name from `interfaces`) and then
 * conntrackd itself. A connection the one member tracks appears, with its NAT
 * mapping, in the other's kernel table, and goes when it ends there; a
 * connection of the member's own address does not travel; and `natgw-ctl sync`
 * reads conntrackd's own figures of it.
 */
const realSkip = missingTools("conntrackd", "conntrack", "unshare", "ip") ?? (isRoot() ? undefined : "needs root for network namespaces");

describe.skipIf(realSkip)("conntrackd between two members' namespaces", () => {
  const pair = members.filter((member) => member.name.startsWith("prod-egress-"));
  const staging = mkdtempSync(join(tmpdir(), "natgw-conntrackd-"));
  const suffix = `${process.pid}-${Date.now() % 100000}`;
  const namespaces = pair.map((member) => `natgw-sync-${member.name.at(-1)}-${suffix}`);
  const daemons: ChildProcess[] = [];
  /** What each daemon (and its ExecStartPre) printed, for a failure to show. */
  const output = ["", ""];
  const inNamespace = (index: number, command: string, args: readonly string[]) => run("ip", ["netns", "exec", namespaces[index]!, command, ...args]);

  /** The shell text systemd passes to `/bin/sh -ec` from the drop-in's second ExecStartPre. */
  function startPreScript(dropIn: string): string {
    const line = dropIn.split("\n").find((text) => text.startsWith("ExecStartPre=/bin/sh -ec "));
    const match = /^ExecStartPre=\/bin\/sh -ec "([^"\\]*)"$/.exec(line ?? "");
    expect(match, "one double-quoted sh -ec line without backslashes").not.toBeNull();
    return match![1]!.replace(/\$\$/g, "$").replace(/%%/g, "%");
  }

  beforeAll(() => {
    for (const name of namespaces) expect(run("ip", ["netns", "add", name]).status).toBe(0);
    expect(run("ip", ["link", "add", "enp7s0", "netns", namespaces[0]!, "type", "veth", "peer", "name", "enp7s0", "netns", namespaces[1]!]).status).toBe(0);
    pair.forEach((member, index) => {
      const peer = pair[1 - index]!;
      for (const args of [
        ["link", "set", "enp7s0", "address", `86:00:00:00:00:0${index + 1}`],
        ["link", "set", "enp7s0", "up"],
        ["link", "set", "lo", "up"],
        ["address", "add", member.privateIp, "peer", peer.privateIp, "dev", "enp7s0"],
      ]) {
        expect(inNamespace(index, "ip", args).status).toBe(0);
      }
      const root = join(staging, member.name);
      for (const path of [CONNTRACKD_CONFIG, DROP_IN, INTERFACES, CTL, CONFIG]) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), member.files.get(path)!.content);
        chmodSync(join(root, path), Number.parseInt(member.files.get(path)!.fileMode, 8));
      }
      const script = [
        "mount -t tmpfs -o mode=0755 tmpfs /run",
        "mount -t tmpfs -o mode=0755 tmpfs /usr/local",
        `cp -a ${root}/usr/local/. /usr/local/`,
        // The member's /etc/natgw over the machine's /etc, which stays as it is.
        `mkdir -p ${root}/work && mount -t overlay overlay -o lowerdir=/etc,upperdir=${root}/etc,workdir=${root}/work /etc`,
        startPreScript(member.files.get(DROP_IN)!.content),
        `exec /usr/sbin/conntrackd -C ${CONNTRACKD_RUNTIME_CONFIG}`,
      ].join("\n");
      const daemon = spawn("ip", ["netns", "exec", namespaces[index]!, "unshare", "--mount", "--propagation", "private", "sh", "-ec", script], { stdio: ["ignore", "pipe", "pipe"] });
      for (const stream of [daemon.stdout!, daemon.stderr!]) stream.on("data", (chunk: Buffer) => (output[index] += chunk.toString()));
      daemons.push(daemon);
    });
  });

  afterAll(() => {
    for (const daemon of daemons) daemon.kill("SIGTERM");
    for (const name of namespaces) run("ip", ["netns", "del", name]);
    rmSync(staging, { recursive: true, force: true });
  });

  /** The entries of one namespace's kernel table, one line each. */
  const table = (index: number) => inNamespace(index, "conntrack", ["-L"]).stdout;

  async function waitFor(what: string, predicate: () => boolean): Promise<void> {
    for (let tries = 0; tries < 200; tries += 1) {
      if (predicate()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}:\n${table(0)}\n---\n${table(1)}\n--- conntrackd:\n${output.join("\n---\n")}`);
  }

  // The member's own connection: from its private address (SSH, metrics, this very sync).
  const own = ["-p", "tcp", "--orig-src", "10.0.1.2", "--orig-dst", "10.0.1.9", "--sport", "50000", "--dport", "22"];
  const ownReply = ["--reply-src", "10.0.1.9", "--reply-dst", "10.0.1.2", "--reply-port-src", "22", "--reply-port-dst", "50000"];

  /**
   * A worker's connection as the active member NATs it, made by the kernel itself
   * (an entry `conntrack -I` makes carries no NAT): from 10.0.2.5 (on the
   * namespace's loopback) to 192.0.2.100, SNAT to the floating IP 192.0.2.10. The
   * SYN never gets an answer, so the entry stays SYN_SENT for two minutes.
   */
  function natConnection(): void {
    for (const args of [
      ["address", "add", "10.0.2.5/32", "dev", "lo"],
      ["route", "add", "192.0.2.100/32", "dev", "enp7s0"],
    ]) {
      expect(inNamespace(0, "ip", args).status).toBe(0);
    }
    const nat = "table ip sync_test {\n chain postrouting {\n  type nat hook postrouting priority srcnat;\n  ip daddr 192.0.2.100 snat to 192.0.2.10\n }\n}\n";
    expect(run("ip", ["netns", "exec", namespaces[0]!, "nft", "-f", "-"], nat).status).toBe(0);
    const connect = "import socket\ns = socket.socket()\ns.bind(('10.0.2.5', 40000))\ns.setblocking(False)\ns.connect_ex(('192.0.2.100', 443))\n";
    expect(inNamespace(0, "python3", ["-c", connect]).status).toBe(0);
  }

  it("a worker's connection and its NAT mapping reach the peer's kernel table, and leave it when it ends", async () => {
    // Each daemon is up once its socket to the peer is bound: wait for its listening port.
    for (const index of [0, 1]) await waitFor(`conntrackd in ${namespaces[index]}`, () => inNamespace(index, "ss", ["-uln"]).stdout.includes(`:${SYNC_PORT}`));
    expect(inNamespace(0, "conntrack", ["-I", ...own, ...ownReply, "--state", "ESTABLISHED", "--timeout", "600"]).status).toBe(0);
    natConnection();
    await waitFor("the worker's connection on the peer, NAT mapping and all", () => /src=10\.0\.2\.5 dst=192\.0\.2\.100 sport=40000 dport=443 .*src=192\.0\.2\.100 dst=192\.0\.2\.10 sport=443 dport=40000/.test(table(1)));
    expect(table(1), "the member's own connection stays its own").not.toContain("src=10.0.1.2 dst=10.0.1.9");
    // natgw-ctl reads conntrackd's own report, in the member's namespaces (its /run holds conntrackd's socket).
    const report = run("nsenter", ["--target", String(daemons[1]!.pid), "--mount", "--net", "--", CTL, "sync", "--json"]);
    expect(report.status, report.stderr).toBe(0);
    const sync = JSON.parse(report.stdout) as { running: boolean; fromPeer: { created: number; failed: number }; messages: { received: number } };
    expect(sync).toMatchObject({ running: true, fromPeer: { failed: 0 } });
    expect(sync.fromPeer.created).toBeGreaterThanOrEqual(1);
    expect(sync.messages.received).toBeGreaterThanOrEqual(1);
    expect(inNamespace(0, "conntrack", ["-D", "-p", "tcp", "--orig-src", "10.0.2.5"]).status).toBe(0);
    await waitFor("the connection to leave the peer's table", () => !table(1).includes("src=10.0.2.5"));
  });
});
