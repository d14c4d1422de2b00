import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectEgressThrough as expectEgressThroughMember } from "./failover-checks.js";
import { Lab, labSkipReason, waitFor, type Member } from "./lab.js";
import { reportFailures, stopAndCheck } from "./suite.js";
import { failoverTable, measureFailover, Prober, type Failover } from "./traffic.js";

/**
 * A keepalived crash while the Cloud API answers each kind of fault a takeover
 * meets once (423 locked and 429 rate limited on the floating IP's assign, 409
 * conflict on the route's delete, 500 on its add), with actions that take 0.3 s,
 * as on the second emulation of Hetzner: every fault is met and asked again, and
 * egress moves to the standby. How long it took is printed (3.8-4.0 s so far);
 * speed is the benchmark's to hold to a goal, not this test's.
 */
const skip = labSkipReason();

describe.skipIf(skip)("lab: a failover with every kind of API fault answered once, 0.3 s actions", () => {
  let lab: Lab;
  reportFailures(() => lab);
  let prober: Prober;
  let first: Member;
  let second: Member;
  const failovers: Failover[] = [];

  beforeAll(async () => {
    lab = await Lab.create({ specs: ["examples/ha.yaml"], workers: { worker: "10.0.2.5" }, actionSeconds: 0.3 });
    [first, second] = lab.members as [Member, Member];
    const { pushes, active } = await lab.deploy();
    for (const push of pushes) expect(push.status, push.stderr).toBe(0);
    expect(active).toBe(first);
    prober = await Prober.start(lab, lab.worker("worker"));
  });

  afterAll(() => {
    if (failovers.length > 0) console.log(failoverTable(failovers, lab.actionSeconds));
    stopAndCheck(lab);
  });

  it("keepalived killed with 423, 429, 409 and 500 each answered once: every fault is met and retried, and egress moves", async () => {
    await lab.failEachKindOnce();
    const requestsBefore = (await lab.cloudState()).requests.length;
    const failover = await measureFailover(lab, prober, "SIGKILL, four faults", second, () => first.crashKeepalived());
    failovers.push(failover);
    await expectEgressThroughMember(lab, lab.worker("worker"), second, failover);
    const posts = (await lab.cloudState()).requests.slice(requestsBefore).filter((request) => request.method === "POST");
    const count = (suffix: string) => posts.filter((request) => request.path.endsWith(suffix)).length;
    expect([count("/assign"), count("/delete_route"), count("/add_route")], "every fault was met and repeated").toEqual([3, 2, 2]);
    expect((await lab.cloudState()).pendingFaults).toBe(0);
    await waitFor(`${first.name} to come back as BACKUP`, 15_000, () => first.vrrpState() === "BACKUP");
  });
});
