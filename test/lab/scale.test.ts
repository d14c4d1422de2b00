import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policiesSpec } from "../../bench/specs.js";
import { compile } from "../../src/compile.js";
import { addressToNumber } from "../../src/resolve/ip.js";
import { INTERNET, Lab, labSkipReason } from "./lab.js";
import { reportFailures, stopAndCheck } from "./suite.js";
import { tcpEcho } from "./traffic.js";

/**
 * An HA gateway at the size the benchmarks aim for: 10,000 policies and a /16 of
 * port-block sources, some 90,000 set elements in its ruleset. Everything that
 * runs every second on a member (the health check keepalived runs, the
 * watchdog) must not grow with that: a health check that lists every set
 * element takes longer than keepalived waits for it, and neither member ever
 * becomes MASTER.
 */
const skip = labSkipReason();
const WORKER = "10.0.16.5";

describe.skipIf(skip)("lab: an HA gateway of 10,000 policies and a /16 of port blocks", () => {
  const scratch = mkdtempSync(join(tmpdir(), "natgw-scale-"));
  const spec = join(scratch, "scale.yaml");
  writeFileSync(spec, policiesSpec(10_000, 16));
  let lab: Lab;
  reportFailures(() => lab);

  beforeAll(async () => {
    lab = await Lab.create({ specs: [spec], workers: { worker: WORKER } });
    await lab.deploy();
  }, 300_000);

  afterAll(() => {
    stopAndCheck(lab);
    rmSync(scratch, { recursive: true, force: true });
  });

  it("elects an active member whose health passes, beside a healthy standby", async () => {
    const active = await lab.settled();
    const standby = lab.members.find((member) => member !== active)!;
    expect(active.vrrpState()).toBe("MASTER");
    expect(standby.vrrpState()).toBe("BACKUP");
    for (const member of lab.members) expect(member.ctl("health").stdout, member.name).toBe("healthy\n");
  });

  it("a worker's flow leaves from its own port block on its egress IP", () => {
    const blocks = compile([spec]).model!.gateways[0]!.portBlocks!;
    const source = addressToNumber(WORKER);
    const segment = blocks.segments.find(
      (candidate) => candidate.defaultTraffic && addressToNumber(candidate.firstSource) <= source && source <= addressToNumber(candidate.lastSource),
    )!;
    const firstPort = segment.firstPort + (source - addressToNumber(segment.firstSource)) * blocks.portsPerSource;
    const seen = tcpEcho(lab.worker("worker"), INTERNET.echo, 443);
    expect(seen?.address).toBe(lab.floatingIPs.find((floatingIP) => floatingIP.name === segment.egressIP)!.address);
    expect(seen!.port).toBeGreaterThanOrEqual(firstPort);
    expect(seen!.port).toBeLessThan(firstPort + blocks.portsPerSource);
  });
});
