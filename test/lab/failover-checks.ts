import { expect } from "vitest";
import { INTERNET, type Host, type Lab, type Member } from "./lab.js";
import { tcpEcho, type Failover } from "./traffic.js";

/**
 * What every failover in the lab must end in: the same egress IP, the gateway
 * settled on `member`, a new connection through it, and `member`'s own status
 * naming it MASTER and owner of every floating IP and route, as the API has them.
 */
export async function expectEgressThrough(lab: Lab, worker: Host, member: Member, failover: Failover): Promise<void> {
  expect(failover.egressIP, "the same egress IP after the failover").toBe("192.0.2.10");
  expect(await lab.settled()).toBe(member);
  expect(tcpEcho(worker, INTERNET.echo, 443)?.address).toBe("192.0.2.10");
  const status = member.json<{ member: { role: string }; floatingIPs: { owner: string }[]; routes: { owner: string }[] }>("status");
  expect(status.member.role).toBe("MASTER");
  expect(status.floatingIPs.map((floatingIP) => floatingIP.owner)).toEqual([member.name]);
  expect(status.routes.map((route) => route.owner)).toEqual([member.name]);
}

/** The takeovers keepalived started on the members so far (one line each in takeovers.log). */
export function takeoversRun(lab: Lab): number {
  return lab.members.reduce((sum, member) => sum + member.exec(["cat", "/var/lib/natgw/takeovers.log"]).stdout.split("\n").filter(Boolean).length, 0);
}
