import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, labSkipReason } from "./lab.js";
import { reportFailures, stopAndCheck } from "./suite.js";
import { FAILURES, FailoverTraffic, SURVIVAL_SETUPS, survivalTable, type FailoverWithFlows } from "./survival.js";

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

for (const setup of SURVIVAL_SETUPS) {
  describe.skipIf(skip)(`lab: 1,000 established connections through every failover of ${setup.spec}`, () => {
    let lab: Lab;
    reportFailures(() => lab);
    let traffic: FailoverTraffic;
    const rows: FailoverWithFlows[] = [];

    beforeAll(async () => {
      lab = await Lab.create({ specs: [setup.spec], workers: setup.workers });
      const { pushes } = await lab.deploy();
      for (const push of pushes) expect(push.status, push.stderr).toBe(0);
      traffic = await FailoverTraffic.start(lab, setup);
    }, 300_000);

    afterAll(() => {
      if (rows.length > 0) console.log(`${setup.spec}\n${survivalTable(rows)}`);
      stopAndCheck(lab);
    });

    for (const failure of FAILURES) {
      it(`the active member fails: ${failure.name}`, async () => {
        const result = await traffic.fail(failure);
        rows.push(result);
        const { survival, failover, churn } = result;
        // When nothing forwards until the takeover is through (a cut link), every TCP
        // sender backs off (RFC 6298: each retransmission waits twice as long) and
        // sends again only at its next retransmission, however soon egress works: at
        // most one backoff later, shorter than the outage plus one retransmission timeout.
        const lateMs = failure.forwardsUntilTakeover ? LATE_MS : failover.resumed + RTO_MS;
        const some = (list: readonly string[]) => `${list.length} of ${survival.flows}, e.g. ${list.slice(0, 5).join("; ")}`;
        expect(survival.ended, `established TCP connections ended: ${some(survival.ended)}`).toHaveLength(0);
        expect(survival.remapped, `flows whose egress IP or port changed: ${some(survival.remapped)}`).toHaveLength(0);
        expect(survival.silent, `flows that never answered again: ${some(survival.silent)}`).toHaveLength(0);
        expect(survival.survived).toBe(survival.flows);
        expect(survival.late, `every flow answered again within ${lateMs} ms of egress through ${result.to.name}`).toBeLessThanOrEqual(lateMs);
        expect(Object.keys(churn.seen).every((address) => setup.egressIPs.includes(address)), "new connections left from egress IPs only").toBe(true);
        expect(churn.connections, "new connections completed during and after the failover").toBeGreaterThan(0);
        await failure.recover(lab, result.failed);
      }, 120_000);
    }
  });
}
