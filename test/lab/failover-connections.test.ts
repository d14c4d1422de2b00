import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTERNET, Lab, labSkipReason, waitFor, type Member } from "./lab.js";
import { reportFailures, stopAndCheck } from "./suite.js";
import { Held, survival, survivalTable, type Survival } from "./survival.js";
import { connectionLoop, measureFailover, Prober, type Failover } from "./traffic.js";

/**
 * What a client sees during a failover, at scale: 1,000 established TCP
 * connections and 100 UDP flows from four workers, each answered several times a
 * second, through a keepalived SIGKILL, a graceful stop and a private link cut,
 * while a fifth worker opens and closes connections all along. Every established
 * flow must survive (the same socket, the same egress IP and port) and answer
 * again within a second of egress working through the new active member. Once
 * with examples/ha.yaml (the kernel's SNAT port choice) and once with
 * examples/ports.yaml (fixed port blocks over two egress IPs, from many sources).
 */
const skip = labSkipReason();

/**
 * The most a flow may answer later than egress through the new active member,
 * when the failed member still forwarded until the takeover: the guarantee.
 */
const LATE_MS = 1_000;

/** A generous TCP retransmission timeout in the lab (Linux's least is 200 ms, plus the round trip's variance under load). */
const RTO_MS = 500;

interface Setup {
  readonly spec: string;
  /** Four workers carrying the held flows, and one opening and closing connections. */
  readonly workers: Readonly<Record<"w1" | "w2" | "w3" | "w4" | "churn", string>>;
  /** Each held worker's range of source addresses, for specs with port blocks. */
  readonly ranges?: Readonly<Record<"w1" | "w2" | "w3" | "w4", string>>;
  readonly egressIPs: readonly string[];
  /**
   * How often the prober opens a new UDP flow. Each one holds a port of its
   * source's block for the UDP timeout (30 s): with 1,024 ports per source and
   * destination, one every 20 ms would use the block up within 20 s, and the
   * probes would measure that limit instead of the failover.
   */
  readonly proberIntervalMs: number;
}

const SETUPS: readonly Setup[] = [
  { spec: "examples/ha.yaml", workers: { w1: "10.0.2.11", w2: "10.0.2.12", w3: "10.0.2.13", w4: "10.0.2.14", churn: "10.0.2.15" }, egressIPs: ["192.0.2.10"], proberIntervalMs: 20 },
  {
    spec: "examples/ports.yaml",
    workers: { w1: "10.30.8.0", w2: "10.30.8.16", w3: "10.30.8.32", w4: "10.30.8.48", churn: "10.30.8.60" },
    ranges: { w1: "10.30.8.0/28", w2: "10.30.8.16/28", w3: "10.30.8.32/28", w4: "10.30.8.48/29" },
    egressIPs: ["192.0.2.10", "192.0.2.11"],
    proberIntervalMs: 50,
  },
];

for (const setup of SETUPS) {
  describe.skipIf(skip)(`lab: 1,000 established connections through every failover of ${setup.spec}`, () => {
    let lab: Lab;
    reportFailures(() => lab);
    let prober: Prober;
    let first: Member;
    let second: Member;
    const held: Held[] = [];
    const rows: { case: string; failover: Failover; survival: Survival }[] = [];

    beforeAll(async () => {
      lab = await Lab.create({ specs: [setup.spec], workers: setup.workers });
      [first, second] = lab.members as [Member, Member];
      for (const [name, range] of Object.entries(setup.ranges ?? {})) lab.addWorkerRange(name, range);
      const { pushes, active } = await lab.deploy();
      for (const push of pushes) expect(push.status, push.stderr).toBe(0);
      prober = await Prober.start(lab, lab.worker("churn"), setup.proberIntervalMs);
      for (const name of ["w1", "w2", "w3", "w4"] as const) {
        held.push(await Held.start(lab, lab.worker(name), { tcp: 250, udp: 25, sources: setup.ranges?.[name] }));
      }
    }, 300_000);

    afterAll(() => {
      if (rows.length > 0) console.log(`${setup.spec}\n${survivalTable(rows)}`);
      stopAndCheck(lab);
    });

    /**
     * Fails the active member with `fail` while connections open and close, and
     * checks every held flow: all survive, and each answers again within
     * `lateMs` of egress through the new active member.
     */
    async function failWithFlows(name: string, to: Member, lateMs: (failover: Failover) => number, fail: () => void): Promise<void> {
      // One loop: each new connection holds a port of the churn worker's block for
      // TIME_WAIT (30 s); four loops opened hundreds a second, far more than a
      // 1,024-port block holds, and measured that limit rather than the failover.
      const churning = connectionLoop(lab, lab.worker("churn"), { destinations: [INTERNET.echo], port: INTERNET.streamPort, parallel: 1, countFrom: Date.now(), milliseconds: 12_000, timeoutMs: 1_000 });
      // Awaited whatever happens below: the lab's end would otherwise fail it unseen.
      const churn = churning.then((count) => count, (error: Error) => error);
      const failover = await measureFailover(lab, prober, name, to, fail);
      const result = await survival(held, failover);
      rows.push({ case: name, failover, survival: result });
      const some = (list: readonly string[]) => `${list.length} of ${result.flows}, e.g. ${list.slice(0, 5).join("; ")}`;
      expect(result.ended, `established TCP connections ended: ${some(result.ended)}`).toHaveLength(0);
      expect(result.remapped, `flows whose egress IP or port changed: ${some(result.remapped)}`).toHaveLength(0);
      expect(result.silent, `flows that never answered again: ${some(result.silent)}`).toHaveLength(0);
      expect(result.survived).toBe(result.flows);
      expect(result.late, `every flow answered again within ${lateMs(failover)} ms of egress through ${to.name}`).toBeLessThanOrEqual(lateMs(failover));
      const count = await churn;
      if (count instanceof Error) throw count;
      expect(Object.keys(count.seen).every((address) => setup.egressIPs.includes(address)), "new connections left from egress IPs only").toBe(true);
      expect(count.connections, "new connections completed during and after the failover").toBeGreaterThan(0);
    }

    it("keepalived killed with SIGKILL on the active member", async () => {
      await failWithFlows("keepalived killed (SIGKILL)", second, () => LATE_MS, () => first.crashKeepalived());
      await waitFor(`${first.name} to come back as BACKUP`, 15_000, () => first.vrrpState() === "BACKUP");
    }, 120_000);

    it("keepalived stopped gracefully on the active member", async () => {
      await failWithFlows("keepalived stopped (SIGTERM)", first, () => LATE_MS, () => second.must(["systemctl", "stop", "keepalived.service"]));
      second.must(["systemctl", "start", "keepalived.service"]);
      await waitFor(`${second.name} to rejoin as BACKUP`, 15_000, () => second.vrrpState() === "BACKUP");
    }, 120_000);

    // Nothing forwards until the takeover is through, so every TCP sender backs off
    // (RFC 6298: each retransmission waits twice as long) and sends again only at
    // its next retransmission, however soon egress works: at most one backoff
    // later, which is shorter than the outage itself plus one retransmission timeout.
    it("the active member's private link cut", async () => {
      await failWithFlows("private link cut", second, (failover) => failover.resumed + RTO_MS, () => lab.cutPrivateLink(first));
      lab.restorePrivateLink(first);
      await waitFor(`${first.name} to return as BACKUP`, 15_000, () => first.vrrpState() === "BACKUP");
    }, 120_000);
  });
}
