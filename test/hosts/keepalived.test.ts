import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import type { MemberContext } from "../../src/emit/hosts/context.js";
import { emitHosts } from "../../src/emit/hosts/hosts.js";
import { healthIntervalSeconds, keepalivedFiles } from "../../src/emit/hosts/keepalived.js";
import { render } from "../../src/emit/hosts/render.js";
import type { GatewayModel, Model } from "../../src/resolve/model.js";
import { EXAMPLES } from "../support/artifacts.js";
import { Namespace, isRoot, missingTools } from "../support/tools.js";

const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
const KEEPALIVED_DROP_IN = "/etc/systemd/system/keepalived.service.d/natgw.conf";
const CTL = "/usr/local/sbin/natgw-ctl";
const INTERFACES = "/usr/local/lib/natgw/interfaces";
const CONFIG = "/etc/natgw/config.json";

const models = EXAMPLES.map((example) => compile([`examples/${example}.yaml`]).model!);
const haGateways = models.flatMap((model) => model.gateways.filter((gateway) => gateway.mode === "ha").map((gateway) => ({ model, gateway })));

function contextOf(model: Model, gateway: GatewayModel, index: number): MemberContext {
  const member = gateway.members[index]!;
  return { model, gateway, member, peer: gateway.members.find((other) => other !== member) ?? null };
}

/** keepalived.conf of one member, rendered as natgw build renders it. */
function renderConf(context: MemberContext): string {
  return render(`${KEEPALIVED_CONF.slice(1)}.njk`, keepalivedFiles[0]!.values(context));
}

/** Every member's files by host path. */
const memberFiles = new Map<string, Map<string, { content: string; fileMode: string }>>();
for (const model of models) {
  for (const artifact of emitHosts(model).artifacts) {
    if (!artifact.member) continue;
    if (!memberFiles.has(artifact.member)) memberFiles.set(artifact.member, new Map());
    memberFiles.get(artifact.member)!.set(artifact.path.slice(`hosts/${artifact.member}`.length), artifact);
  }
}

/** The directives of a keepalived.conf, one per line, without values or comments. */
function directives(conf: string): string[] {
  return conf
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => line.split(/\s+/)[0]!);
}

describe("keepalived.conf", () => {
  it("exists exactly for the members of HA gateways", () => {
    const withConf = [...memberFiles].filter(([, files]) => files.has(KEEPALIVED_CONF)).map(([member]) => member);
    expect(withConf).toEqual(haGateways.flatMap(({ gateway }) => gateway.members.map((member) => member.name)));
    expect(withConf).not.toContain("dev-egress-1");
  });

  for (const { model, gateway } of haGateways) {
    for (const index of [0, 1]) {
      const context = contextOf(model, gateway, index);
      const conf = memberFiles.get(context.member.name)!.get(KEEPALIVED_CONF)!.content;

      it(`${context.member.name}: has exactly natgw's directives and no others`, () => {
        expect(conf).toBe(renderConf(context));
        // prettier-ignore
        expect(directives(conf)).toEqual([
          "global_defs", "router_id", "vrrp_version", "script_user", "enable_script_security", "max_auto_priority", "}",
          "include",
          "vrrp_script", "script", "interval", "timeout", "fall", "rise", "}",
          "vrrp_instance", "state", "nopreempt", "interface", "virtual_router_id", "priority", "advert_int",
          "unicast_src_ip", "unicast_peer", context.peer!.privateIp, "}", "unicast_fault_no_peer", "check_unicast_src",
          "virtual_ipaddress", `127.1.0.${gateway.vrrp!.virtualRouterId}/32`, "}",
          "track_script", "natgw_health", "}",
          "notify_master", "notify_backup", "notify_fault", "notify_stop", "}",
        ]);
      });

      it(`${context.member.name}: VRRPv3 unicast to the peer with the model's router id and advert interval`, () => {
        expect(conf).toContain("\n  vrrp_version 3\n");
        expect(conf).toContain(`\n  unicast_src_ip ${context.member.privateIp}\n`);
        expect(conf).toContain(`\n  unicast_peer {\n    ${context.peer!.privateIp}\n  }\n`);
        expect(conf).toContain(`\n  virtual_router_id ${gateway.vrrp!.virtualRouterId}\n`);
        expect(conf).toContain(`\n  advert_int ${gateway.vrrp!.advertIntervalSeconds}\n`);
        expect(conf).toContain(`\n  priority ${index === 0 ? 150 : 100}\n`);
        expect(conf).toContain("\n  state BACKUP\n");
        expect(conf).toContain("\n  interface $NATGW_PRIVATE_INTERFACE\n");
        expect(directives(conf)).not.toContain("authentication");
      });

      it(`${context.member.name}: health check and every state change call natgw-ctl; the check may take three intervals before it counts as failed`, () => {
        expect(conf).toContain(`\n  script "/usr/bin/nice -n -10 ${CTL} health"\n  interval 1\n  timeout 3\n  fall 2\n  rise 2\n`);
        expect(conf).toContain(`\n  notify_master "/usr/bin/nice -n -10 /bin/sh -c '${CTL} notify MASTER; exec /usr/local/lib/natgw/takeover run'"\n`);
        for (const state of ["BACKUP", "FAULT", "STOP"]) {
          expect(conf).toContain(`\n  notify_${state.toLowerCase()} "${CTL} notify ${state}"\n`);
        }
      });
    }
  }

  it("preempt drops nopreempt and keeps member 1 the higher priority", () => {
    const { model, gateway } = haGateways[0]!;
    const preempting = { ...gateway, vrrp: { ...gateway.vrrp!, preempt: true } };
    const first = renderConf(contextOf(model, preempting, 0));
    const second = renderConf(contextOf(model, preempting, 1));
    expect(first).not.toContain("nopreempt");
    expect(second).not.toContain("nopreempt");
    expect(first).toContain("\n  priority 150\n");
    expect(second).toContain("\n  priority 100\n");
  });

  it("checks health every whole second that is at least one advert interval", () => {
    expect([0.1, 0.5, 0.99, 1, 1.5, 2, 40.95].map(healthIntervalSeconds)).toEqual([1, 1, 1, 1, 2, 2, 41]);
  });

  it("writes sub-second and long advert intervals as keepalived reads them", () => {
    const { model, gateway } = haGateways[0]!;
    for (const seconds of [0.1, 0.29, 2.5, 40.95]) {
      const conf = renderConf(contextOf(model, { ...gateway, vrrp: { ...gateway.vrrp!, advertIntervalSeconds: seconds } }, 0));
      expect(conf).toContain(`\n  advert_int ${seconds}\n`);
    }
  });
});

describe("hostile values cannot add a keepalived directive", () => {
  const { model, gateway } = haGateways[0]!;
  const hostile = "prod\nnotify_master /bin/sh";
  const cases: Record<string, GatewayModel> = {
    "gateway name": { ...gateway, name: hostile },
    "member name": { ...gateway, members: [{ ...gateway.members[0]!, name: hostile }, gateway.members[1]!] },
    "own private IP": { ...gateway, members: [{ ...gateway.members[0]!, privateIp: `10.0.1.2\n  ${hostile}` }, gateway.members[1]!] },
    "peer private IP": { ...gateway, members: [gateway.members[0]!, { ...gateway.members[1]!, privateIp: `10.0.1.3\n}\n${hostile}` }] },
    "virtual router id": { ...gateway, vrrp: { ...gateway.vrrp!, virtualRouterId: `7\n${hostile}` as unknown as number } },
    "advert interval": { ...gateway, vrrp: { ...gateway.vrrp!, advertIntervalSeconds: `1\n${hostile}` as unknown as number } },
  };
  for (const [field, changed] of Object.entries(cases)) {
    it(`a ${field} holding a newline and notify_master makes rendering throw`, () => {
      expect(() => renderConf(contextOf(model, changed, 0))).toThrow(/natgw bug: unsafe/);
    });
  }
});

/**
 * The real thing, as on a member: in a network namespace whose private NIC has
 * Hetzner's MAC prefix, the drop-in's ExecStartPre line (unescaped as systemd
 * does) writes the interface definition, and `keepalived -t` checks the rendered
 * file with it. A private mount namespace puts tmpfs over /run (where the line
 * writes) and /usr/local (where the member's natgw-ctl and interfaces program
 * stand, root-owned, so keepalived's script security accepts the health and
 * notify scripts).
 */
const realSkip = missingTools("keepalived", "unshare", "ip") ?? (isRoot() ? undefined : "needs root for network namespaces");

describe.skipIf(realSkip)("keepalived -t in a member's network namespace", () => {
  const staging = mkdtempSync(join(tmpdir(), "natgw-keepalived-"));
  const namespaces: Namespace[] = [];
  afterAll(() => {
    for (const namespace of namespaces) namespace.remove();
    rmSync(staging, { recursive: true, force: true });
  });

  /** The shell text systemd passes to `/bin/sh -ec` from the drop-in. */
  function startPreScript(dropIn: string): string {
    const line = dropIn.split("\n").find((text) => text.startsWith("ExecStartPre="));
    const match = /^ExecStartPre=\/bin\/sh -ec "([^"\\]*)"$/.exec(line ?? "");
    expect(match, "one double-quoted sh -ec line without backslashes").not.toBeNull();
    // systemd expands $VAR and %x: every $ and % must be doubled so it passes through.
    expect(match![1]!.replace(/\$\$/g, "").replace(/%%/g, "")).not.toMatch(/[$%]/);
    return match![1]!.replace(/\$\$/g, "$").replace(/%%/g, "%");
  }

  function member(name: string, interfaces: readonly [string, string], privateMac: string) {
    const files = memberFiles.get(name)!;
    const root = join(staging, name);
    for (const path of [KEEPALIVED_CONF, CTL, INTERFACES, CONFIG]) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), files.get(path)!.content);
      chmodSync(join(root, path), Number.parseInt(files.get(path)!.fileMode, 8));
    }
    const namespace = new Namespace(interfaces);
    namespaces.push(namespace);
    namespace.exec("ip", ["link", "set", interfaces[0], "address", privateMac]);
    namespace.exec("ip", ["link", "set", interfaces[1], "address", "96:00:00:00:00:01"]);
    const shell = (commands: string) =>
      namespace.exec("unshare", [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-ec",
        [
          "mount -t tmpfs -o mode=0755 tmpfs /run",
          "mount -t tmpfs -o mode=0755 tmpfs /usr/local",
          `cp -a ${root}/usr/local/. /usr/local/`,
          // The member's config.json, which the interfaces program reads, where this test staged it.
          `export NATGW_CONFIG=${root}${CONFIG}`,
          commands,
        ].join("\n"),
      ]);
    return { files, root, shell };
  }

  // Hetzner names the private NIC enp7s0 or ens10 depending on the server type.
  const names = ["enp7s0", "ens10"] as const;
  for (const { gateway } of haGateways) {
    gateway.members.forEach((each, index) => {
      const privateName = names[index % 2]!;
      it(`${each.name}: finds ${privateName} by its MAC and passes keepalived -t`, () => {
        const { files, root, shell } = member(each.name, [privateName, "eth0"], `86:00:00:00:00:0${index + 1}`);
        const script = startPreScript(files.get(KEEPALIVED_DROP_IN)!.content);
        const result = shell(`(${script})\ncat /run/natgw/keepalived-interface.conf\nkeepalived -t -l -f ${root}${KEEPALIVED_CONF}`);
        expect(result.stderr).toBe("");
        expect(result.stdout).toBe(`$NATGW_PRIVATE_INTERFACE=${privateName}\n`);
        expect(result.status).toBe(0);
      });
    });
  }

  it("without a NIC of Hetzner's private MAC prefix the drop-in fails, so keepalived never starts", () => {
    const { files, shell } = member("prod-egress-1", ["enp7s0", "eth0"], "02:00:00:00:00:01");
    const script = startPreScript(files.get(KEEPALIVED_DROP_IN)!.content);
    const result = shell(`if (${script}); then echo started; fi\ntest ! -e /run/natgw/keepalived-interface.conf`);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("no private interface: no MAC under /sys/class/net starts with 86:00:00");
    expect(result.status).toBe(0);
  });

  it("the check has teeth: keepalived -t refuses the file when the interface is not defined", () => {
    const { root, shell } = member("prod-egress-2", ["enp7s0", "eth0"], "86:00:00:00:00:02");
    const result = shell(`keepalived -t -l -f ${root}${KEEPALIVED_CONF}`);
    expect(result.status).not.toBe(0);
  });
});
