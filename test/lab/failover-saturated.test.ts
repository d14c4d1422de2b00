import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEgressThrough, takeoversRun } from "./failover-checks.js";
import { Lab, labSkipReason, running, waitFor, type Host, type Member } from "./lab.js";
import type { CpuLoad } from "./load.js";
import { slowHealthChecks } from "./slow-check.js";
import { reportFailures, stopAndCheck } from "./suite.js";
import { failoverTable, measureFailover, Prober, type Failover } from "./traffic.js";

/**
 * examples/ha.yaml in the lab with every CPU of the machine kept busy (load.ts)
 * from the deploy on: the hard failures of failover.test.ts, each twice,
 * alternating between the members. Under load every process on the failover path
 * (keepalived's track script, the notify, the takeover) waits for the CPU; none of
 * that may cost a healthy member its role. After each failover the new active
 * member must keep the role while the failed one returns, and each failure must
 * cause exactly one takeover: a health check that a busy CPU made slow must not
 * count as a failed one, or the roles flap and egress moves for nothing.
 *
 * The scenarios run here rather than the whole of failover.test.ts under load: the
 * API fault and outage cases test the takeover's retries, which the CPU does not
 * change, and the outage alone takes two minutes.
 */
const skip = labSkipReason();

interface Kind {
  readonly name: string;
  readonly fail: (lab: Lab, active: Member) => void;
  /** Brings the failed member back and waits until it is the standby. */
  readonly restore: (lab: Lab, member: Member) => Promise<void>;
}

const rejoin = async (member: Member) => {
  member.must(["systemctl", "start", "keepalived.service"]);
  await waitFor(`${member.name} to rejoin as BACKUP`, 30_000, () => member.vrrpState() === "BACKUP");
};

const KINDS: readonly Kind[] = [
  { name: "keepalived killed (SIGKILL)", fail: (_, active) => active.crashKeepalived(), restore: async (_, member) => {
    // Restart=on-failure brings it back by itself.
    await waitFor(`${member.name} to come back as BACKUP by itself`, 30_000, () => member.vrrpState() === "BACKUP");
  } },
  { name: "private link cut", fail: (lab, active) => lab.cutPrivateLink(active), restore: async (lab, member) => {
    await waitFor(`${member.name} to go to FAULT`, 30_000, () => member.vrrpState() === "FAULT");
    lab.restorePrivateLink(member);
    await waitFor(`${member.name} to return as BACKUP`, 30_000, () => member.vrrpState() === "BACKUP");
  } },
  { name: "keepalived stopped (SIGTERM)", fail: (_, active) => active.must(["systemctl", "stop", "keepalived.service"]), restore: (_, member) => rejoin(member) },
];

describe.skipIf(skip)("lab: examples/ha.yaml failover with every CPU saturated", () => {
  let lab: Lab;
  reportFailures(() => lab);
  let worker: Host;
  let prober: Prober;
  let load: CpuLoad;
  const failovers: Failover[] = [];

  beforeAll(async () => {
    lab = await Lab.create({ specs: ["examples/ha.yaml"], workers: { worker: "10.0.2.5" } });
    worker = lab.worker("worker");
    load = await lab.saturateCpus();
    const { pushes } = await lab.deploy();
    for (const push of pushes) expect(push.status, push.stderr).toBe(0);
    prober = await Prober.start(lab, worker);
  });

  afterAll(() => {
    if (failovers.length > 0) console.log(failoverTable(failovers, lab.actionSeconds) + "\n(every CPU saturated)");
    stopAndCheck(lab);
  });

  it("a health check slower than its interval, but passing, does not cost the active member its role", async () => {
    const active = await lab.settled();
    const takeoversBefore = takeoversRun(lab);
    // 1.5 s: longer than the check's 1 s interval, as checks took with every CPU
    // busy and other work on the machine; shorter than keepalived's timeout for it.
    const slow = slowHealthChecks(lab, active, 1.5);
    try {
      // Long enough for keepalived's fall of 2 several times over.
      await waitFor("six slow health checks on the active member", 60_000, () => slow.started() >= 6, 100);
      expect(active.vrrpState(), `${active.name} with slow health checks`).toBe("MASTER");
    } finally {
      slow.undo();
    }
    expect(await lab.settled()).toBe(active);
    expect(takeoversRun(lab) - takeoversBefore, "no takeover").toBe(0);
  }, 120_000);

  for (const round of [1, 2]) {
    for (const kind of KINDS) {
      it(`${kind.name} (${round} of 2): the standby takes over once and keeps the active role while the failed member returns`, async () => {
        const active = await lab.settled();
        const standby = lab.members.find((member) => member !== active)!;
        const takeoversBefore = takeoversRun(lab);
        const failover = await measureFailover(lab, prober, kind.name, standby, () => kind.fail(lab, active));
        failovers.push(failover);
        await expectEgressThrough(lab, worker, standby, failover);
        await kind.restore(lab, active);
        expect(standby.vrrpState(), `${standby.name} kept the active role`).toBe("MASTER");
        expect(await lab.settled()).toBe(standby);
        expect(takeoversRun(lab) - takeoversBefore, "one takeover for one failure: no role flapped").toBe(1);
        expect(load.pids.filter(running), "the CPUs stayed saturated").toHaveLength(load.pids.length);
      }, 120_000);
    }
  }
});
