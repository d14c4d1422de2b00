import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../../src/compile.js";
import { emit } from "../../src/emit/emit.js";
import type { MemberContext } from "../../src/emit/hosts/context.js";
import { HOST_PATHS } from "../../src/emit/hosts/context.js";
import { RULESET_RUNTIME_PATH, RUNTIME_FILES, rulesetValues } from "../../src/emit/hosts/nftables.js";
import { render } from "../../src/emit/hosts/render.js";
import type { Model } from "../../src/resolve/model.js";
import { EXAMPLES } from "../support/artifacts.js";
import { Namespace, isRoot, missingTools, run, type RunResult } from "../support/tools.js";

/**
 * What the nftables tests share: every example's members and a spec of port
 * blocks and overlapping policies, each with its ruleset-runtime and config.json,
 * and a fake host (sysfs NICs, config.json, cloud.json) to run ruleset-runtime on.
 * The scratch directory is removed at exit by the test files that use it.
 */
export const work = mkdtempSync(join(tmpdir(), "natgw-nftables-"));

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

export interface Member {
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

export const MEMBERS = [...EXAMPLES.map((example) => `examples/${example}.yaml`), join(work, "mixed.yaml")].flatMap(membersOf);
export const member = (name: string) => MEMBERS.find((candidate) => candidate.context.member.name === name)!;

/** Documentation addresses for the floating IPs, as Terraform would write cloud.json. */
export function cloudJson({ context }: Member, network = "203.0.113"): Record<string, unknown> {
  const floatingIPs = Object.fromEntries(context.gateway.egressIPs.map((egressIP, index) => [egressIP.name, { id: 1000 + index, address: `${network}.${10 + index}` }]));
  return { networkId: 4711, servers: {}, floatingIPs };
}

export interface FakeHost {
  readonly directory: string;
  readonly runtimeDir: string;
  readonly environment: string[];
}

export const HETZNER_NICS = { enp7s0: "86:00:00:4b:1a:02", eth0: "96:00:00:4b:1a:01", lo: "00:00:00:00:00:00" };
let hosts = 0;

/** A member's /etc/natgw, /sys/class/net and /run/natgw in a temporary directory. */
export function fakeHost(subject: Member, options: { nics?: Record<string, string>; cloud?: unknown } = {}): FakeHost {
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
export function runtime(host: FakeHost, namespace?: Namespace): RunResult {
  const args = [...host.environment, join(host.directory, "ruleset-runtime")];
  return namespace ? namespace.exec("env", args) : run("env", args);
}

export const toolsMissing = missingTools("bash", "jq", "ip");
export const namespaceMissing = missingTools("nft", "ip", "bash", "jq") ?? (isRoot() ? undefined : "network namespaces need root");

/** A command that must succeed without a word on stderr (the benchmark uses these helpers too, outside vitest). */
export function must(result: RunResult): void {
  if (result.status !== 0 || result.stderr !== "") throw new Error(`command failed with status ${result.status}: ${result.stderr}`);
}

/**
 * A worker, a member and "the internet", each in its own namespace, wired as on
 * Hetzner: worker -- enp7s0 [member] eth0 -- internet. The floating IPs are
 * 192.0.2.10 onwards on the member's eth0; conntrack on the member shows what each
 * flow was translated to.
 */
export class TrafficNamespaces {
  readonly worker = new Namespace();
  readonly gateway = new Namespace();
  readonly internet = new Namespace();
  memberPrivateIp = "";

  constructor() {
    const { worker, gateway, internet } = this;
    for (const namespace of [worker, gateway, internet]) must(namespace.exec("ip", ["link", "del", "enp7s0"]));
    must(gateway.exec("ip", ["link", "add", "enp7s0", "type", "veth", "peer", "name", "lan0", "netns", worker.name]));
    must(gateway.exec("ip", ["link", "add", "eth0", "type", "veth", "peer", "name", "wan0", "netns", internet.name]));
    for (const [namespace, link] of [[gateway, "enp7s0"], [gateway, "eth0"], [worker, "lan0"], [internet, "wan0"]] as const) must(namespace.exec("ip", ["link", "set", link, "up"]));
    must(internet.exec("ip", ["address", "add", "192.0.2.1/24", "dev", "wan0"]));
    must(gateway.exec("ip", ["address", "add", "192.0.2.2/24", "dev", "eth0"]));
    must(gateway.exec("ip", ["route", "add", "default", "via", "192.0.2.1"]));
    must(gateway.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"]));
  }

  remove(): void {
    for (const namespace of [this.worker, this.gateway, this.internet]) namespace.remove();
  }

  /** Loads the member's ruleset and gives the worker its source addresses; returns the member's fake host. */
  wire(subject: Member, workerAddresses: string[]): FakeHost {
    const { worker, gateway } = this;
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
    this.memberPrivateIp = self.privateIp;
    return host;
  }

  /** Routes the worker's traffic to the member from one of its addresses. */
  from(address: string): void {
    must(this.worker.exec("ip", ["route", "replace", "default", "via", this.memberPrivateIp, "src", address]));
  }

  /** Sends one UDP datagram from a worker address; returns what the member translated it to. */
  translated(from: string, to: string): { address: string; port: number } | null {
    this.from(from);
    must(this.worker.exec("bash", ["-c", `echo probe >/dev/udp/${to}/53`]));
    const entry = this.gateway.exec("conntrack", ["-L", "-p", "udp", "--orig-src", from, "--orig-dst", to]).stdout;
    const reply = / src=\S+ dst=\S+ sport=\d+ dport=\d+ .*?src=\S+ dst=(\S+) sport=\d+ dport=(\d+)/.exec(entry);
    return reply ? { address: reply[1]!, port: Number(reply[2]) } : null;
  }
}
