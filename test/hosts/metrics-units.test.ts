import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { emit } from "../../src/emit/emit.js";
import { buildExample, EXAMPLES, hostFiles } from "../support/artifacts.js";
import { gateway, compileText } from "../support/spec.js";
import { isRoot, missingTools, Namespace, run } from "../support/tools.js";
import { runScript, scratch, scratchHost, writeExecutable } from "./metrics-host.js";

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("metrics files", () => {
  it("exist only when metrics are enabled", () => {
    const disabled = compileText(gateway({ spec: "  metrics: { enabled: false }\n" }));
    const paths = emit(disabled.model!).artifacts.map((artifact) => artifact.path);
    expect(paths.filter((path) => /metrics|node-exporter/.test(path))).toEqual([]);
    expect(buildExample("ha").filter((artifact) => /metrics|node-exporter/.test(artifact.path)).length).toBe(10);
  });

  it("bind node-exporter to the member's private IP and metrics port only", () => {
    const custom = emit(compileText(gateway({ spec: "  metrics: { enabled: true, port: 9200 }\n" })).model!).artifacts;
    const builds = [...EXAMPLES.map((example) => buildExample(example)), custom];
    for (const artifacts of builds) {
      for (const file of artifacts.filter((artifact) => artifact.path.endsWith("/etc/default/prometheus-node-exporter"))) {
        const config = JSON.parse(artifacts.find((artifact) => artifact.path === `hosts/${file.member}/etc/natgw/config.json`)!.content);
        const args = /^ARGS="([^"]*)"$/m.exec(file.content)![1]!.split(" ");
        expect(args.filter((arg) => arg.startsWith("--web.listen-address="))).toEqual([
          `--web.listen-address=${config.member.privateIp}:${config.metrics.port}`,
        ]);
        expect(args).toEqual(expect.arrayContaining(["--collector.conntrack", "--collector.netdev", "--collector.textfile"]));
        expect(args).toContain("--collector.textfile.directory=/var/lib/prometheus/node-exporter");
      }
    }
    expect(custom.find((artifact) => artifact.path.endsWith("/etc/default/prometheus-node-exporter"))!.content).toMatch(
      /--web\.listen-address=10\.0\.1\.[0-9]+:9200 /,
    );
  });
});

/** The member's files under a scratch root, beside a copy of the packaged units. */
function scratchRoot(name: string, member: string): string {
  const root = join(scratch, name);
  const artifacts = EXAMPLES.flatMap((example) => buildExample(example)).filter((artifact) => artifact.member === member);
  for (const artifact of artifacts) {
    const path = join(root, artifact.path.slice(`hosts/${member}`.length));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, artifact.content);
    chmodSync(path, Number.parseInt(artifact.fileMode, 8));
  }
  mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
  run("cp", ["-a", "/usr/lib/systemd/system", join(root, "usr/lib/systemd/")]);
  // verify checks that every command exists; the packaged binaries are not under
  // test, so empty executables stand in for them (Debian 12 merges /bin into /usr/bin).
  run("ln", ["-s", "usr/bin", join(root, "bin")]);
  for (const command of ["usr/bin/prometheus-node-exporter", "usr/bin/kill"]) writeExecutable(join(root, command), "#!/bin/sh\n");
  return root;
}

describe.skipIf(missingTools("systemd-analyze"))("metrics units", () => {
  for (const member of ["dev-egress-1", "prod-egress-1"]) {
    it(`${member}: pass systemd-analyze verify, with the node-exporter drop-in`, () => {
      const root = scratchRoot(`verify-${member}`, member);
      const result = run("systemd-analyze", [
        "verify",
        `--root=${root}`,
        "natgw-metrics.service",
        "natgw-metrics.timer",
        "prometheus-node-exporter.service",
      ]);
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    });
  }

  it("refresh every 15 seconds, after boot too", () => {
    for (const timer of hostFiles("/etc/systemd/system/natgw-metrics.timer")) {
      expect(timer.content).toMatch(/^OnBootSec=15s$/m);
      expect(timer.content).toMatch(/^OnUnitActiveSec=15s$/m);
      expect(timer.content).toMatch(/^AccuracySec=1s$/m);
      expect(timer.content).toMatch(/^WantedBy=timers\.target$/m);
    }
  });
});

describe.skipIf(missingTools("prometheus-node-exporter", "curl", "ip") ?? (isRoot() ? undefined : "needs root for a network namespace"))(
  "node-exporter with the rendered arguments",
  () => {
    it("serves the natgw metrics on the private IP and nowhere else", async () => {
      const artifacts = buildExample("ha");
      const defaults = artifacts.find((a) => a.path === "hosts/prod-egress-1/etc/default/prometheus-node-exporter")!;
      const script = artifacts.find((a) => a.path === "hosts/prod-egress-1/usr/local/lib/natgw/metrics")!;
      const host = scratchHost("served", { rulesetLoaded: true, vrrpState: "BACKUP\n" });
      expect(runScript(script, host.env, host.root).status).toBe(0);
      const args = /^ARGS="([^"]*)"$/m
        .exec(defaults.content)![1]!
        .split(" ")
        .map((arg) => arg.replace(/^(--collector\.textfile\.directory=).*$/, `$1${host.textfile}`));
      const namespace = new Namespace();
      let exporter: ReturnType<typeof spawn> | undefined;
      try {
        // The address first: node-exporter exits when it cannot bind the listen address.
        expect(namespace.exec("ip", ["address", "add", "10.0.1.2/24", "dev", "enp7s0"]).status).toBe(0);
        exporter = spawn("ip", ["netns", "exec", namespace.name, "prometheus-node-exporter", ...args], { stdio: "ignore" });
        const scrape = namespace.exec("curl", [
          "--silent",
          "--fail",
          "--retry",
          "30",
          "--retry-delay",
          "1",
          "--retry-connrefused",
          "http://10.0.1.2:9100/metrics",
        ]);
        expect(scrape.status, scrape.stderr).toBe(0);
        expect(scrape.stdout).toMatch(/^node_textfile_scrape_error 0$/m);
        expect(scrape.stdout).toMatch(/^natgw_egress_packets_total 42$/m);
        expect(scrape.stdout).toMatch(/^natgw_vrrp_state\{state="BACKUP"\} 1$/m);
        expect(scrape.stdout).toMatch(/^node_nf_conntrack_entries_limit /m);
        expect(scrape.stdout).toMatch(/^node_network_receive_bytes_total\{device="enp7s0"\} /m);
        // curl exit 7: nothing listens on loopback.
        expect(namespace.exec("curl", ["--silent", "http://127.0.0.1:9100/metrics"]).status).toBe(7);
      } finally {
        exporter?.kill();
        namespace.remove();
      }
    });
  },
);
