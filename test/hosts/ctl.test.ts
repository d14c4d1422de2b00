import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildExample, EXAMPLE_MEMBERS, hostFiles } from "../support/artifacts.js";
import { artifactOf, ctl, CTL, FLOATING_IP_ID, prodEgress1BeforeFailover, startKeepalived, toolsMissing } from "./ctl-host.js";

const scripts = hostFiles(CTL);

describe("natgw-ctl as shipped", () => {
  it("goes to every member, executable", () => {
    expect(scripts.map((file) => file.member)).toEqual(EXAMPLE_MEMBERS);
    for (const file of scripts) expect(file).toMatchObject({ role: "script", fileMode: "0755" });
  });
});

describe.skipIf(toolsMissing)("natgw-ctl's own commands on an HA member, beside a fake Hetzner Cloud API", () => {
  const at = prodEgress1BeforeFailover();

  it("health never calls the API and fails when forwarding is off", async () => {
    const { api, host } = at;
    const healthy = await ctl(host, ["health"]);
    expect(healthy.status, healthy.stdout).toBe(0);
    expect(healthy.stdout.trim()).toBe("healthy");
    writeFileSync(join(host.fake, "ip_forward"), "0\n");
    const unhealthy = await ctl(host, ["health", "--json"]);
    expect(unhealthy.status).toBe(1);
    const report = JSON.parse(unhealthy.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean }> };
    expect(report.ok).toBe(false);
    expect(report.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(["forwarding"]);
    rmSync(join(host.fake, "ruleset-loaded"));
    expect((await ctl(host, ["health"])).stdout).toMatch(/unhealthy: ruleset expects table inet natgw loaded/);
    expect(api.requests).toHaveLength(0);
    // It runs every second: it asks nft for the tables' chains, never for a table's contents or its sets.
    const nftCalls = readFileSync(join(host.fake, "calls"), "utf8").split("\n").filter((line) => line.startsWith("nft "));
    expect(new Set(nftCalls)).toEqual(new Set(["nft list chains inet"]));
  });

  it("notify BACKUP records the state with keepalived's pid and start time, and logs the change", async () => {
    const { api, host } = at;
    const keepalived = startKeepalived(host);
    try {
      expect(await keepalived.notify("BACKUP")).toBe("notified BACKUP 0");
      // Field 22 of /proc/PID/stat: the process's start time in clock ticks since boot.
      const start = readFileSync(`/proc/${keepalived.pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[19];
      expect(readFileSync(join(host.stateDir, "vrrp-state"), "utf8")).toBe(`BACKUP ${keepalived.pid} ${start}\n`);
      expect(readFileSync(join(host.fake, "calls"), "utf8")).toMatch(/logger -t natgw-ctl -- prod-egress-1 is now BACKUP/);
      const refused = await ctl(host, ["notify", "MASTER\nx"]);
      expect(refused.status).not.toBe(0);
      expect(readFileSync(join(host.stateDir, "vrrp-state"), "utf8")).toBe(`BACKUP ${keepalived.pid} ${start}\n`);
      expect(api.requests).toHaveLength(0);
    } finally {
      await keepalived.stop();
    }
  });

  it("role is the recorded state while the keepalived that recorded it runs, unknown once it is gone", async () => {
    const { api, host } = at;
    const keepalived = startKeepalived(host);
    try {
      expect((await ctl(host, ["role"])).stdout, "nothing recorded yet").toBe("unknown\n");
      expect(await keepalived.notify("MASTER")).toBe("notified MASTER 0");
      const role = await ctl(host, ["role"]);
      expect(role.status, role.stderr).toBe(0);
      expect(role.stdout).toBe("MASTER\n");
      expect(JSON.parse((await ctl(host, ["status", "--json"])).stdout)).toMatchObject({ member: { role: "MASTER" } });
    } finally {
      await keepalived.stop();
    }
    // A crashed keepalived's last state is stale: the restarted one starts as BACKUP.
    expect((await ctl(host, ["role"])).stdout).toBe("unknown\n");
    expect(JSON.parse((await ctl(host, ["status", "--json"])).stdout)).toMatchObject({ member: { role: "unknown" } });
    expect(api.requests.filter((request) => request.method !== "GET"), "status only reads the API").toEqual([]);
  });

  it("role is unknown when the recorded pid now belongs to another process, or when no keepalived reported the state", async () => {
    const { host } = at;
    const keepalived = startKeepalived(host);
    try {
      expect(await keepalived.notify("MASTER")).toBe("notified MASTER 0");
      const [state, pid, start] = readFileSync(join(host.stateDir, "vrrp-state"), "utf8").trim().split(" ");
      // The same pid, another start time: the kernel gave the pid to a new process.
      writeFileSync(join(host.stateDir, "vrrp-state"), `${state} ${pid} ${Number(start) - 1}\n`);
      expect((await ctl(host, ["role"])).stdout).toBe("unknown\n");
      // A state recorded while no keepalived ran never counts.
      writeFileSync(join(host.stateDir, "vrrp-state"), "MASTER\n");
      expect((await ctl(host, ["role"])).stdout).toBe("unknown\n");
      // Nor one reported by anything but keepalived: the process that ran notify is no keepalived.
      const direct = await ctl(host, ["notify", "MASTER"]);
      expect(direct.status, direct.stderr).toBe(0);
      expect(readFileSync(join(host.stateDir, "vrrp-state"), "utf8")).toBe("MASTER \n");
      expect((await ctl(host, ["role"])).stdout).toBe("unknown\n");
    } finally {
      await keepalived.stop();
    }
  });

  it("reconcile's sysctl step names each key of the sysctl file the kernel does not have, and stays ok", async () => {
    const { api, host } = at;
    const sysctlFile = join(host.directory, "90-natgw.conf");
    writeFileSync(sysctlFile, artifactOf(buildExample("ha"), "prod-egress-1", "/etc/sysctl.d/90-natgw.conf").content);
    const settings = readFileSync(sysctlFile, "utf8").split("\n").filter((line) => /^[a-z]/.test(line)).map((line) => line.split(" = ") as [string, string]);
    expect(settings.map(([key]) => key)).toContain("net.netfilter.nf_conntrack_max");
    /** /proc/sys as the kernel shows it: several numbers separated by tabs. */
    const fabricate = (overrides: Record<string, string>) => {
      for (const [key, value] of settings) {
        const path = join(host.directory, "proc", "sys", ...key.split("."));
        mkdirSync(join(path, ".."), { recursive: true });
        writeFileSync(path, `${(overrides[key] ?? value).replace(/ /g, "\t")}\n`);
      }
    };
    host.env.NATGW_PROC_DIR = join(host.directory, "proc");
    host.env.NATGW_SYSCTL_FILE = sysctlFile;
    fabricate({ "net.netfilter.nf_conntrack_max": "65536" });
    const step = async () => {
      const result = await ctl(host, ["reconcile", "--json"]);
      expect(result.status, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { steps: Array<{ name: string; ok: boolean; detail: string }> }).steps[0];
    };
    expect(await step()).toEqual({ name: "sysctl", ok: true, detail: `${sysctlFile} applied, but not in effect: net.netfilter.nf_conntrack_max is 65536, not 2097152` });
    expect(readFileSync(join(host.fake, "calls"), "utf8")).toContain("logger -t natgw-ctl -- kernel settings not in effect on prod-egress-1: net.netfilter.nf_conntrack_max is 65536, not 2097152\n");
    fabricate({});
    expect(await step()).toEqual({ name: "sysctl", ok: true, detail: `${sysctlFile} in effect` });
    expect(api.requests, "the role is unknown here: the API is left alone").toHaveLength(0);
  });

  it("reconcile enables and restarts the NAT log when natLogging is on, and stops it when it is off and its unit is there", async () => {
    const { host } = at;
    const configFile = join(host.directory, "config.json");
    const config = JSON.parse(readFileSync(configFile, "utf8")) as { natLogging: { enabled: boolean; unit: string; unitFile: string } };
    expect(config.natLogging).toMatchObject({ enabled: false, unit: "natgw-natlog.service" });
    const unitFile = join(host.directory, "natgw-natlog.service");
    const reconcile = async (natLogging: Partial<typeof config.natLogging>) => {
      writeFileSync(configFile, JSON.stringify({ ...config, natLogging: { ...config.natLogging, unitFile, ...natLogging } }));
      writeFileSync(join(host.fake, "calls"), "");
      const result = await ctl(host, ["reconcile", "--json"]);
      const steps = (JSON.parse(result.stdout) as { steps: Array<{ name: string; ok: boolean; detail: string }> }).steps;
      const calls = readFileSync(join(host.fake, "calls"), "utf8").split("\n").filter((line) => line.includes("natgw-natlog"));
      return { step: steps.find((candidate) => candidate.name === "natlog"), calls };
    };
    expect(await reconcile({ enabled: false }), "off, and never installed: nothing to do").toEqual({ step: undefined, calls: [] });
    expect(await reconcile({ enabled: true })).toEqual({
      step: { name: "natlog", ok: true, detail: "natgw-natlog.service running (NAT log to the journal)" },
      calls: ["systemctl enable natgw-natlog.service", "systemctl restart natgw-natlog.service"],
    });
    writeFileSync(unitFile, "[Service]\n");
    expect(await reconcile({ enabled: false })).toEqual({
      step: { name: "natlog", ok: true, detail: "natgw-natlog.service stopped (natLogging is off)" },
      calls: ["systemctl disable --now natgw-natlog.service"],
    });
    writeFileSync(configFile, JSON.stringify(config));
  });

  it("failover takes this member out through its health check until --clear", async () => {
    const { host } = at;
    await ctl(host, ["notify", "BACKUP"]);
    const handedOver = await ctl(host, ["failover", "--json"]);
    expect(handedOver.status, handedOver.stderr).toBe(0);
    expect(JSON.parse(handedOver.stdout)).toMatchObject({ member: "prod-egress-1", handedOver: true, explanation: expect.stringMatching(/prod-egress-2 becomes MASTER/) });
    expect((await ctl(host, ["health"])).status).toBe(1);
    expect((await ctl(host, ["failover", "--clear"])).status).toBe(0);
    expect((await ctl(host, ["health"])).status).toBe(0);
  });

  it("sync reports conntrackd's figures; without its answer the member is degraded, not unhealthy, and status and diag say so", async () => {
    const { host } = at;
    const running = await ctl(host, ["sync", "--json"]);
    expect(running.status, running.stderr).toBe(0);
    expect(JSON.parse(running.stdout)).toEqual({
      running: true,
      connections: 1102,
      fromPeer: { created: 1095, updated: 40, destroyed: 90, failed: 3 },
      messages: { sent: 812, received: 407, sendErrors: 2, receiveErrors: 0, lost: 3, malformed: 0 },
    });
    expect(readFileSync(join(host.fake, "calls"), "utf8")).toContain("conntrackd -C /run/natgw/conntrackd.conf -s");
    writeFileSync(join(host.fake, "conntrackd-stopped"), "");
    const stopped = await ctl(host, ["sync"]);
    expect(stopped.status).toBe(1);
    expect(stopped.stdout).toMatch(/^running = false\ndetail = degraded: conntrackd does not answer/);
    expect((await ctl(host, ["health"])).stdout, "sync is not health").toBe("healthy\n");
    const keepalived = startKeepalived(host);
    await keepalived.notify("BACKUP");
    const status = await ctl(host, ["status", "--json"]).finally(() => keepalived.stop());
    expect(JSON.parse(status.stdout)).toMatchObject({ health: { ok: true }, sync: { running: false, detail: expect.stringMatching(/^degraded: /) } });
    expect(JSON.parse((await ctl(host, ["diag", "--json"])).stdout)).toMatchObject({ sync: { running: false } });
  });

  it("status --json reports role, owners as the API shows them, health and security defaults", async () => {
    const { api, host } = at;
    const keepalived = startKeepalived(host);
    await keepalived.notify("MASTER");
    expect((await ctl(host, ["takeover"])).status).toBe(0);
    const requestsBefore = api.requests.length;
    const result = await ctl(host, ["status", "--json"]).finally(() => keepalived.stop());
    expect(result.status, result.stderr).toBe(0);
    expect(api.requests.slice(requestsBefore).map((request) => request.method)).toEqual(["GET", "GET"]);
    const status = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      gateway: "prod-egress",
      mode: "ha",
      member: { name: "prod-egress-1", privateIp: "10.0.1.2", role: "MASTER", handedOver: false },
      peer: { name: "prod-egress-2", privateIp: "10.0.1.3" },
      subnet: "10.0.1.0/24",
      floatingIPs: [{ name: "primary", address: "203.0.113.10", server: 111, owner: "prod-egress-1" }],
      routes: [{ destination: "0.0.0.0/0", gateway: "10.0.1.2", owner: "prod-egress-1" }],
      health: { ok: true },
      connectivity: { probe: null },
      security: { blockSMTP25: true, blockedDestinations: ["169.254.0.0/16"], sshAllowedCIDRs: ["198.51.100.7/32"], metricsListen: "10.0.1.2:9100" },
    });
    expect(status.owners).toEqual({ observed: expect.stringMatching(/^\d{4}-/), reason: null });
  });

  it("status after a hand-back names the new active member as owner, not the last takeover's", async () => {
    const { api, host } = at;
    const keepalived = startKeepalived(host);
    await keepalived.notify("MASTER");
    expect((await ctl(host, ["takeover"])).status).toBe(0);
    // prod-egress-2 took over: the API points everything at it.
    api.floatingIPs.get(FLOATING_IP_ID)!.server = 222;
    api.networks.set(4711, [{ destination: "0.0.0.0/0", gateway: "10.0.1.3" }]);
    await keepalived.notify("BACKUP");
    const result = await ctl(host, ["status", "--json"]).finally(() => keepalived.stop());
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      member: { name: "prod-egress-1", role: "BACKUP" },
      floatingIPs: [{ name: "primary", server: 222, owner: "prod-egress-2" }],
      routes: [{ destination: "0.0.0.0/0", gateway: "10.0.1.3", owner: "prod-egress-2" }],
    });
  });

  it("status without the API token names no owners and says why", async () => {
    const { api, host } = at;
    rmSync(host.env.NATGW_TOKEN_FILE!);
    const result = await ctl(host, ["status", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as { owners: unknown; floatingIPs: unknown; routes: unknown };
    expect(status.owners).toEqual({ observed: null, reason: expect.stringMatching(/^no API token at .*token \(Terraform writes it after apply\)$/) });
    expect(status.floatingIPs).toEqual([{ name: "primary", address: "203.0.113.10", server: null, owner: null }]);
    expect(status.routes).toEqual([{ destination: "0.0.0.0/0", gateway: null, owner: null }]);
    expect(api.requests).toHaveLength(0);
  });

  it("diag --json reports interfaces, forwarding, NAT rules, conntrack, drops and takeovers", async () => {
    const { host } = at;
    await ctl(host, ["takeover"]);
    const result = await ctl(host, ["diag", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const diag = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(diag).toMatchObject({
      member: "prod-egress-1",
      privateInterface: "enp7s0",
      publicInterface: "eth0",
      forwarding: true,
      ruleset: { loaded: true, natRules: 1, chains: [{ name: "postrouting", hook: "postrouting" }] },
      counters: { egress: { packets: 10, bytes: 1000 }, drop_metadata: { packets: 2, bytes: 120 } },
      conntrack: { entries: 2621, max: 262144, usagePercent: 1 },
      recentTakeovers: [{ result: "ok" }],
    });
    expect(diag.interfaces).toContainEqual({ name: "enp7s0", mac: "86:00:00:aa:bb:cc", mtu: 1450, state: "UP", addresses: ["10.0.1.2/32"] });
    const text = await ctl(host, ["diag"]);
    expect(text.stdout).toMatch(/^counters\.drop_metadata\.packets = 2$/m);
  });

});
