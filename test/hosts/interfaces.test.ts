import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HOST_PATHS } from "../../src/emit/hosts/context.js";
import { PRIVATE_MAC_PREFIX, PUBLIC_MAC_PREFIX } from "../../src/emit/hosts/nftables.js";
import { buildExample } from "../support/artifacts.js";
import { missingTools, run, type RunResult } from "../support/tools.js";

const scratch = mkdtempSync(join(tmpdir(), "natgw-interfaces-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const artifacts = buildExample("ha");
const content = (hostPath: string) => artifacts.find((artifact) => artifact.path === `hosts/prod-egress-1${hostPath}`)!.content;
const program = join(scratch, "interfaces");
writeFileSync(program, content(HOST_PATHS.interfaces), { mode: 0o755 });
const config = join(scratch, "config.json");
writeFileSync(config, content(HOST_PATHS.config));

let hosts = 0;
/** A sysfs with these NICs (name -> MAC), and `ip` answering with this default route, or none. */
function host(nics: Record<string, string>, defaultRoute = "") {
  const directory = join(scratch, `host-${(hosts += 1)}`);
  for (const [name, mac] of Object.entries(nics)) {
    mkdirSync(join(directory, "sys", name), { recursive: true });
    writeFileSync(join(directory, "sys", name, "address"), `${mac}\n`);
  }
  mkdirSync(join(directory, "bin"), { recursive: true });
  writeFileSync(join(directory, "bin", "ip"), `#!/bin/sh\n[ "$*" = "-4 route show default" ] && printf '%s' '${defaultRoute}'\n`, { mode: 0o755 });
  return (...roles: string[]): RunResult =>
    run("env", [`PATH=${join(directory, "bin")}:/usr/bin:/bin`, `NATGW_CONFIG=${config}`, `NATGW_SYS_CLASS_NET=${join(directory, "sys")}`, program, ...roles]);
}

const hetzner = { lo: "00:00:00:00:00:00", eth0: `${PUBLIC_MAC_PREFIX}:4b:1a:01`, enp7s0: `${PRIVATE_MAC_PREFIX}:4b:1a:02` };

describe.skipIf(missingTools("bash", "jq"))("the interfaces program", () => {
  it("prints each role's NIC, one per line, by the MAC prefixes config.json gives", () => {
    expect(JSON.parse(content(HOST_PATHS.config)).interfaces).toEqual({ privateMacPrefix: PRIVATE_MAC_PREFIX, publicMacPrefix: PUBLIC_MAC_PREFIX });
    expect(host(hetzner)("private", "public")).toEqual({ status: 0, stdout: "enp7s0\neth0\n", stderr: "" });
    // sysfs writes MACs in lowercase; an uppercase one matches all the same.
    expect(host({ ...hetzner, eth0: hetzner.eth0.toUpperCase() })("public")).toEqual({ status: 0, stdout: "eth0\n", stderr: "" });
  });

  it("takes the public NIC from the IPv4 default route when no MAC has the public prefix", () => {
    const result = host({ lo: hetzner.lo, enp7s0: hetzner.enp7s0, ens3: "52:54:00:12:34:56" }, "default via 172.31.1.1 dev ens3 proto dhcp")("public");
    expect(result).toEqual({ status: 0, stdout: "ens3\n", stderr: "" });
  });

  it("leaves a role it cannot tell empty, says why, and fails: none, several, a name nft could not take", () => {
    const none = host({ lo: hetzner.lo, eth0: hetzner.eth0 })("private", "public");
    expect(none).toMatchObject({ status: 1, stdout: "\neth0\n" });
    expect(none.stderr).toContain(`no private interface: no MAC under`);
    const several = host({ ...hetzner, ens10: `${PRIVATE_MAC_PREFIX}:4b:1a:03` })("private");
    expect(several).toMatchObject({ status: 1, stdout: "\n" });
    expect(several.stderr).toContain("several private interfaces (enp7s0 ens10)");
    const noPublic = host({ lo: hetzner.lo, enp7s0: hetzner.enp7s0 })("public");
    expect(noPublic.stderr).toContain(`no MAC starts with ${PUBLIC_MAC_PREFIX} and there is no IPv4 default route`);
    expect(noPublic.status).toBe(1);
  });

  it("refuses a role it does not know, and a config.json without the MAC prefixes, with status 2", () => {
    expect(host(hetzner)("wan")).toMatchObject({ status: 2, stdout: "" });
    writeFileSync(join(scratch, "other.json"), "{}");
    const result = run("env", [`NATGW_CONFIG=${join(scratch, "other.json")}`, program, "private"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("has no interfaces.privateMacPrefix and publicMacPrefix");
  });
});
