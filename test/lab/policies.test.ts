import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.js";
import type { Member } from "./hosts.js";
import { INTERNET, Lab, labSkipReason } from "./lab.js";
import { reportFailures, stopAndCheck } from "./suite.js";
import { connectionLoop, tcpEcho, udpEcho } from "./traffic.js";

/**
 * The egress IP a flow leaves from, on the HA examples: EgressNATPolicy matches
 * (examples/policies.yaml) and port blocks (examples/ports.yaml). Floating IPs
 * are 192.0.2.10 onwards in the order of the spec's egressIPs.
 */
const skip = labSkipReason();

describe.skipIf(skip)("lab: examples/policies.yaml", () => {
  let lab: Lab;
  reportFailures(() => lab);

  beforeAll(async () => {
    // A checkout worker (payments-api, logistics-reports) and a fulfilment worker (logistics-api).
    lab = await Lab.create({ specs: ["examples/policies.yaml"], workers: { checkout: "10.20.16.5", fulfilment: "10.20.32.5" } });
    await lab.deploy();
  });

  afterAll(() => stopAndCheck(lab));

  const cases: [worker: string, destination: string, egressIP: string, why: string][] = [
    ["checkout", "203.0.113.5", "192.0.2.11", "payments-api: payments"],
    ["checkout", "203.0.113.200", "192.0.2.12", "logistics-reports: logistics"],
    ["fulfilment", "198.51.100.130", "192.0.2.12", "logistics-api: logistics"],
    ["fulfilment", "203.0.113.5", "192.0.2.10", "no policy for these sources: primary"],
    ["checkout", INTERNET.echo, "192.0.2.10", "no policy for this destination: primary"],
  ];
  for (const [worker, destination, egressIP, why] of cases) {
    it(`${worker} to ${destination} leaves from ${egressIP} (${why}), over TCP and UDP`, () => {
      expect(tcpEcho(lab.worker(worker), destination, 443)?.address).toBe(egressIP);
      expect(udpEcho(lab.worker(worker), destination, 53)?.address).toBe(egressIP);
    });
  }

  // natLogging is on in examples/policies.yaml: natgw-natlog.service on each member,
  // started by reconcile after the push, its output kept by the lab's systemctl.
  const natLog = (member: Member) => member.exec(["cat", "/run/lab-systemd/natgw-natlog.service.log"]).stdout.split("\n");

  it("the active member's NAT log shows a worker's connection with the egress IP and port the internet saw", async () => {
    const active = await lab.settled();
    const seen = tcpEcho(lab.worker("checkout"), "203.0.113.5", 443)!;
    const line = await waitFor("the connection in the NAT log", 10_000, () => natLog(active).find((entry) => entry.includes(` snat=${seen.address}:${seen.port} `)));
    expect(line).toMatch(/^event=translation proto=tcp src=10\.20\.16\.5:\d+ dst=203\.0\.113\.5:443 egress_ip=payments snat=192\.0\.2\.11:\d+ policy=payments-api$/);
    // The standby holds the connection too (conntrackd), and does not log it as its own.
    const standby = lab.members.find((member) => member !== active)!;
    await waitFor("the connection synced to the standby", 10_000, () => standby.exec(["conntrack", "-L", "-p", "tcp", "--reply-port-dst", String(seen.port)]).stdout.includes("dport=443") || undefined);
    expect(natLog(standby).filter((entry) => entry.startsWith("event=translation"))).toEqual([]);
  });

  it("a flood of new flows stays within the NAT log's limit, and its summary counts the rest", async () => {
    const active = await lab.settled();
    const flood = (entry: string) => entry.includes("event=translation") && entry.includes(" src=10.20.32.5:") && entry.includes(" dst=198.51.100.130:53 ");
    const began = Date.now();
    // 2,000 new UDP flows in about a second: hping3 takes the next source port for every datagram.
    lab.worker("fulfilment").exec(["hping3", "--numeric", "--udp", "--count", "2000", "--interval", "u500", "--destport", "53", "--baseport", "20000", "198.51.100.130"]);
    const summary = await waitFor("a summary that counts the flood", 30_000, () =>
      natLog(active).find((entry) => entry.startsWith("event=summary") && Number(/ over_limit=(\d+)/.exec(entry)?.[1]) > 0),
    );
    const seconds = (Date.now() - began) / 1000;
    const logged = natLog(active).filter(flood).length;
    // maxPerSecond is 50 (the default): one second's burst, then 50 a second.
    expect(logged).toBeGreaterThan(0);
    expect(logged).toBeLessThanOrEqual(50 * (seconds + 1));
    expect(summary).toMatch(/^event=summary seconds=\S+ translations=\d+ logged=\d+ unsampled=0 over_limit=\d+ lost_bursts=0$/);
  });
});

describe.skipIf(skip)("lab: examples/ports.yaml", () => {
  let lab: Lab;
  reportFailures(() => lab);

  beforeAll(async () => {
    lab = await Lab.create({ specs: ["examples/ports.yaml"], workers: { fifth: "10.30.8.5", last: "10.30.8.63" } });
    await lab.deploy();
  });

  afterAll(() => stopAndCheck(lab));

  // 1,024 ports per source from port 1024: the source at offset n gets 1024 + n * 1024 onwards.
  it("the source port of each flow lies inside the worker's own block on the first egress IP", () => {
    for (const seen of [tcpEcho(lab.worker("fifth"), INTERNET.echo, 443), udpEcho(lab.worker("fifth"), INTERNET.echo, 53), tcpEcho(lab.worker("fifth"), INTERNET.destinations[0], 443)]) {
      expect(seen?.address).toBe("192.0.2.10");
      expect(seen!.port).toBeGreaterThanOrEqual(1024 + 5 * 1024);
      expect(seen!.port).toBeLessThanOrEqual(1024 + 6 * 1024 - 1);
    }
  });

  // programs/connections.ts, which the connections benchmark runs: what it counts.
  it("new connections in a loop leave from the worker's block; refused and unanswered ones count as failures, never as connections", async () => {
    const loop = (port: number) =>
      connectionLoop(lab, lab.worker("fifth"), { destinations: [INTERNET.echo], port, parallel: 2, countFrom: Date.now() + 500, milliseconds: 1000, timeoutMs: 300 });
    // Nothing listens on 8080 (the internet refuses); TCP 25 is dropped by blockSMTP25 (no answer).
    const [answered, refused, unanswered] = await Promise.all([loop(INTERNET.streamPort), loop(8080), loop(25)]);
    expect(answered.connections).toBeGreaterThan(0);
    expect(answered.failures).toBe(0);
    expect(Object.keys(answered.seen)).toEqual(["192.0.2.10"]);
    expect(answered.ports[0]).toBeGreaterThanOrEqual(1024 + 5 * 1024);
    expect(answered.ports[1]).toBeLessThanOrEqual(1024 + 6 * 1024 - 1);
    for (const [count, reason] of [[refused, "ECONNREFUSED"], [unanswered, "timeout"]] as const) {
      expect(count.connections).toBe(0);
      expect(count.failures).toBeGreaterThan(0);
      expect(count.reasons).toEqual({ [reason]: count.failures });
    }
  });

  it("a worker given a range connects from each of its addresses in turn, each from its own block", async () => {
    // Sources 8 to 15 of the /26: blocks 1024 + 8 * 1024 to 1024 + 16 * 1024 - 1.
    lab.addWorkerRange("fifth", "10.30.8.8/29");
    const count = await connectionLoop(lab, lab.worker("fifth"), { destinations: [INTERNET.echo], port: INTERNET.streamPort, sources: "10.30.8.8/29", parallel: 2, countFrom: Date.now() + 500, milliseconds: 1000, timeoutMs: 300 });
    expect(count.failures).toBe(0);
    expect(Object.keys(count.seen)).toEqual(["192.0.2.10"]);
    expect(count.ports[0]).toBeGreaterThanOrEqual(1024 + 8 * 1024);
    expect(count.ports[0]).toBeLessThan(1024 + 9 * 1024);
    expect(count.ports[1]).toBeGreaterThanOrEqual(1024 + 15 * 1024);
    expect(count.ports[1]).toBeLessThan(1024 + 16 * 1024);
  });

  it("a source whose block does not fit on the first egress IP spills to the next, with the first block there", () => {
    for (const seen of [tcpEcho(lab.worker("last"), INTERNET.echo, 443), udpEcho(lab.worker("last"), INTERNET.echo, 53)]) {
      expect(seen?.address).toBe("192.0.2.11");
      expect(seen!.port).toBeGreaterThanOrEqual(1024);
      expect(seen!.port).toBeLessThanOrEqual(2047);
    }
  });
});
