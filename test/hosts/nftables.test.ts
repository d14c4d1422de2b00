import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { emit } from "../../src/emit/emit.js";
import type { MemberContext } from "../../src/emit/hosts/context.js";
import { HOST_PATHS } from "../../src/emit/hosts/context.js";
import { baselineValues, FORWARD_APPROVED_MARK, RULESET_RUNTIME_PATH, RUNTIME_FILES, rulesetValues } from "../../src/emit/hosts/nftables.js";
import { render } from "../../src/emit/hosts/render.js";
import { addressToNumber } from "../../src/resolve/ip.js";
import type { Model } from "../../src/resolve/model.js";
import { EXAMPLES } from "../support/artifacts.js";
import { Namespace, isRoot, missingTools, run, type RunResult } from "../support/tools.js";
import { waitFor } from "../support/wait.js";

const work = mkdtempSync(join(tmpdir(), "natgw-nftables-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Port blocks and policies together, with two policies to one egress IP that
 * overlap (the wide one contains the narrow one's sources and a destination); SMTP
 * allowed and SSH closed.
 */
const MIXED_SPEC = `apiVersion: natgw.dev/v1alpha1
kind: NatGateway
metadata: { name: mixed-egress }
spec:
  location: fsn1
  network: { id: 6000, ipRange: 10.40.0.0/16, subnet: 10.40.0.0/24 }
  highAvailability: { enabled: false }
  members: { sshKeys: [ops] }
  egressIPs: [{ name: primary }, { name: partner-api }]
  sources: [10.40.8.0/28]
  portsPerSource: 2048
  security: { blockSMTP25: false, sshAllowedCIDRs: [198.51.100.7/32] }
---
apiVersion: natgw.dev/v1alpha1
kind: EgressNATPolicy
metadata: { name: partner-wide }
spec: { sources: [{ cidr: 10.40.8.0/28 }], destinations: [{ cidr: 203.0.113.0/24 }], gatewayRef: { name: mixed-egress }, egressIP: partner-api }
---
apiVersion: natgw.dev/v1alpha1
kind: EgressNATPolicy
metadata: { name: partner-narrow }
spec:
  sources: [{ cidr: 10.40.8.4/30 }]
  destinations: [{ cidr: 203.0.113.0/25 }, { cidr: 198.51.100.0/24 }]
  gatewayRef: { name: mixed-egress }
  egressIP: partner-api
`;
writeFileSync(join(work, "mixed.yaml"), MIXED_SPEC);

interface Member {
  readonly context: MemberContext;
  readonly script: string;
  readonly interfaces: string;
  readonly config: string;
}

function membersOf(file: string): Member[] {
  const model: Model = compile([file]).model!;
  const artifacts = emit(model).artifacts;
  const content = (path: string) => artifacts.find((artifact) => artifact.path === path)!.content;
  return model.gateways.flatMap((gateway) =>
    gateway.members.map((member) => ({
      context: { model, gateway, member, peer: gateway.members.find((other) => other !== member) ?? null },
      script: content(`hosts/${member.name}${RULESET_RUNTIME_PATH}`),
      interfaces: content(`hosts/${member.name}${HOST_PATHS.interfaces}`),
      config: content(`hosts/${member.name}/etc/natgw/config.json`),
    })),
  );
}

const MEMBERS = [...EXAMPLES.map((example) => `examples/${example}.yaml`), join(work, "mixed.yaml")].flatMap(membersOf);
const member = (name: string) => MEMBERS.find((candidate) => candidate.context.member.name === name)!;

/** Documentation addresses for the floating IPs, as Terraform would write cloud.json. */
function cloudJson({ context }: Member, network = "203.0.113"): Record<string, unknown> {
  const floatingIPs = Object.fromEntries(context.gateway.egressIPs.map((egressIP, index) => [egressIP.name, { id: 1000 + index, address: `${network}.${10 + index}` }]));
  return { networkId: 4711, servers: {}, floatingIPs };
}

interface FakeHost {
  readonly directory: string;
  readonly runtimeDir: string;
  readonly environment: string[];
}

const HETZNER_NICS = { enp7s0: "86:00:00:4b:1a:02", eth0: "96:00:00:4b:1a:01", lo: "00:00:00:00:00:00" };
let hosts = 0;

/** A member's /etc/natgw, /sys/class/net and /run/natgw in a temporary directory. */
function fakeHost(subject: Member, options: { nics?: Record<string, string>; cloud?: unknown } = {}): FakeHost {
  const directory = join(work, `host-${(hosts += 1)}`);
  for (const [name, mac] of Object.entries(options.nics ?? HETZNER_NICS)) {
    mkdirSync(join(directory, "sys", name), { recursive: true });
    writeFileSync(join(directory, "sys", name, "address"), `${mac}\n`);
  }
  mkdirSync(join(directory, "sys"), { recursive: true });
  writeFileSync(join(directory, "config.json"), subject.config);
  const cloud = "cloud" in options ? options.cloud : cloudJson(subject);
  if (cloud !== undefined) writeFileSync(join(directory, "cloud.json"), typeof cloud === "string" ? cloud : JSON.stringify(cloud));
  writeFileSync(join(directory, "ruleset-runtime"), subject.script);
  chmodSync(join(directory, "ruleset-runtime"), 0o755);
  writeFileSync(join(directory, "interfaces"), subject.interfaces);
  chmodSync(join(directory, "interfaces"), 0o755);
  const runtimeDir = join(directory, "run");
  const environment = [
    `NATGW_CONFIG=${join(directory, "config.json")}`,
    `NATGW_CLOUD=${join(directory, "cloud.json")}`,
    `NATGW_RUNTIME_FILE=${join(runtimeDir, RUNTIME_FILES.runtime)}`,
    `NATGW_PORT_BLOCKS_FILE=${join(runtimeDir, RUNTIME_FILES.portBlocks)}`,
    `NATGW_INTERFACES=${join(directory, "interfaces")}`,
    `NATGW_SYS_CLASS_NET=${join(directory, "sys")}`,
  ];
  return { directory, runtimeDir, environment };
}

/** Runs the rendered ruleset-runtime on a fake host, in a namespace when given. */
function runtime(host: FakeHost, namespace?: Namespace): RunResult {
  const args = [...host.environment, join(host.directory, "ruleset-runtime")];
  return namespace ? namespace.exec("env", args) : run("env", args);
}

const toolsMissing = missingTools("bash", "jq", "ip");
const namespaceMissing = missingTools("nft", "ip", "bash", "jq") ?? (isRoot() ? undefined : "network namespaces need root");

describe.skipIf(toolsMissing)("ruleset-runtime", () => {
  for (const subject of MEMBERS) {
    it(`${subject.context.member.name}: defines the interfaces found by MAC and every egress address from cloud.json`, () => {
      const host = fakeHost(subject);
      const result = runtime(host);
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
      const defines = readFileSync(join(host.runtimeDir, "runtime.nft"), "utf8").split("\n").filter((line) => line.startsWith("define"));
      expect(defines).toEqual([
        'define private_if = "enp7s0"',
        'define public_if = "eth0"',
        ...subject.context.gateway.egressIPs.map((egressIP, index) => `define egress_${egressIP.name.replace(/-/g, "_")} = 203.0.113.${10 + index}`),
      ]);
    });
  }

  it("expands port-block segments into one element per source, consecutive blocks on each egress IP", () => {
    const host = fakeHost(member("batch-egress-1"));
    expect(runtime(host).status).toBe(0);
    const elements = readFileSync(join(host.runtimeDir, "port-blocks.nft"), "utf8").match(/^\t.*,$/gm)!;
    expect(elements).toHaveLength(64);
    expect(elements[0]).toBe("\t10.30.8.0 : 203.0.113.10 . 1024-2047,");
    expect(elements[1]).toBe("\t10.30.8.1 : 203.0.113.10 . 2048-3071,");
    expect(elements[62]).toBe("\t10.30.8.62 : 203.0.113.10 . 64512-65535,");
    // One egress IP holds 63 blocks of 1,024 ports: the last source spills.
    expect(elements[63]).toBe("\t10.30.8.63 : 203.0.113.11 . 1024-2047,");
  });

  it("gives policy egress IPs their own port-block map beside the default one", () => {
    const host = fakeHost(member("mixed-egress-1"));
    expect(runtime(host).status).toBe(0);
    const text = readFileSync(join(host.runtimeDir, "port-blocks.nft"), "utf8");
    expect(text).toContain("add element inet natgw default_ports {\n\t10.40.8.0 : 203.0.113.10 . 1024-3071,");
    expect(text).toContain("add element inet natgw ports_partner_api {\n\t10.40.8.0 : 203.0.113.11 . 1024-3071,");
    expect(text).toContain("\t10.40.8.15 : 203.0.113.11 . 31744-33791,\n}");
  });

  const failures: [string, Parameters<typeof fakeHost>[1], RegExp][] = [
    ["cloud.json is missing", { cloud: undefined }, /cannot read .*cloud\.json/],
    ["cloud.json lacks an egress address", { cloud: { floatingIPs: {} } }, /has no address for egress IP primary/],
    ["cloud.json is not JSON", { cloud: "{" }, /is not what natgw and Terraform write/],
    ["an address is malformed", { cloud: { floatingIPs: { primary: { address: "203.0.113.10; accept" } } } }, /address of egress IP primary is malformed/],
    ["an address is out of range", { cloud: { floatingIPs: { primary: { address: "203.0.113.256" } } } }, /malformed/],
    ["no NIC has the private MAC prefix", { nics: { eth0: HETZNER_NICS.eth0 } }, /no private interface/],
    ["two NICs have the private MAC prefix", { nics: { ...HETZNER_NICS, ens10: "86:00:00:4b:1a:03" } }, /several private interfaces \(enp7s0 ens10\)/],
    ["an interface name is too long for Linux", { nics: { enp7s0abcdefghijk: "86:00:00:4b:1a:02", eth0: HETZNER_NICS.eth0 } }, /private interface's name is malformed/],
  ];
  for (const [what, options, message] of failures) {
    it(`fails closed when ${what}: non-zero, a message, and no runtime.nft`, () => {
      const host = fakeHost(member("dev-egress-1"), options);
      // A file from an earlier run must not survive a failed one either.
      mkdirSync(host.runtimeDir, { recursive: true });
      writeFileSync(join(host.runtimeDir, "runtime.nft"), "define private_if = \"stale\"\n");
      const result = runtime(host);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(message);
      expect(existsSync(join(host.runtimeDir, "runtime.nft"))).toBe(false);
      expect(existsSync(join(host.runtimeDir, "port-blocks.nft"))).toBe(false);
    });
  }

  it.skipIf(missingTools("shellcheck"))("passes shellcheck for every member", () => {
    for (const subject of MEMBERS) {
      const path = join(work, `${subject.context.member.name}-ruleset-runtime`);
      writeFileSync(path, subject.script);
      const result = run("shellcheck", ["--shell=bash", path]);
      expect(result.stdout + result.stderr, subject.context.member.name).toBe("");
      expect(result.status).toBe(0);
    }
  });
});

describe.skipIf(namespaceMissing)("ruleset in a network namespace", () => {
  let namespace: Namespace;
  beforeAll(() => {
    namespace = new Namespace();
  });
  afterAll(() => namespace?.remove());

  /** The member's ruleset, reading runtime files the real ruleset-runtime wrote. */
  function prepare(subject: Member): string {
    const host = fakeHost(subject);
    const result = runtime(host);
    expect(result.stderr).toBe("");
    const path = join(host.directory, "ruleset.nft");
    writeFileSync(path, render("etc/natgw/ruleset.nft.njk", rulesetValues(subject.context, host.runtimeDir)));
    return path;
  }

  type Listing = { nftables: Record<string, Record<string, unknown>>[] };
  const listing = (): Listing => JSON.parse(namespace.exec("nft", ["-j", "list", "ruleset"]).stdout) as Listing;
  const objects = (kind: string, table = "natgw") =>
    listing().nftables.flatMap((entry) => (entry[kind] && entry[kind]!.table === table ? [entry[kind]!] : []));
  const named = (kind: string, name: string) => objects(kind).find((object) => object.name === name);

  for (const subject of MEMBERS) {
    const { gateway, member: self, peer } = subject.context;
    it(`${self.name}: passes nft -c, loads, and loads again over itself`, () => {
      const path = prepare(subject);
      const check = namespace.exec("nft", ["-c", "-f", path]);
      expect(check.stderr).toBe("");
      expect(check.status).toBe(0);
      for (const attempt of [1, 2]) {
        const load = namespace.exec("nft", ["-f", path]);
        expect(load.stderr, `load ${attempt}`).toBe("");
        expect(load.status).toBe(0);
      }
      expect(listing().nftables.filter((entry) => entry.table?.name === "natgw")).toHaveLength(1);
      expect(objects("counter").map((counter) => counter.name)).toEqual(["egress", "reply", "nat", "drop_metadata", "drop_smtp", "drop_not_source", "drop_invalid", "drop_unnatted"]);
      expect(named("chain", "input")).toMatchObject({ type: "filter", hook: "input", policy: "drop" });
      expect(named("chain", "forward")).toMatchObject({ type: "filter", hook: "forward", policy: "drop" });
      expect(named("chain", "clamp_mss")).toMatchObject({ hook: "forward", prio: -150, policy: "accept" });
      expect(named("chain", "postrouting")).toMatchObject({ type: "nat", hook: "postrouting", prio: 100 });
      // After source NAT (srcnat is 100): it sees the addresses that actually leave.
      expect(named("chain", "guard_unnatted")).toMatchObject({ type: "filter", hook: "postrouting", prio: 110, policy: "accept" });
      const forwardRules = objects("rule").filter((rule) => rule.chain === "forward");
      expect(JSON.stringify(forwardRules[0]!.expr), "INVALID is dropped before anything is accepted").toBe(
        JSON.stringify([{ match: { op: "in", left: { ct: { key: "state" } }, right: "invalid" } }, { counter: "drop_invalid" }, { drop: null }]),
      );
      expect(JSON.stringify(forwardRules), "every accepted forward is marked").not.toContain('"accept"');
      expect(named("set", "sources")!.elem).toBeDefined();
      expect(named("set", "blocked_destinations")!.elem).toEqual([{ prefix: { addr: "169.254.0.0", len: 16 } }]);
      expect(named("set", "ssh_allowed")!.elem ?? []).toHaveLength(gateway.security.sshAllowedCIDRs.length);
      expect(named("map", "policies") !== undefined).toBe(gateway.policies.length > 0);
      if (gateway.portBlocks) {
        const sourcesOf = (segments: typeof gateway.portBlocks.segments) =>
          segments.reduce((total, segment) => total + addressToNumber(segment.lastSource) - addressToNumber(segment.firstSource) + 1, 0);
        expect(named("map", "default_ports")!.elem).toHaveLength(sourcesOf(gateway.portBlocks.segments.filter((segment) => segment.defaultTraffic)));
        for (const egressIP of gateway.egressIPs.filter((candidate) => candidate.policies.length > 0)) {
          const segments = gateway.portBlocks.segments.filter((segment) => segment.egressIP === egressIP.name);
          expect(named("map", `ports_${egressIP.name.replace(/-/g, "_")}`)!.elem).toHaveLength(sourcesOf(segments));
        }
      }

      const input = objects("rule")
        .filter((rule) => rule.chain === "input")
        .map((rule) => JSON.stringify(rule.expr));
      const match = (left: unknown, right: unknown) => ({ match: { op: "==", left, right } });
      const fromPrivate = match({ meta: { key: "iifname" } }, "enp7s0");
      const vrrp = peer ? [[fromPrivate, match({ payload: { protocol: "ip", field: "saddr" } }, peer.privateIp), match({ payload: { protocol: "ip", field: "protocol" } }, "vrrp"), { accept: null }]] : [];
      expect(input.filter((rule) => rule.includes('"vrrp"'))).toEqual(vrrp.map((rule) => JSON.stringify(rule)));
      const [network, length] = gateway.network.ipRange.split("/");
      const metrics = [fromPrivate, match({ payload: { protocol: "ip", field: "saddr" } }, { prefix: { addr: network, len: Number(length) } }), match({ payload: { protocol: "tcp", field: "dport" } }, gateway.metrics.port), { accept: null }];
      expect(input.includes(JSON.stringify(metrics)), "metrics only from the private network").toBe(gateway.metrics.enabled);
      const rules = JSON.stringify(objects("rule"));
      expect(rules.includes('"counter":"drop_smtp"'), "SMTP dropped iff blockSMTP25").toBe(gateway.security.blockSMTP25);
      expect(rules).not.toContain("masquerade");
    });
  }

  for (const subject of MEMBERS) {
    const { gateway, member: self, peer } = subject.context;
    it(`${self.name}: the baseline passes nft -c and loads beside the main table: input closed but for SSH, VRRP and metrics, forward only for marked packets`, () => {
      const path = join(work, `${self.name}-baseline.nft`);
      writeFileSync(path, render("etc/natgw/baseline.nft.njk", baselineValues(subject.context)));
      const check = namespace.exec("nft", ["-c", "-f", path]);
      expect(check.stderr).toBe("");
      expect(check.status).toBe(0);
      expect(namespace.exec("nft", ["-f", prepare(subject)]).status).toBe(0);
      for (const attempt of [1, 2]) expect(namespace.exec("nft", ["-f", path]).status, `load ${attempt}`).toBe(0);
      const baseline = (kind: string, name: string) => objects(kind, "natgw_baseline").find((object) => object.name === name);
      expect(baseline("chain", "input")).toMatchObject({ type: "filter", hook: "input", policy: "drop" });
      expect(baseline("chain", "forward")).toMatchObject({ type: "filter", hook: "forward", prio: 10, policy: "drop" });
      expect(baseline("set", "ssh_allowed")!.elem ?? []).toHaveLength(gateway.security.sshAllowedCIDRs.length);
      const rules = objects("rule", "natgw_baseline");
      const text = (chain: string) => JSON.stringify(rules.filter((rule) => rule.chain === chain).map((rule) => rule.expr));
      expect(text("input").includes('"vrrp"'), "VRRP only in HA").toBe(peer !== null);
      if (peer) expect(text("input")).toContain(`"right":"${peer.privateIp}"`);
      expect(text("input").includes(`"right":${gateway.metrics.port}`), "metrics port iff enabled").toBe(gateway.metrics.enabled);
      expect(text("forward")).toBe(
        JSON.stringify([[{ match: { op: "==", left: { "&": [{ meta: { key: "mark" } }, Number(FORWARD_APPROVED_MARK)] }, right: Number(FORWARD_APPROVED_MARK) } }, { accept: null }]]),
      );
      // Both tables stay: each file replaces only its own table.
      expect(namespace.exec("nft", ["list", "tables"]).stdout).toBe("table inet natgw\ntable inet natgw_baseline\n");
    });
  }

  it("a rejected ruleset leaves the loaded rules and other tools' tables as they were", () => {
    const path = prepare(member("edge-egress-1"));
    expect(namespace.exec("nft", ["-f", path]).status).toBe(0);
    expect(namespace.exec("nft", ["add table ip other_tool; add chain ip other_tool keep"]).status).toBe(0);
    const before = listing();
    const broken = readFileSync(path, "utf8").replace('counter name "egress" goto approve\n\t}', 'counter name "no_such_counter" goto approve\n\t}');
    expect(broken).toContain("no_such_counter");
    writeFileSync(path, broken);
    const load = namespace.exec("nft", ["-f", path]);
    expect(load.status).not.toBe(0);
    expect(listing()).toEqual(before);
    expect(namespace.exec("nft", ["delete table ip other_tool"]).status).toBe(0);
  });

  it("takes the public interface from the default route when no NIC has the public MAC prefix", () => {
    const subject = member("dev-egress-1");
    const host = fakeHost(subject, { nics: { enp7s0: HETZNER_NICS.enp7s0 } });
    const missing = runtime(host, namespace);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/no public interface/);
    expect(namespace.exec("ip", ["route", "add", "default", "dev", "eth0"]).status).toBe(0);
    try {
      expect(runtime(host, namespace).status).toBe(0);
      expect(readFileSync(join(host.runtimeDir, "runtime.nft"), "utf8")).toContain('define public_if = "eth0"');
    } finally {
      namespace.exec("ip", ["route", "del", "default"]);
    }
  });
});

/**
 * A worker, a member and "the internet", each in its own namespace, wired as on
 * Hetzner: worker -- enp7s0 [member] eth0 -- internet. The floating IPs are
 * 192.0.2.10 onwards on the member's eth0; conntrack on the member shows what each
 * flow was translated to.
 */
describe.skipIf(namespaceMissing ?? missingTools("conntrack", "timeout"))("traffic through a loaded ruleset", () => {
  let worker: Namespace, gateway: Namespace, internet: Namespace;
  let memberPrivateIp = "";
  beforeAll(() => {
    [worker, gateway, internet] = [new Namespace(), new Namespace(), new Namespace()];
    for (const namespace of [worker, gateway, internet]) must(namespace.exec("ip", ["link", "del", "enp7s0"]));
    must(gateway.exec("ip", ["link", "add", "enp7s0", "type", "veth", "peer", "name", "lan0", "netns", worker.name]));
    must(gateway.exec("ip", ["link", "add", "eth0", "type", "veth", "peer", "name", "wan0", "netns", internet.name]));
    for (const [namespace, link] of [[gateway, "enp7s0"], [gateway, "eth0"], [worker, "lan0"], [internet, "wan0"]] as const) must(namespace.exec("ip", ["link", "set", link, "up"]));
    must(internet.exec("ip", ["address", "add", "192.0.2.1/24", "dev", "wan0"]));
    must(gateway.exec("ip", ["address", "add", "192.0.2.2/24", "dev", "eth0"]));
    must(gateway.exec("ip", ["route", "add", "default", "via", "192.0.2.1"]));
    must(gateway.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"]));
  });
  afterAll(() => [worker, gateway, internet].forEach((namespace) => namespace?.remove()));

  function must(result: RunResult): void {
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  }

  /** Loads the member's ruleset and gives the worker its source addresses. */
  function wire(subject: Member, workerAddresses: string[]): void {
    const { gateway: model, member: self } = subject.context;
    const prefixLength = model.network.ipRange.split("/")[1]!;
    must(gateway.exec("ip", ["address", "flush", "dev", "enp7s0"]));
    must(gateway.exec("ip", ["address", "add", `${self.privateIp}/${prefixLength}`, "dev", "enp7s0"]));
    model.egressIPs.forEach((_, index) => must(gateway.exec("ip", ["address", "replace", `192.0.2.${10 + index}/32`, "dev", "eth0"])));
    must(worker.exec("ip", ["address", "flush", "dev", "lan0"]));
    for (const address of workerAddresses) must(worker.exec("ip", ["address", "add", `${address}/${prefixLength}`, "dev", "lan0"]));
    const host = fakeHost(subject, { cloud: cloudJson(subject, "192.0.2") });
    must(runtime(host));
    const path = join(host.directory, "ruleset.nft");
    writeFileSync(path, render("etc/natgw/ruleset.nft.njk", rulesetValues(subject.context, host.runtimeDir)));
    must(gateway.exec("nft", ["-f", path]));
    gateway.exec("conntrack", ["-F"]);
    memberPrivateIp = self.privateIp;
  }

  /** Sends one UDP datagram from a worker address; returns what the member translated it to. */
  function translated(from: string, to: string): { address: string; port: number } | null {
    must(worker.exec("ip", ["route", "replace", "default", "via", memberPrivateIp, "src", from]));
    must(worker.exec("bash", ["-c", `echo probe >/dev/udp/${to}/53`]));
    const entry = gateway.exec("conntrack", ["-L", "-p", "udp", "--orig-src", from, "--orig-dst", to]).stdout;
    const reply = / src=\S+ dst=\S+ sport=\d+ dport=\d+ .*?src=\S+ dst=(\S+) sport=\d+ dport=(\d+)/.exec(entry);
    return reply ? { address: reply[1]!, port: Number(reply[2]) } : null;
  }

  const packets = (counter: string) =>
    (JSON.parse(gateway.exec("nft", ["-j", "list", "counter", "inet", "natgw", counter]).stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((entry) => entry.counter)!.counter!.packets;

  it("SNATs each source to its own port block on its egress IP", () => {
    wire(member("batch-egress-1"), ["10.30.8.5", "10.30.8.63"]);
    const fifth = translated("10.30.8.5", "192.0.2.1")!;
    expect(fifth.address).toBe("192.0.2.10");
    expect(fifth.port).toBeGreaterThanOrEqual(1024 + 5 * 1024);
    expect(fifth.port).toBeLessThanOrEqual(1024 + 6 * 1024 - 1);
    // The 64th source does not fit on the first egress IP: it spills, with the first block there.
    const last = translated("10.30.8.63", "192.0.2.1")!;
    expect(last.address).toBe("192.0.2.11");
    expect(last.port).toBeGreaterThanOrEqual(1024);
    expect(last.port).toBeLessThanOrEqual(2047);
  });

  it("SNATs policy traffic to the policy's egress IP and the rest to the first one", () => {
    wire(member("edge-egress-1"), ["10.20.16.5", "10.20.32.5"]);
    expect(translated("10.20.16.5", "203.0.113.5")?.address, "payments-api").toBe("192.0.2.11");
    expect(translated("10.20.16.5", "203.0.113.200")?.address, "logistics-reports").toBe("192.0.2.12");
    expect(translated("10.20.32.5", "198.51.100.130")?.address, "logistics-api").toBe("192.0.2.12");
    expect(translated("10.20.32.5", "203.0.113.5")?.address, "no policy: the first egress IP").toBe("192.0.2.10");
  });

  it("drops the metadata service, SMTP and other senders, each on its own counter, and counts egress and replies", () => {
    wire(member("prod-egress-1"), ["10.0.1.5", "172.16.0.5"]);
    const before = Object.fromEntries(["egress", "reply", "nat", "drop_metadata", "drop_smtp", "drop_not_source"].map((name) => [name, packets(name)]));
    translated("10.0.1.5", "169.254.169.254");
    worker.exec("timeout", ["1", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/25"]);
    // The internet namespace has no listener: the SYN goes out, a reset comes back.
    worker.exec("timeout", ["1", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/80"]);
    expect(translated("172.16.0.5", "192.0.2.1"), "outside the sources").toBeNull();
    expect(packets("drop_metadata")).toBeGreaterThan(before.drop_metadata!);
    expect(packets("drop_smtp")).toBeGreaterThan(before.drop_smtp!);
    expect(packets("drop_not_source")).toBeGreaterThan(before.drop_not_source!);
    expect(packets("egress")).toBeGreaterThan(before.egress!);
    expect(packets("reply")).toBeGreaterThan(before.reply!);
    expect(packets("nat")).toBeGreaterThan(before.nat!);
  });

  /**
   * What reaches "the internet", counted there before anything else sees it (as
   * the lab counts): any packet with a private source, and per probe port.
   */
  const WATCH = `table inet watch {
\tcounter private_source {}
\tcounter from_egress {}
\tcounter probe {}
\tchain prerouting {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tiifname "wan0" ip saddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 } counter name "private_source"
\t\tiifname "wan0" ip saddr 192.0.2.10 tcp dport 443 counter name "from_egress"
\t\tiifname "wan0" udp dport 9999 counter name "probe"
\t}
}
`;
  /** On the member, before natgw's chains: what came in from the worker to be forwarded. */
  const OBSERVE = `table inet observe {
\tcounter from_worker {}
\tchain forward {
\t\ttype filter hook forward priority raw; policy accept;
\t\tiifname "enp7s0" counter name "from_worker"
\t}
}
`;
  const counterOf = (namespace: Namespace, table: string, name: string) =>
    (JSON.parse(namespace.exec("nft", ["-j", "list", "counter", "inet", table, name]).stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((entry) => entry.counter)!.counter!
      .packets;
  const seen = (name: string) => counterOf(internet, "watch", name);

  /** The member's baseline table beside its ruleset, the watchers, and the worker's route. */
  function wireClosed(subject: Member, workerAddress: string): void {
    wire(subject, [workerAddress]);
    const path = join(work, `${subject.context.member.name}-traffic-baseline.nft`);
    writeFileSync(path, render("etc/natgw/baseline.nft.njk", baselineValues(subject.context)));
    must(gateway.exec("nft", ["-f", path]));
    must(internet.exec("nft", ["add table inet watch; delete table inet watch"]));
    must(internet.exec("nft", ["-f", "-"], WATCH));
    must(gateway.exec("nft", ["add table inet observe; delete table inet observe"]));
    must(gateway.exec("nft", ["-f", "-"], OBSERVE));
    must(worker.exec("ip", ["route", "replace", "default", "via", memberPrivateIp, "src", workerAddress]));
  }

  /** A TCP FIN, an RST and a SYN+FIN from the worker for a connection that does not exist. */
  function straySegments(port: number): void {
    for (const flags of [["-F"], ["-R"], ["-S", "-F"]]) {
      worker.exec("hping3", ["--count", "1", "--interval", "u10000", ...flags, "--destport", String(port), "--baseport", "40000", "192.0.2.1"]);
    }
  }

  /** A rule of natgw's forward chain removed by its counter, as the ruleset before drop_invalid had it. */
  function removeRule(chain: string, counter: string): void {
    const listing = JSON.parse(gateway.exec("nft", ["-j", "list", "chain", "inet", "natgw", chain]).stdout) as { nftables: { rule?: { handle: number; expr: unknown } }[] };
    const rule = listing.nftables.find((entry) => entry.rule && JSON.stringify(entry.rule.expr).includes(`"counter":"${counter}"`))!.rule!;
    must(gateway.exec("nft", ["delete", "rule", "inet", "natgw", chain, "handle", String(rule.handle)]));
  }

  describe.skipIf(missingTools("hping3"))("TCP segments that belong to no connection", () => {
    it("FIN, RST and SYN+FIN for an unknown connection are dropped as INVALID, and nothing with a private source reaches the internet", async () => {
      wireClosed(member("prod-egress-1"), "10.0.1.5");
      const dropped = packets("drop_invalid");
      const unnatted = packets("drop_unnatted");
      const leaked = seen("private_source");
      straySegments(80);
      await waitFor("three INVALID segments dropped", 10_000, () => packets("drop_invalid") >= dropped + 3);
      expect(packets("drop_unnatted"), "dropped before NAT was ever asked").toBe(unnatted);
      expect(seen("private_source")).toBe(leaked);
    });

    it("without the INVALID drop and the guard after NAT (the previous ruleset), the same segments leave with the worker's private address", async () => {
      wireClosed(member("prod-egress-1"), "10.0.1.5");
      removeRule("forward", "drop_invalid");
      removeRule("guard_unnatted", "drop_unnatted");
      const leaked = seen("private_source");
      straySegments(81);
      await waitFor("the stray segments to reach the internet from 10.0.1.5", 10_000, () => seen("private_source") >= leaked + 3);
    });

    it("drop_unnatted: without the INVALID drop, the guard after NAT still drops and counts what would leave with a private source", async () => {
      wireClosed(member("prod-egress-1"), "10.0.1.5");
      removeRule("forward", "drop_invalid");
      const unnatted = packets("drop_unnatted");
      const leaked = seen("private_source");
      straySegments(82);
      await waitFor("three segments dropped by the guard", 10_000, () => packets("drop_unnatted") >= unnatted + 3);
      expect(seen("private_source")).toBe(leaked);
    });

    it("a mid-stream ACK for an unknown connection is picked up, forwarded and SNATed: nothing requires a SYN", async () => {
      wireClosed(member("prod-egress-1"), "10.0.1.5");
      expect(gateway.exec("sysctl", ["-n", "net.netfilter.nf_conntrack_tcp_loose"]).stdout.trim(), "the kernel's default").toBe("1");
      const fromEgress = seen("from_egress");
      worker.exec("hping3", ["--count", "1", "-A", "--destport", "443", "--baseport", "41000", "192.0.2.1"]);
      await waitFor("the ACK to arrive from the egress IP", 10_000, () => seen("from_egress") > fromEgress);
      expect(seen("private_source")).toBe(0);
    });
  });

  it("drop_unnatted: the member's own traffic from its private address (in the network, not a source) never leaves the public interface", async () => {
    const subject = member("batch-egress-1");
    wireClosed(subject, "10.30.8.5");
    const privateIp = subject.context.member.privateIp;
    const unnatted = packets("drop_unnatted");
    // A local sender learns of a drop in postrouting: sendto fails with EPERM.
    const send = [
      "import socket,sys",
      "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 0))",
      "try: s.sendto(b'probe', ('192.0.2.1', 9999)); print('sent')",
      "except PermissionError: print('dropped')",
    ].join("\n");
    expect(gateway.exec("/usr/bin/python3", ["-c", send, privateIp]).stdout).toBe("dropped\n");
    expect(packets("drop_unnatted")).toBe(unnatted + 1);
    expect(seen("probe")).toBe(0);
    // The member's own address on the public interface still reaches the internet.
    expect(gateway.exec("/usr/bin/python3", ["-c", send, "192.0.2.2"]).stdout).toBe("sent\n");
    await waitFor("a datagram from the member's public address", 10_000, () => seen("probe") === 1);
  });

  describe("the baseline table alone", () => {
    const subject = () => member("prod-egress-1");
    let listener: ChildProcess | null = null;
    afterEach(() => {
      listener?.kill("SIGKILL");
      listener = null;
    });

    it("forwards nothing without the main table, though IPv4 forwarding is on", async () => {
      wireClosed(subject(), "10.0.1.5");
      // With both tables the worker's datagram arrives, SNATed.
      must(worker.exec("bash", ["-c", "echo probe >/dev/udp/192.0.2.1/9999"]));
      await waitFor("the datagram through both tables", 10_000, () => seen("probe") === 1);
      must(gateway.exec("nft", ["delete", "table", "inet", "natgw"]));
      expect(gateway.exec("sysctl", ["-n", "net.ipv4.ip_forward"]).stdout.trim()).toBe("1");
      const offered = counterOf(gateway, "observe", "from_worker");
      must(worker.exec("bash", ["-c", "echo probe >/dev/udp/192.0.2.1/9999"]));
      await waitFor("the member to see the worker's datagram", 10_000, () => counterOf(gateway, "observe", "from_worker") > offered);
      expect(seen("probe")).toBe(1);
      expect(seen("private_source")).toBe(0);
    });

    it("admits SSH only from sshAllowedCIDRs", async () => {
      wireClosed(subject(), "10.0.1.5");
      must(gateway.exec("nft", ["delete", "table", "inet", "natgw"]));
      expect(subject().context.gateway.security.sshAllowedCIDRs).toEqual(["198.51.100.7/32"]);
      for (const address of ["198.51.100.7", "198.51.100.8"]) must(internet.exec("ip", ["address", "replace", `${address}/32`, "dev", "wan0"]));
      const serve = "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 22)); s.listen(8); print('ready', flush=True)\nwhile True: s.accept()[0].close()";
      listener = spawn("ip", ["netns", "exec", gateway.name, "/usr/bin/python3", "-c", serve], { stdio: ["ignore", "pipe", "inherit"] });
      let output = "";
      listener.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      await waitFor("the SSH port's listener", 10_000, () => output.includes("ready"));
      const connect = (source: string) =>
        internet.exec("/usr/bin/python3", ["-c", "import socket,sys; socket.create_connection(('192.0.2.2', 22), timeout=2, source_address=(sys.argv[1], 0)).close()", source]).status;
      expect(connect("198.51.100.7"), "from sshAllowedCIDRs").toBe(0);
      expect(connect("198.51.100.8"), "from elsewhere").not.toBe(0);
      expect(connect("192.0.2.1"), "from the member's own link").not.toBe(0);
    });

    it("stays when the main table is deleted or reloaded", () => {
      wireClosed(subject(), "10.0.1.5");
      const tables = () => gateway.exec("nft", ["list", "tables"]).stdout.split("\n").filter((line) => line.includes("natgw")).sort();
      expect(tables()).toEqual(["table inet natgw", "table inet natgw_baseline"]);
      must(gateway.exec("nft", ["delete", "table", "inet", "natgw"]));
      expect(tables()).toEqual(["table inet natgw_baseline"]);
      wire(subject(), ["10.0.1.5"]);
      expect(tables()).toEqual(["table inet natgw", "table inet natgw_baseline"]);
    });
  });
});

describe("hostile values cannot reach the ruleset", () => {
  const subject = member("edge-egress-1");
  const hostile: [string, (context: MemberContext) => MemberContext][] = [
    ["gateway name", (c) => ({ ...c, gateway: { ...c.gateway, name: 'x"\n accept' } })],
    ["peer address", (c) => ({ ...c, peer: { ...c.peer!, privateIp: "10.0.0.1; accept" } })],
    ["source", (c) => ({ ...c, gateway: { ...c.gateway, sources: ["10.0.0.0/16 } accept"] } })],
    ["SSH CIDR", (c) => ({ ...c, gateway: { ...c.gateway, security: { ...c.gateway.security, sshAllowedCIDRs: ["0.0.0.0/0\n accept"] } } })],
    ["egress IP name", (c) => ({ ...c, gateway: { ...c.gateway, egressIPs: c.gateway.egressIPs.map((e) => ({ ...e, name: `${e.name} accept` })) } })],
    ["policy destination", (c) => ({ ...c, gateway: { ...c.gateway, policies: [{ ...c.gateway.policies[0]!, destinations: ["8.8.8.8/32 : accept"] }] } })],
  ];
  it("renders the untouched member", () => {
    expect(render("etc/natgw/ruleset.nft.njk", rulesetValues(subject.context))).toContain("table inet natgw {");
  });
  for (const [what, mutate] of hostile) {
    it(`refuses a hostile ${what}`, () => {
      expect(() => render("etc/natgw/ruleset.nft.njk", rulesetValues(mutate(subject.context)))).toThrow(/natgw bug: unsafe/);
    });
  }
  for (const [what, mutate] of hostile.filter(([name]) => name === "peer address" || name === "SSH CIDR")) {
    it(`refuses a hostile ${what} in the baseline`, () => {
      expect(render("etc/natgw/baseline.nft.njk", baselineValues(subject.context))).toContain("table inet natgw_baseline {");
      expect(() => render("etc/natgw/baseline.nft.njk", baselineValues(mutate(subject.context)))).toThrow(/natgw bug: unsafe/);
    });
  }
  it("refuses a runtime directory that would end the include's string", () => {
    expect(() => render("etc/natgw/ruleset.nft.njk", rulesetValues(subject.context, '/run/x"\ninclude "/etc'))).toThrow(/cannot be quoted/);
  });
});
