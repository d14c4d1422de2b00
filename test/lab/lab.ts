import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { buildSync } from "esbuild";
import { parse } from "yaml";
import { isRoot, missingTools } from "../support/tools.js";
import { Host, Member, type MemberConfig, type RunResult } from "./hosts.js";
import { CpuLoad } from "./load.js";
import { addressesOf } from "./programs/addresses.js";
import type { CloudConfig, CloudState } from "./programs/cloud-config.js";
import { NAME_PREFIX, listedNamespaces, namespacePids, readComm, removeAbandonedLabs, removeNamespace, running, tryKill, waitFor } from "./processes.js";

export { Host, Member, type RunResult } from "./hosts.js";
export { listedNamespaces, namespacePids, running, waitFor } from "./processes.js";

/**
 * The network lab: natgw's generated files, unchanged, running on real Linux
 * networking in network namespaces, with a namespace that plays Hetzner. One file
 * of over 300 lines: the Lab is one object whose parts (namespaces and links, the
 * cloud and its API, members' boot and push, cleanup) share its state, and tests
 * drive the lab through it alone; the programs it starts, the hosts it enters and
 * its processes each have a file of their own.
 *
 *   worker --enp7s0--+                      +--eth0-- member 1 --enp7s0--+
 *                    |                      |                            |
 *                 [ cloud: private network router (10.x.0.1), public    ]
 *                 [ router (172.31.1.1), floating IP routing, metadata, ]
 *                 [ Cloud API (api.hetzner.cloud over HTTPS)            ]
 *                    |                      |                            |
 *                    +--eth0-- member 2 ----+        internet (echo) ----+
 *
 * As on Hetzner, every server has its private address as a /32 on a NIC with
 * MAC prefix 86:00:00 and reaches the network through its first address; a
 * member's public NIC (MAC 96:00:00) has its own address and 172.31.1.1 as
 * gateway. The cloud forwards private traffic with the network's routes (a
 * table of their own) and routes each floating IP to the member it is assigned
 * to; the emulated API changes both when its actions succeed.
 *
 * A member is its own network namespace and its own mount namespace: overlays
 * on /etc, /usr/local and /var/lib take natgw's files at their host paths, /run
 * is its own, api.hetzner.cloud resolves to the cloud and trusts the lab's
 * certificate, and `systemctl` is the lab's stand-in for systemd
 * (programs/systemctl.ts), since a namespace has no init. The files arrive as on
 * Hetzner: booting writes the user-data's files and runs its runcmd, and the push
 * does what Terraform's provisioners do (every host file, cloud.json, the token,
 * then `natgw-ctl reconcile`).
 *
 * Addresses that stand for the internet come from documentation ranges; nothing
 * is routed to the host's namespace, and `stop` (also run on exit and on
 * SIGINT/SIGTERM) kills every process the lab started and deletes its namespaces.
 */

/**
 * Why the lab cannot run here, or undefined. In CI a missing tool fails the run
 * (missingTools throws); elsewhere the lab is skipped with this one line.
 */
export function labSkipReason(): string | undefined {
  return (
    missingTools("ip", "nft", "keepalived", "conntrackd", "nsenter", "unshare", "openssl", "curl", "jq", "flock", "conntrack", "sysctl", "hping3", "python3") ??
    (isRoot() ? undefined : "the network lab needs root for network namespaces")
  );
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Documentation addresses the lab gives the internet side. */
export const INTERNET = {
  /** The echo service everyone can reach; no policy matches it. */
  echo: "192.0.2.100",
  /** The internet's end of its link to the cloud. */
  link: "192.0.2.2",
  /** The addresses policies of the examples send to, also answered by the echo service. */
  destinations: ["203.0.113.5", "203.0.113.200", "198.51.100.130"],
  tcpPorts: [7, 25, 80, 443],
  /** The echo service's port whose connections stay open (programs/echo.ts). */
  streamPort: 7,
  udpPorts: [53, 443],
} as const;

/** Counters of what arrives from the cloud: TCP and UDP in all, from private sources (never allowed), to SMTP. */
const INTERNET_RULESET = `table inet lab {
\tcounter private_source {}
\tcounter smtp {}
\tcounter arrived {}
\tset private_seen {
\t\ttype ipv4_addr . inet_proto
\t\tflags dynamic
\t\tsize 1024
\t}
\tchain prerouting {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tiifname "wan0" ip protocol { tcp, udp } counter name "arrived"
\t\tiifname "wan0" ip saddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 } counter name "private_source" add @private_seen { ip saddr . ip protocol }
\t\tiifname "wan0" tcp dport 25 counter name "smtp"
\t}
}
`;

const CLOUD = {
  publicGateway: "172.31.1.1",
  linkAddress: "192.0.2.1",
  api: "192.0.2.250",
  metadata: "169.254.169.254",
  routeTable: 100,
} as const;

/** Floating IPs are 192.0.2.10 onwards (up to 90 of them), members' own public addresses 192.0.2.201 onwards. */
const floatingAddress = (index: number) => `192.0.2.${10 + index}`;
const memberPublicAddress = (index: number) => `192.0.2.${200 + index}`;
const serverId = (index: number) => 100 + index;
const macOf = (prefix: string, index: number) => `${prefix}:00:00:${(index + 1).toString(16).padStart(2, "0")}`;

export interface LabOptions {
  /** Spec files, as given to `natgw build`; the lab runs their one gateway. */
  readonly specs: readonly string[];
  /** Workers by name, each with its private address. */
  readonly workers: Readonly<Record<string, string>>;
  /** How long the emulated API's actions run before they succeed. */
  readonly actionSeconds?: number;
  /** More addresses the internet answers on, besides INTERNET's (documentation or benchmark ranges). */
  readonly internetAddresses?: readonly string[];
}

/** natgw.json, the index natgw build writes beside the files. */
interface BuildIndex {
  readonly artifacts: readonly { readonly path: string; readonly role: string; readonly mode: string }[];
}

/**
 * Writes a file on a member as Terraform's push and cloud-init do: complete, with
 * its mode, renamed into place, so nothing on the member sees it half written.
 */
function placeFile(member: Member, path: string, mode: string, content: string): void {
  if (!/^(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$/.test(path) || !/^0[0-7]{3}$/.test(mode)) throw new Error(`odd file ${path} (${mode})`);
  member.must(["sh", "-ec", `mkdir -p "$(dirname ${path})"; umask 077; cat >${path}.natgw-new; chmod ${mode} ${path}.natgw-new; mv -f ${path}.natgw-new ${path}`], { input: content });
}

export interface BootResult {
  readonly command: string[];
  readonly status: number | null;
  readonly stderr: string;
}

const labs = new Set<Lab>();

export class Lab {
  readonly members: Member[] = [];
  readonly workers = new Map<string, Host>();
  /** Each worker's address and the cloud's end of its private link. */
  private readonly workerLinks = new Map<string, { address: string; cloudLink: string }>();
  readonly floatingIPs: { name: string; id: number; address: string }[] = [];
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  /** Lab programs that failed while the lab ran, each with its last words. */
  private readonly failedPrograms: string[] = [];
  private cloudHost!: Host;
  private internetHost!: Host;
  private readonly controlSocket: string;
  private token = "";
  private networkId = 0;
  private index: BuildIndex = { artifacts: [] };

  private constructor(
    readonly id: string,
    readonly directory: string,
    /** How long the emulated API's actions run before they succeed. */
    readonly actionSeconds: number,
  ) {
    this.controlSocket = join(directory, "cloud.sock");
  }

  /** The namespaces, links and processes of a lab, up to the members' first boot. */
  static async create(options: LabOptions): Promise<Lab> {
    removeAbandonedLabs();
    installExitHandlers();
    const lab = new Lab(`${process.pid}-${randomBytes(3).toString("hex")}`, mkdtempSync(join(tmpdir(), `${NAME_PREFIX}${process.pid}-`)), options.actionSeconds ?? 0.2);
    labs.add(lab);
    try {
      await lab.setUp(options);
    } catch (error) {
      lab.stop();
      throw error;
    }
    return lab;
  }

  /** The names of the lab's network namespaces (the run's suffix makes them unique). */
  get namespaceNames(): readonly string[] {
    return this.namespaces;
  }

  get cloud(): Host {
    return this.cloudHost;
  }

  get internet(): Host {
    return this.internetHost;
  }

  worker(name: string): Host {
    const worker = this.workers.get(name);
    if (!worker) throw new Error(`no worker ${name} in this lab`);
    return worker;
  }

  private async setUp(options: LabOptions): Promise<void> {
    const build = join(this.directory, "build");
    const built = spawnSync(process.execPath, [join(ROOT, "bin/natgw.js"), "build", "--out", build, ...options.specs], { encoding: "utf8" });
    if (built.status !== 0) throw new Error(`natgw build failed: ${built.stderr}`);
    this.index = JSON.parse(readFileSync(join(build, "natgw.json"), "utf8")) as BuildIndex;
    const memberNames = readdirSync(join(build, "hosts")).sort();
    const configs = memberNames.map((name) => JSON.parse(readFileSync(join(build, "hosts", name, "etc/natgw/config.json"), "utf8")) as MemberConfig);
    const gateways = new Set(configs.map((config) => config.gateway));
    if (gateways.size !== 1) throw new Error(`the lab runs one gateway; the specs have ${[...gateways].join(", ")}`);
    const network = configs[0]!.network;
    const networkId = network.id ?? 4000;
    if (configs[0]!.egressIPs.length > 90) throw new Error("the lab has addresses for 90 floating IPs");
    configs[0]!.egressIPs.forEach((egressIP, index) =>
      this.floatingIPs.push({ name: egressIP.name, id: egressIP.floatingIPId ?? 900 + index, address: floatingAddress(index) }),
    );

    const bin = this.bundlePrograms();
    const tls = this.certificate();
    const token = randomBytes(32).toString("hex");

    this.cloudHost = this.addNamespace("cloud");
    this.internetHost = this.addNamespace("internet");
    const cloud = this.cloudHost;
    for (const [key, value] of [["net.ipv4.ip_forward", "1"], ["net.ipv4.conf.all.rp_filter", "0"], ["net.ipv4.conf.all.send_redirects", "0"]]) {
      cloud.must(["sysctl", "-qw", `${key}=${value}`]);
    }
    cloud.must(["ip", "link", "set", "lo", "up"]);
    for (const address of [CLOUD.metadata, CLOUD.api]) cloud.must(["ip", "address", "add", `${address}/32`, "dev", "lo"]);
    // Traffic from the private network follows the network's routes (their own table),
    // before the cloud's local addresses: it never reaches the metadata service or the
    // API directly, only through whatever the routes point at.
    cloud.must(["ip", "rule", "del", "pref", "0"]);
    cloud.must(["ip", "rule", "add", "pref", "200", "lookup", "local"]);
    cloud.must(["ip", "route", "add", "local", network.routerIp, "dev", "lo", "table", String(CLOUD.routeTable)]);
    // What no route of the network covers goes nowhere, as on Hetzner: never on to
    // the cloud's own routes (the internet), even while a takeover replaces a route.
    cloud.must(["ip", "route", "add", "unreachable", "default", "metric", "4294967295", "table", String(CLOUD.routeTable)]);

    // The internet: the echo service's addresses on its loopback, the cloud as its router.
    const internet = this.internetHost;
    cloud.must(["ip", "link", "add", "inet0", "type", "veth", "peer", "name", "wan0", "netns", internet.namespace]);
    cloud.must(["ip", "address", "add", CLOUD.linkAddress, "peer", INTERNET.link, "dev", "inet0"]);
    cloud.must(["ip", "link", "set", "inet0", "up"]);
    cloud.must(["ip", "route", "add", "default", "via", INTERNET.link]);
    internet.must(["ip", "address", "add", INTERNET.link, "peer", CLOUD.linkAddress, "dev", "wan0"]);
    for (const link of ["lo", "wan0"]) internet.must(["ip", "link", "set", link, "up"]);
    internet.must(["ip", "route", "add", "default", "via", CLOUD.linkAddress]);
    const internetAddresses = [INTERNET.echo, ...INTERNET.destinations, ...(options.internetAddresses ?? [])];
    for (const address of internetAddresses) internet.must(["ip", "address", "add", `${address}/32`, "dev", "lo"]);
    // What the internet sees, counted before anything else looks at a packet.
    internet.must(["nft", "-f", "-"], { input: INTERNET_RULESET });

    const prefixLength = network.ipRange.split("/")[1]!;
    const attachPrivate = (host: Host, link: string, address: string, mac: string) => {
      cloud.must(["ip", "link", "add", link, "type", "veth", "peer", "name", "enp7s0", "netns", host.namespace]);
      cloud.must(["ip", "link", "set", link, "mtu", "1450", "up"]);
      cloud.must(["ip", "address", "add", `${network.routerIp}/32`, "dev", link]);
      cloud.must(["ip", "route", "add", `${address}/32`, "dev", link, "table", String(CLOUD.routeTable)]);
      cloud.must(["ip", "rule", "add", "pref", "100", "iif", link, "lookup", String(CLOUD.routeTable)]);
      host.must(["ip", "link", "set", "enp7s0", "address", mac, "mtu", "1450", "up"]);
      host.must(["ip", "link", "set", "lo", "up"]);
      host.must(["ip", "address", "add", `${address}/32`, "dev", "enp7s0"]);
      host.must(["ip", "route", "add", network.routerIp, "dev", "enp7s0", "scope", "link"]);
      host.must(["ip", "route", "add", `${network.ipRange.split("/")[0]}/${prefixLength}`, "via", network.routerIp]);
    };

    Object.entries(options.workers).forEach(([name, address], index) => {
      const worker = this.addNamespace(name);
      attachPrivate(worker, `pw${index + 1}`, address, macOf("86:00:00", 0x80 + index));
      this.workerLinks.set(name, { address, cloudLink: `pw${index + 1}` });
      // A worker's default route is the network's router, as natgw's nodes/ files configure it.
      worker.must(["ip", "route", "add", "default", "via", network.routerIp]);
      this.workers.set(name, worker);
    });

    configs.forEach((config, index) => {
      const name = config.member.name;
      const namespace = this.addNamespace(name).namespace;
      const root = this.memberRoot(name, tls.certificate);
      const holder = this.startHolder(namespace, root, bin);
      const member = new Member(name, namespace, ["nsenter", "--target", String(holder), "--mount", "--net", "--"], config, serverId(index + 1), memberPublicAddress(index + 1), `pv${index + 1}`);
      attachPrivate(member, member.cloudPrivateLink, config.member.privateIp, macOf("86:00:00", index + 1));
      const publicLink = `pub${index + 1}`;
      cloud.must(["ip", "link", "add", publicLink, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
      cloud.must(["ip", "link", "set", publicLink, "up"]);
      cloud.must(["ip", "address", "add", `${CLOUD.publicGateway}/32`, "dev", publicLink]);
      cloud.must(["ip", "route", "add", `${member.publicIp}/32`, "dev", publicLink]);
      member.must(["ip", "link", "set", "eth0", "address", macOf("96:00:00", index + 1), "up"]);
      member.must(["ip", "address", "add", `${member.publicIp}/32`, "dev", "eth0"]);
      member.must(["ip", "route", "add", CLOUD.publicGateway, "dev", "eth0", "scope", "link"]);
      member.must(["ip", "route", "add", "default", "via", CLOUD.publicGateway]);
      this.members.push(member);
    });

    // What Terraform created: the floating IPs on member 1, the routes through it.
    const first = this.members[0]!;
    const cloudConfig: CloudConfig = {
      controlSocket: this.controlSocket,
      apiAddress: CLOUD.api,
      certificate: tls.certificate,
      key: tls.key,
      token,
      actionSeconds: this.actionSeconds,
      routeTable: CLOUD.routeTable,
      network: { id: networkId, name: network.name ?? `network-${networkId}`, ipRange: network.ipRange, subnet: network.subnet, gateway: network.routerIp },
      servers: this.members.map((member, index) => ({ id: member.serverId, name: member.name, publicIp: member.publicIp, privateIp: member.config.member.privateIp, privateMac: macOf("86:00:00", index + 1) })),
      floatingIPs: Object.fromEntries(this.floatingIPs.map((floatingIP) => [floatingIP.id, { address: floatingIP.address, server: first.serverId }])),
      networks: { [networkId]: first.config.routes.map((destination) => ({ destination, gateway: first.config.member.privateIp })) },
    };
    writeFileSync(join(this.directory, "cloud.json"), JSON.stringify(cloudConfig));
    await this.startProgram(cloud, "cloud", [join(this.directory, "cloud.json")]);
    await this.startProgram(internet, "echo", [internetAddresses.join(","), INTERNET.tcpPorts.join(","), INTERNET.udpPorts.join(",")]);
    this.token = token;
    this.networkId = networkId;
  }

  /**
   * Every address of `range` (a CIDR) on the worker's NIC too, and the range routed
   * to it by the cloud, as a server that carries a range of its own (a node's pods)
   * gets a route of the network: many sources from one namespace, for flows that
   * must not share one source's ports. The route goes via the worker's own address,
   * so the cloud holds one neighbour entry, not one per address: the kernel's
   * neighbour table is shared by every namespace and holds 1,024 entries
   * (gc_thresh3), which a /22 alone would fill.
   */
  addWorkerRange(name: string, range: string): void {
    const link = this.workerLinks.get(name);
    if (!link) throw new Error(`no worker ${name} in this lab`);
    const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(range);
    const prefixLength = Number(match?.[5]);
    if (!match || prefixLength < 16 || prefixLength > 32) throw new Error(`a worker's range is a CIDR from /16 to /32, not ${range}`);
    const addresses = addressesOf(range);
    const added = addresses.filter((address) => address !== link.address).map((address) => `address add ${address}/32 dev enp7s0\n`);
    this.worker(name).must(["ip", "-batch", "-"], { input: added.join("") });
    this.cloudHost.must(["ip", "route", "add", range, "via", link.address, "dev", link.cloudLink, "table", String(CLOUD.routeTable)]);
  }

  /** Every CPU kept busy (load.ts) until the load is stopped, or the lab stops and kills it with the rest. */
  saturateCpus(): Promise<CpuLoad> {
    const load = CpuLoad.start();
    this.children.push(...load.processes);
    return load.started();
  }

  /** Cuts the member's private link at the cloud's end: the member's NIC loses its carrier. */
  cutPrivateLink(member: Member): void {
    this.cloudHost.must(["ip", "link", "set", member.cloudPrivateLink, "down"]);
  }

  /** Restores the link, and the cloud's route to the member that went down with it. */
  restorePrivateLink(member: Member): void {
    this.cloudHost.must(["ip", "link", "set", member.cloudPrivateLink, "up"]);
    this.cloudHost.must(["ip", "route", "replace", `${member.config.member.privateIp}/32`, "dev", member.cloudPrivateLink, "table", String(CLOUD.routeTable)]);
  }

  /**
   * First boot, as cloud-init runs the member's user-data: its bootcmd, its
   * write_files into place (gz+b64 unpacked), then its runcmd; returns each
   * command's result.
   */
  boot(member: Member): BootResult[] {
    const cloudInit = parse(readFileSync(join(this.directory, "build", "hosts", member.name, "cloud-init.yaml"), "utf8")) as {
      bootcmd: string[][];
      write_files: { path: string; permissions: string; encoding?: string; content: string }[];
      runcmd: string[][];
    };
    const run = (command: string[]) => {
      const result = member.exec(command);
      return { command, status: result.status, stderr: result.stderr };
    };
    const boots = cloudInit.bootcmd.map(run);
    for (const file of cloudInit.write_files) {
      const content = file.encoding === "gz+b64" ? gunzipSync(Buffer.from(file.content, "base64")).toString("utf8") : file.content;
      placeFile(member, file.path, file.permissions, content);
    }
    return [...boots, ...cloudInit.runcmd.map(run)];
  }

  /**
   * A later boot of a member that was deployed: every process of its units gone
   * and its tables with them (as after a power cut), then the enabled units
   * started in the order cloud-init's runcmd enables them, as systemd would.
   */
  reboot(member: Member): BootResult[] {
    for (const unit of ["natgw-natlog.service", "keepalived.service", "conntrackd.service", "natgw-watchdog.service", "natgw-forwarding.service", "natgw-ruleset.service", "natgw-baseline.service"]) {
      member.exec(["systemctl", "stop", unit]);
    }
    member.must(["nft", "flush", "ruleset"]);
    member.must(["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    const cloudInit = parse(readFileSync(join(this.directory, "build", "hosts", member.name, "cloud-init.yaml"), "utf8")) as { runcmd: string[][] };
    return cloudInit.runcmd
      .filter((command) => command[0] === "systemctl" && command[1] === "enable")
      .map((command) => {
        const start = ["systemctl", "start", command.at(-1)!];
        const result = member.exec(start);
        return { command: start, status: result.status, stderr: result.stderr };
      });
  }

  /**
   * What Terraform's provisioners do after apply: every host file of the member
   * (config.json and the ruleset among them, which the user-data leaves out),
   * cloud.json and the token into place, then `natgw-ctl reconcile`. Members are
   * pushed one after the other, as Terraform does.
   */
  push(member: Member): RunResult {
    const prefix = `hosts/${member.name}/`;
    for (const artifact of this.index.artifacts.filter((candidate) => candidate.path.startsWith(prefix) && candidate.role !== "cloud-init")) {
      placeFile(member, `/${artifact.path.slice(prefix.length)}`, artifact.mode, readFileSync(join(this.directory, "build", artifact.path), "utf8"));
    }
    const cloudJson = {
      networkId: this.networkId,
      servers: Object.fromEntries(this.members.map((each) => [each.name, each.serverId])),
      floatingIPs: Object.fromEntries(this.floatingIPs.map((floatingIP) => [floatingIP.name, { id: floatingIP.id, address: floatingIP.address }])),
    };
    placeFile(member, "/etc/natgw/cloud.json", "0644", JSON.stringify(cloudJson));
    placeFile(member, "/etc/natgw/token", "0600", this.token);
    member.must(["systemctl", "daemon-reload"]);
    return member.exec(["/usr/local/sbin/natgw-ctl", "reconcile"]);
  }

  /**
   * Every member's first boot, then Terraform's push member by member; resolves
   * when one member is active, owns the floating IPs and routes, and its
   * takeover has finished.
   */
  async deploy(): Promise<{ boots: BootResult[][]; pushes: RunResult[]; active: Member }> {
    const boots = this.members.map((member) => this.boot(member));
    const pushes = this.members.map((member) => this.push(member));
    return { boots, pushes, active: await this.settled() };
  }

  /** The active member, once the floating IPs and routes point at it and no takeover or action runs. */
  async settled(timeoutMs = 20_000): Promise<Member> {
    return waitFor("the gateway to settle on an active member", timeoutMs, async () => {
      const state = await this.cloudState();
      if (state.pendingActions > 0) return undefined;
      const owner = this.members.find((member) => this.owns(state, member));
      if (!owner || (owner.config.mode === "ha" && owner.vrrpState() !== "MASTER")) return undefined;
      return this.members.some((member) => member.ctlPids("takeover").length > 0 || member.ctlPids("reconcile").length > 0) ? undefined : owner;
    });
  }

  /** Whether the API has every floating IP assigned to the member and every route through it. */
  owns(state: CloudState, member: Member): boolean {
    const routes = Object.values(state.networks).flat();
    return (
      this.floatingIPs.every((floatingIP) => state.floatingIPs[floatingIP.id]?.server === member.serverId) &&
      member.config.routes.every((destination) => routes.some((route) => route.destination === destination && route.gateway === member.config.member.privateIp))
    );
  }

  /** TCP and UDP packets the internet received, those to port 25, and any from private sources. */
  internetCounters(): { arrived: number; privateSource: number; smtp: number } {
    const listing = JSON.parse(this.internet.must(["nft", "-j", "list", "counters", "table", "inet", "lab"])) as { nftables: { counter?: { name: string; packets: number } }[] };
    const packets = (name: string) => listing.nftables.find((entry) => entry.counter?.name === name)!.counter!.packets;
    return { arrived: packets("arrived"), privateSource: packets("private_source"), smtp: packets("smtp") };
  }

  /** Private source addresses the internet received packets from, with their protocol ("10.0.1.2 . udp"). */
  privateSourcesSeen(): string[] {
    const listing = JSON.parse(this.internet.must(["nft", "-j", "list", "set", "inet", "lab", "private_seen"])) as { nftables: { set?: { elem?: { concat: unknown[] }[] } }[] };
    const elements = listing.nftables.find((entry) => entry.set)?.set?.elem ?? [];
    return elements.map((element) => element.concat.join(" . ")).sort();
  }

  async cloudState(): Promise<CloudState> {
    return (await this.control("GET", "/state")) as CloudState;
  }

  /** The next `times` answers to METHOD …pathSuffix are this error. */
  async failNext(method: string, pathSuffix: string, status: number, code: string, times = 1): Promise<void> {
    await this.control("POST", "/fail", { method, pathSuffix, status, code, times });
  }

  /**
   * The next takeover meets every kind of fault the API answers once: 423 locked
   * and 429 rate limited on a floating IP's assign, 409 conflict on a route's
   * delete, 500 on its add.
   */
  async failEachKindOnce(): Promise<void> {
    await this.failNext("POST", "/actions/assign", 423, "locked");
    await this.failNext("POST", "/actions/assign", 429, "rate_limit_exceeded");
    await this.failNext("POST", "/actions/delete_route", 409, "conflict");
    await this.failNext("POST", "/actions/add_route", 500, "server_error");
  }

  /** The Cloud API is down (every request answered 503, or its connection cut) until called with null. */
  async outage(mode: "unavailable" | "reset" | null): Promise<void> {
    await this.control("POST", "/outage", { mode });
  }

  /** After the next change by `command`, the API never answers again. */
  async holdAfter(command: string): Promise<void> {
    await this.control("POST", "/hold", { command });
  }

  private control(method: string, path: string, body?: unknown): Promise<unknown> {
    return new Promise((resolvePromise, reject) => {
      const request = requestOverSocket(this.controlSocket, method, path, body, (status, text) => {
        if (status >= 300) reject(new Error(`cloud ${method} ${path}: ${status} ${text}`));
        else resolvePromise(text ? JSON.parse(text) : null);
      });
      request.on("error", reject);
    });
  }

  /**
   * Starts a long-running lab program in a namespace; resolves once it printed
   * "ready", with the lines it prints after that.
   */
  startProgram(host: Host, program: string, args: readonly string[]): Promise<{ child: ChildProcess; lines: Interface }> {
    // Its input is the test's channel to it (held.ts answers "report" lines).
    const child = host.spawn([process.execPath, join(this.programs, `${program}.mjs`), ...args], "pipe");
    this.children.push(child);
    let errors = "";
    child.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()));
    const lines = createInterface({ input: child.stdout! });
    return new Promise((resolvePromise, reject) => {
      lines.once("line", (line) => (line === "ready" ? resolvePromise({ child, lines }) : reject(new Error(`${program}: ${line}`))));
      child.once("exit", (code, signal) => {
        const failure = `${program} in ${host.name} ${code === null ? `was killed by ${signal}` : `exited with ${code}`}: ${errors.trim()}`;
        // A program that fails after it was ready (the internet's echo, a prober)
        // would otherwise only show as traffic that stops, far from its cause.
        if (code !== 0 && labs.has(this)) this.failedPrograms.push(failure);
        reject(new Error(failure));
      });
    });
  }

  /** Lab programs that failed while the lab ran (a test's own stop ends none): empty when all went well. */
  get programFailures(): readonly string[] {
    return this.failedPrograms;
  }

  /** Runs a command in a namespace in the background, output discarded, until the lab stops. */
  background(host: Host, argv: readonly string[]): ChildProcess {
    const child = host.spawn(["sh", "-c", 'exec "$@" >/dev/null 2>&1', "background", ...argv]);
    this.children.push(child);
    return child;
  }

  /** The lab's programs, bundled once per lab so each starts as plain JavaScript. */
  get programs(): string {
    return join(this.directory, "bin");
  }

  private bundlePrograms(): string {
    const bin = this.programs;
    bundlePrograms(bin, ["systemctl", "cloud", "echo", "prober", "flows", "connections", "held"]);
    cpSync(join(ROOT, "test/lab/programs/reaper.py"), join(bin, "reaper.py"));
    writeFileSync(join(bin, "systemctl"), `#!/bin/sh\nexec ${process.execPath} ${join(bin, "systemctl.mjs")} "$@"\n`);
    chmodSync(join(bin, "systemctl"), 0o755);
    return bin;
  }

  /** A self-signed certificate for api.hetzner.cloud, which the members trust. */
  private certificate(): { certificate: string; key: string } {
    const certificate = join(this.directory, "api.crt");
    const key = join(this.directory, "api.key");
    const result = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=api.hetzner.cloud",
        "-addext", "subjectAltName=DNS:api.hetzner.cloud", "-keyout", key, "-out", certificate],
      { encoding: "utf8" },
    );
    if (result.status !== 0) throw new Error(`openssl: ${result.stderr}`);
    return { certificate, key };
  }

  /**
   * The member's writable layers, empty but for what the lab itself provides: an
   * /etc/hosts naming the cloud's API, a CA bundle of the lab's certificate, and no
   * sysctl.conf (sysctl --system in the member must apply natgw's file only).
   * natgw's files arrive as on Hetzner: at boot from the user-data, then pushed.
   */
  private memberRoot(name: string, certificate: string): string {
    const root = join(this.directory, "members", name);
    for (const layer of ["etc", "usr-local", "var-lib", "run", "empty", "work/etc", "work/usr-local", "work/var-lib"]) mkdirSync(join(root, layer), { recursive: true, mode: 0o755 });
    writeFileSync(join(root, "etc/hosts"), `127.0.0.1 localhost\n${CLOUD.api} api.hetzner.cloud\n`);
    mkdirSync(join(root, "etc/ssl/certs"), { recursive: true });
    cpSync(certificate, join(root, "etc/ssl/certs/ca-certificates.crt"));
    writeFileSync(join(root, "etc/sysctl.conf"), "");
    return root;
  }

  /**
   * A process that holds the member's mount namespace; every command of the
   * member enters it (and the network namespace) with nsenter.
   */
  private startHolder(namespace: string, root: string, bin: string): number {
    const overlay = (target: string, layer: string) =>
      `mount -t overlay overlay -o lowerdir=${target},upperdir=${root}/${layer},workdir=${root}/work/${layer} ${target}`;
    const script = [
      overlay("/etc", "etc"),
      overlay("/usr/local", "usr-local"),
      overlay("/var/lib", "var-lib"),
      `mount --bind ${root}/run /run`,
      `mount --bind ${root}/empty /usr/lib/sysctl.d`,
      `mount --bind ${bin}/systemctl /usr/bin/systemctl`,
      "echo ready",
      "exec sleep infinity",
    ].join("\n");
    const holder = spawn("ip", ["netns", "exec", namespace, "unshare", "--mount", "--propagation", "private", "sh", "-ec", script], { stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(holder);
    const ready = spawnSync("sh", ["-c", `for i in $(seq 100); do [ -n "$(ip netns pids ${namespace})" ] && grep -qs ' /usr/bin/systemctl ' /proc/$(ip netns pids ${namespace} | head -1)/mountinfo && exit 0; sleep 0.05; done; exit 1`]);
    const pid = namespacePids(namespace).find((candidate) => readComm(candidate) === "sleep");
    if (ready.status !== 0 || pid === undefined) throw new Error(`the holder of ${namespace} did not start`);
    return pid;
  }

  private addNamespace(role: string): Host {
    const namespace = `${NAME_PREFIX}${this.id}-${role}`;
    const result = spawnSync("ip", ["netns", "add", namespace], { encoding: "utf8" });
    if (result.status !== 0) throw new Error(`ip netns add ${namespace}: ${result.stderr}`);
    this.namespaces.push(namespace);
    return new Host(role, namespace, ["ip", "netns", "exec", namespace]);
  }

  /**
   * Kills every process in the lab's namespaces, deletes them and the lab's files.
   * Synchronous, so it also runs from an exit handler.
   */
  stop(): void {
    labs.delete(this);
    for (const child of this.children) if (child.exitCode === null && child.pid) tryKill(child.pid);
    for (const namespace of this.namespaces) removeNamespace(namespace);
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** What a stopped lab left behind: namespaces, processes, files. Empty when clean. */
  leftovers(): string[] {
    const found: string[] = [];
    const listed = listedNamespaces();
    for (const namespace of this.namespaces) if (listed.includes(namespace)) found.push(`namespace ${namespace}`);
    for (const child of this.children) if (child.pid && running(child.pid)) found.push(`process ${child.pid}`);
    const hostLinks = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout;
    for (const link of ["inet0", "wan0", ...this.members.map((member) => member.cloudPrivateLink)]) {
      if (new RegExp(`^\\d+: ${link}[@:]`, "m").test(hostLinks)) found.push(`link ${link} in the host namespace`);
    }
    if (existsSync(this.directory)) found.push(`directory ${this.directory}`);
    return found;
  }
}

/** Bundles lab programs (programs/NAME.ts) into `bin` as NAME.mjs, each plain JavaScript that node starts as it is. */
export function bundlePrograms(bin: string, names: readonly string[]): void {
  buildSync({
    entryPoints: names.map((name) => join(ROOT, "test/lab/programs", `${name}.ts`)),
    outdir: bin,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "error",
  });
}

function requestOverSocket(socketPath: string, method: string, path: string, body: unknown, done: (status: number, text: string) => void) {
  // node:http over a Unix socket: the cloud's control channel crosses namespaces as a file.
  // A connection per request (agent: false): Node 20's default agent keeps sockets
  // alive, and one the cloud closed after 5 s idle failed the next request (EPIPE).
  const text = body === undefined ? "" : JSON.stringify(body);
  return httpRequest({ socketPath, agent: false, method, path, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) } }, (response) => {
    let answer = "";
    response.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    response.on("end", () => done(response.statusCode ?? 0, answer));
  }).end(text);
}


let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const stopAll = () => [...labs].forEach((lab) => lab.stop());
  process.on("exit", stopAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      stopAll();
      process.kill(process.pid, signal);
    });
  }
}
