import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { missingTools, run } from "../support/tools.js";
import { fakeHost, HETZNER_NICS, member, MEMBERS, runtime, toolsMissing, work } from "./nft-host.js";

afterAll(() => rmSync(work, { recursive: true, force: true }));

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

