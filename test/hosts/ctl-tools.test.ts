import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildExample } from "../support/artifacts.js";
import { isRoot, missingTools, Namespace } from "../support/tools.js";
import { artifactOf, FAKE_COMMANDS, makeHost, prodCloud, type Host } from "./ctl-host.js";

/**
 * health and diag with the real ip, nft and sysctl, in a throwaway namespace whose
 * veth pair carries Hetzner's MAC prefixes: what the command doubles above answer must be what
 * the real tools print.
 */
const namespaceMissing = missingTools("ip", "nft", "sysctl", "jq") ?? (isRoot() ? undefined : "needs root for network namespaces");

describe.skipIf(namespaceMissing)("natgw-ctl health and diag with the real tools", () => {
  let namespace: Namespace;
  let host: Host;

  beforeAll(() => {
    namespace = new Namespace(["ens10", "eth0"]);
    host = makeHost("ha", "prod-egress-2", "http://127.0.0.1:9/v1", prodCloud);
    // The namespace's own /proc/sys/net and /sys/class/net: forwarding and NICs as the kernel has them.
    delete host.env.NATGW_PROC_DIR;
    delete host.env.NATGW_SYS_CLASS_NET;
    // Only the fake logger stays on PATH: keepalived's notifications are not for this host's journal.
    host.env.PATH = `${join(host.directory, "bin-logger")}:/usr/sbin:/usr/bin:/sbin:/bin`;
    mkdirSync(join(host.directory, "bin-logger"));
    writeFileSync(join(host.directory, "bin-logger", "logger"), `#!/usr/bin/env bash\n${FAKE_COMMANDS.logger}\n`, { mode: 0o755 });
    for (const [name, mac] of [["ens10", "86:00:00:00:00:03"], ["eth0", "96:00:00:00:00:03"]] as const) {
      expect(namespace.exec("ip", ["link", "set", name, "address", mac]).status).toBe(0);
    }
    expect(namespace.exec("ip", ["address", "add", "10.0.1.3/32", "dev", "ens10"]).status).toBe(0);
    // As Hetzner's DHCP sets them: the network's range via its router, on the private NIC.
    expect(namespace.exec("ip", ["route", "add", "10.0.0.1", "dev", "ens10"]).status).toBe(0);
    expect(namespace.exec("ip", ["route", "add", "10.0.0.0/16", "via", "10.0.0.1", "dev", "ens10"]).status).toBe(0);
    expect(namespace.exec("nft", ["-f", "-"], artifactOf(buildExample("ha"), "prod-egress-2", "/etc/natgw/baseline.nft").content).status).toBe(0);
    const ruleset = `table inet natgw {
  counter egress {}
  counter drop_metadata {}
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "eth0" ip saddr 10.0.0.0/16 counter name "egress" snat ip to 203.0.113.10
  }
}
`;
    expect(namespace.exec("nft", ["-f", "-"], ruleset).status).toBe(0);
    expect(namespace.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1"]).status).toBe(0);
  });

  afterAll(() => {
    namespace?.remove();
    if (host) rmSync(host.directory, { recursive: true, force: true });
  });

  /** Runs natgw-ctl inside the namespace with the host's environment. */
  function ctlInNamespace(args: string[]) {
    const environment = Object.entries(host.env).map(([key, value]) => `${key}=${value}`);
    return namespace.exec("env", ["-i", ...environment, "bash", host.script, ...args]);
  }

  it("health passes with the table loaded, forwarding on and both NICs up, then fails without the table", () => {
    const healthy = ctlInNamespace(["health", "--json"]);
    expect(healthy.status, healthy.stdout + healthy.stderr).toBe(0);
    expect(JSON.parse(healthy.stdout)).toMatchObject({
      ok: true,
      checks: [
        { name: "ruleset" },
        { name: "baseline" },
        { name: "privateRoutes", detail: "route to 10.0.0.0/16 on the private interface" },
        { name: "forwarding" },
        { name: "privateInterface", detail: "private interface ens10 up" },
        { name: "publicInterface", detail: "public interface eth0 up" },
        { name: "handover" },
      ],
    });
    expect(namespace.exec("nft", ["delete", "table", "inet", "natgw"]).status).toBe(0);
    const unhealthy = ctlInNamespace(["health"]);
    expect(unhealthy.status).toBe(1);
    expect(unhealthy.stdout).toMatch(/^unhealthy: ruleset expects table inet natgw loaded$/m);
    expect(namespace.exec("nft", ["-f", "-"], "table inet natgw {\n  counter egress {}\n}\n").status).toBe(0);
  });

  /** The names of the checks that fail. */
  function failing(): string[] {
    const result = ctlInNamespace(["health", "--json"]);
    const report = JSON.parse(result.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean }> };
    expect(result.status, result.stderr).toBe(report.ok ? 0 : 1);
    return report.checks.filter((check) => !check.ok).map((check) => check.name);
  }

  it("health fails on privateRoutes without the route to the network's range on the private interface", () => {
    expect(failing()).toEqual([]);
    expect(namespace.exec("ip", ["route", "del", "10.0.0.0/16"]).status).toBe(0);
    try {
      expect(failing()).toEqual(["privateRoutes"]);
      // A route to the range on another interface does not count.
      expect(namespace.exec("ip", ["route", "add", "10.0.0.0/16", "dev", "eth0"]).status).toBe(0);
      expect(failing()).toEqual(["privateRoutes"]);
      expect(namespace.exec("ip", ["route", "del", "10.0.0.0/16", "dev", "eth0"]).status).toBe(0);
    } finally {
      namespace.exec("ip", ["route", "add", "10.0.0.0/16", "via", "10.0.0.1", "dev", "ens10"]);
    }
    expect(failing()).toEqual([]);
  });

  it("health fails on baseline without table inet natgw_baseline", () => {
    expect(namespace.exec("nft", ["delete", "table", "inet", "natgw_baseline"]).status).toBe(0);
    try {
      expect(failing()).toEqual(["baseline"]);
      expect(ctlInNamespace(["health"]).stdout).toMatch(/^unhealthy: baseline expects table inet natgw_baseline loaded$/m);
    } finally {
      expect(namespace.exec("nft", ["-f", "-"], artifactOf(buildExample("ha"), "prod-egress-2", "/etc/natgw/baseline.nft").content).status).toBe(0);
    }
    expect(failing()).toEqual([]);
  });

  it("diag reads interfaces, the NAT rules and counters as the real tools print them", () => {
    const result = ctlInNamespace(["diag", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const diag = JSON.parse(result.stdout) as { interfaces: unknown[] } & Record<string, unknown>;
    expect(diag).toMatchObject({ privateInterface: "ens10", publicInterface: "eth0", forwarding: true, ruleset: { loaded: true }, counters: { egress: { packets: 0, bytes: 0 } } });
    expect(diag.interfaces).toContainEqual(expect.objectContaining({ name: "ens10", mac: "86:00:00:00:00:03", addresses: expect.arrayContaining(["10.0.1.3/32"]) }));
  });
});

