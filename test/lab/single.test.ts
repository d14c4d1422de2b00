import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTERNET, Lab, labSkipReason, type Member, type Host, type RunResult } from "./lab.js";
import { stopAndCheck } from "./suite.js";
import { tcpEcho, udpEcho } from "./traffic.js";

/**
 * examples/single.yaml in the lab: one member, first boot before Terraform's push
 * (fail closed), then egress, the security defaults, what natgw-ctl reports and
 * the metrics. Its worker is 10.1.0.50; the member's floating IP is 192.0.2.10.
 */
const skip = labSkipReason();

describe.skipIf(skip)("lab: examples/single.yaml", () => {
  let lab: Lab;
  let member: Member;
  let worker: Host;
  let boot: ReturnType<Lab["boot"]>;
  let push: RunResult;

  beforeAll(async () => {
    lab = await Lab.create({ specs: ["examples/single.yaml"], workers: { worker: "10.1.0.50" } });
    member = lab.members[0]!;
    worker = lab.worker("worker");
    boot = lab.boot(member);
  });

  afterAll(() => stopAndCheck(lab));

  const forwarding = () => member.must(["sysctl", "-n", "net.ipv4.ip_forward"]).trim();

  it("fails closed at first boot: until Terraform's push the ruleset does not load and forwarding stays off", () => {
    const status = Object.fromEntries(boot.map((step) => [step.command.join(" "), step.status]));
    expect(status["systemctl enable --now --no-block natgw-ruleset.service"]).not.toBe(0);
    expect(status["systemctl enable --now --no-block natgw-forwarding.service"]).not.toBe(0);
    expect(boot.map((step) => step.stderr).join("")).toContain("cannot read /etc/natgw/config.json: Terraform pushes it after apply");
    expect(member.exec(["nft", "list", "table", "inet", "natgw"]).status).not.toBe(0);
    expect(forwarding()).toBe("0");

    const before = lab.internetCounters();
    expect(tcpEcho(worker, INTERNET.echo, 443, 1)).toBeNull();
    expect(udpEcho(worker, INTERNET.echo, 53, 1)).toBeNull();
    expect(lab.internetCounters()).toEqual(before);
  });

  it("the observation has teeth: forwarding without the ruleset would show the worker's private address", () => {
    const before = lab.internetCounters();
    member.must(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    try {
      // The reply cannot come back to 10.1.0.50, but the datagram reaches the internet.
      udpEcho(worker, INTERNET.echo, 53, 1);
      expect(lab.internetCounters().privateSource).toBeGreaterThan(before.privateSource);
    } finally {
      member.must(["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    }
    // Counted from here on: the suite's end checks that no private address got out again.
    lab.internet.must(["nft", "flush", "set", "inet", "lab", "private_seen"]);
  });

  it("Terraform's push brings the member up: reconcile loads the ruleset, forwards and takes the floating IP", async () => {
    push = lab.push(member);
    expect(push.stderr + push.stdout).toMatch(/^ok = true$/m);
    expect(push.status).toBe(0);
    expect(forwarding()).toBe("1");
    expect(await lab.settled()).toBe(member);
  });

  it("a worker's egress is seen from the internet as the first egress IP, over TCP and UDP", () => {
    expect(tcpEcho(worker, INTERNET.echo, 443)?.address).toBe("192.0.2.10");
    expect(udpEcho(worker, INTERNET.echo, 53)?.address).toBe("192.0.2.10");
    expect(tcpEcho(worker, INTERNET.destinations[0], 443)?.address).toBe("192.0.2.10");
  });

  it("forwarded traffic to the metadata service is dropped and counted; the member's own request works", () => {
    const dropped = member.counter("drop_metadata");
    expect(tcpEcho(worker, "169.254.169.254", 80, 1)).toBeNull();
    expect(member.counter("drop_metadata")).toBeGreaterThan(dropped);
    expect(member.must(["curl", "--silent", "--fail", "--max-time", "2", "http://169.254.169.254/hetzner/v1/metadata/instance-id"])).toBe(String(member.serverId));
    const networks = member.must(["curl", "--silent", "--fail", "--max-time", "2", "http://169.254.169.254/hetzner/v1/metadata/private-networks"]);
    expect(networks).toContain(`- ip: ${member.config.member.privateIp}\n`);
  });

  it("TCP 25 is dropped and counted (blockSMTP25 defaults to true), and never reaches the internet", () => {
    const dropped = member.counter("drop_smtp");
    const before = lab.internetCounters().smtp;
    expect(tcpEcho(worker, INTERNET.echo, 25, 1)).toBeNull();
    expect(member.counter("drop_smtp")).toBeGreaterThan(dropped);
    expect(lab.internetCounters().smtp).toBe(before);
  });

  it("natgw-ctl status, diag and health report the real state", () => {
    const status = JSON.parse(member.must(["/usr/local/sbin/natgw-ctl", "status", "--json"], { env: { NATGW_PROBE_URL: `http://${INTERNET.echo}/` } }));
    expect(status).toMatchObject({
      gateway: "dev-egress",
      mode: "single",
      member: { name: member.name, role: "active" },
      floatingIPs: [{ name: "primary", address: "192.0.2.10", server: member.serverId, owner: member.name }],
      routes: [{ destination: "0.0.0.0/0", gateway: member.config.member.privateIp, owner: member.name }],
      health: { ok: true },
      connectivity: { path: "snat", ok: true, egressIp: "192.0.2.10" },
    });
    const diag = member.json<Record<string, unknown>>("diag");
    expect(diag).toMatchObject({ privateInterface: "enp7s0", publicInterface: "eth0", forwarding: true, ruleset: { loaded: true } });
    const counters = diag.counters as Record<string, { packets: number }>;
    expect(counters.egress!.packets).toBeGreaterThan(0);
    expect(counters.drop_metadata!.packets).toBe(member.counter("drop_metadata"));
    const health = member.ctl("health");
    expect(health.stdout.trim()).toBe("healthy");
    expect(health.status).toBe(0);
  });

  it("the metrics textfile shows the metadata and SMTP drops as the ruleset counted them", () => {
    member.must(["systemctl", "start", "natgw-metrics.service"]);
    const metrics = member.must(["cat", "/var/lib/prometheus/node-exporter/natgw.prom"]);
    const sample = (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\d+)$`, "m").exec(metrics)?.[1]);
    expect(sample('natgw_dropped_packets_total{reason="metadata"}')).toBe(member.counter("drop_metadata"));
    expect(sample('natgw_dropped_packets_total{reason="smtp"}')).toBe(member.counter("drop_smtp"));
    expect(sample('natgw_dropped_packets_total{reason="metadata"}')).toBeGreaterThan(0);
    expect(sample('natgw_dropped_packets_total{reason="smtp"}')).toBeGreaterThan(0);
    expect(sample("natgw_forwarding_enabled")).toBe(1);
  });
});

describe.skipIf(skip)("lab: examples/single.yaml with blockSMTP25: false", () => {
  const directory = mkdtempSync(join(tmpdir(), "natgw-lab-spec-"));
  let lab: Lab;

  beforeAll(async () => {
    const spec = readFileSync("examples/single.yaml", "utf8").replace("  security:\n", "  security:\n    blockSMTP25: false\n");
    expect(spec).toContain("blockSMTP25: false");
    writeFileSync(join(directory, "single.yaml"), spec);
    lab = await Lab.create({ specs: [join(directory, "single.yaml")], workers: { worker: "10.1.0.50" } });
    await lab.deploy();
  });

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
    stopAndCheck(lab);
  });

  it("TCP 25 passes, SNATed like any other egress", () => {
    const before = lab.internetCounters().smtp;
    expect(tcpEcho(lab.worker("worker"), INTERNET.echo, 25)?.address).toBe("192.0.2.10");
    expect(lab.internetCounters().smtp).toBeGreaterThan(before);
    expect(lab.members[0]!.counter("drop_smtp")).toBe(0);
  });
});
