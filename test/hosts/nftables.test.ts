import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MemberContext } from "../../src/emit/hosts/context.js";
import { baselineValues, FORWARD_APPROVED_MARK, rulesetValues, SYNC_PORT } from "../../src/emit/hosts/nftables.js";
import { render } from "../../src/emit/hosts/render.js";
import { addressToNumber } from "../../src/resolve/ip.js";
import { Namespace } from "../support/tools.js";
import { fakeHost, HETZNER_NICS, member, MEMBERS, namespaceMissing, runtime, work, type Member } from "./nft-host.js";

afterAll(() => rmSync(work, { recursive: true, force: true }));

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
      // Connection-state sync (conntrackd): the one UDP port open, to the peer alone.
      const sync = peer ? [[fromPrivate, match({ payload: { protocol: "ip", field: "saddr" } }, peer.privateIp), match({ payload: { protocol: "udp", field: "dport" } }, SYNC_PORT), { accept: null }]] : [];
      expect(input.filter((rule) => rule.includes('"udp"'))).toEqual(sync.map((rule) => JSON.stringify(rule)));
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
    it(`${self.name}: the baseline passes nft -c and loads beside the main table: input closed but for SSH, VRRP, sync and metrics, forward only for marked packets`, () => {
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
      expect(text("input").includes(`"right":${SYNC_PORT}`), "connection-state sync only in HA").toBe(peer !== null);
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
