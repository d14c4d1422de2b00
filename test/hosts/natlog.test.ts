import { rmSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { missingTools } from "../support/tools.js";
import { waitFor } from "../support/wait.js";
import { sendUdpFlows, startNatLog, type Fields, type RunningNatLog } from "./natlog-host.js";
import { member, namespaceMissing, TrafficNamespaces, work, type FakeHost, type Member } from "./nft-host.js";

afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The NAT log program (natgw-natlog.service's) on a member with its real ruleset
 * and the real conntrack, fed by a worker's flows: what it logs, what its sampling
 * and rate limit leave out and count, and a port block used up.
 */
describe.skipIf(namespaceMissing ?? missingTools("conntrack", "hping3", "python3"))("the NAT log", () => {
  let namespaces: TrafficNamespaces;
  let natlog: RunningNatLog | undefined;
  beforeAll(() => {
    namespaces = new TrafficNamespaces();
  });
  afterEach(async () => {
    await natlog?.stop();
    natlog = undefined;
  });
  afterAll(() => namespaces?.remove());

  async function start(host: FakeHost, settings: Record<string, number | boolean> = {}): Promise<void> {
    natlog = await startNatLog(namespaces, host, settings);
  }

  /** The member's conntrack entries of UDP flows from a worker address to 192.0.2.1, port 53. */
  const udpFlows = (source: string) =>
    namespaces.gateway.exec("conntrack", ["-L", "-p", "udp", "--orig-src", source, "--orig-dst", "192.0.2.1", "--orig-port-dst", "53"]).stdout.split("\n").filter((line) => line.includes(" dport=53 "));

  /** The member's conntrack insert_failed count: /proc/net/stat/nf_conntrack, hexadecimal, one row per CPU. */
  const insertFailed = () => {
    const [header, ...rows] = namespaces.gateway.exec("cat", ["/proc/net/stat/nf_conntrack"]).stdout.trim().split("\n");
    const column = header!.split(/\s+/).indexOf("insert_failed");
    return rows.reduce((sum, row) => sum + parseInt(row.trim().split(/\s+/)[column]!, 16), 0);
  };

  const events = (event: string): Fields[] => natlog!.events(event);

  it("logs a worker's flow with its egress IP and port, as conntrack translated it, and its policy", async () => {
    const subject: Member = member("edge-egress-1");
    const host = namespaces.wire(subject, ["10.20.16.5", "10.20.32.5"]);
    await start(host);
    expect(events("start")).toEqual([{ event: "start", egress_ips: "logistics,payments,primary", sample_one_in: "1", max_per_second: "50" }]);
    const payments = namespaces.translated("10.20.16.5", "203.0.113.5")!;
    const fallback = namespaces.translated("10.20.32.5", "203.0.113.5")!;
    await waitFor("both flows in the log", 10_000, () => events("translation").length >= 2 || undefined);
    expect(events("translation")).toEqual([
      expect.objectContaining({ proto: "udp", dst: "203.0.113.5:53", egress_ip: "payments", snat: `${payments.address}:${payments.port}`, policy: "payments-api" }),
      expect.objectContaining({ proto: "udp", dst: "203.0.113.5:53", egress_ip: "primary", snat: `${fallback.address}:${fallback.port}`, policy: "default" }),
    ]);
    expect(events("translation").map((fields) => fields.src!.split(":")[0])).toEqual(["10.20.16.5", "10.20.32.5"]);
    expect(payments.address).toBe("192.0.2.11");
  });

  it("leaves out a connection conntrackd put into the table: on the standby, that is the peer's translation", async () => {
    const host = namespaces.wire(member("edge-egress-2"), ["10.20.16.5"]);
    await start(host);
    const inject = ["-I", "-p", "udp", "-s", "10.20.16.5", "-d", "203.0.113.5", "--sport", "40000", "--dport", "53"];
    expect(namespaces.gateway.exec("conntrack", [...inject, "-r", "203.0.113.5", "-q", "192.0.2.11", "--reply-port-src", "53", "--reply-port-dst", "41000", "-t", "30"]).status).toBe(0);
    const own = namespaces.translated("10.20.16.5", "203.0.113.6")!;
    await waitFor("the member's own flow in the log", 10_000, () => events("translation").length > 0 || undefined);
    expect(events("translation")).toEqual([expect.objectContaining({ dst: "203.0.113.6:53", snat: `${own.address}:${own.port}` })]);
  });

  it("logs one flow in sampleOneIn, and counts the rest in its summary", async () => {
    const host = namespaces.wire(member("edge-egress-1"), ["10.20.16.5"]);
    await start(host, { sampleOneIn: 10, summarySeconds: 1 });
    namespaces.from("10.20.16.5");
    // At least 100 new UDP flows: hping3 takes the next source port for every datagram.
    await sendUdpFlows(namespaces, 100, 2000, 20000);
    // Each flow's event comes as its entry enters the table: the summaries count every entry there.
    await waitFor("the flows in the member's table", 10_000, () => udpFlows("10.20.16.5").length >= 100 || undefined);
    const summarised = () => events("summary").reduce((sum, fields) => sum + Number(fields.translations), 0);
    const flows = await waitFor("a summary of every flow", 15_000, () => {
      const entries = udpFlows("10.20.16.5").length;
      return summarised() === entries ? entries : undefined;
    });
    const summaries = events("summary");
    const total = (key: string) => summaries.reduce((sum, fields) => sum + Number(fields[key]), 0);
    const logged = Math.ceil(flows / 10);
    expect({ translations: total("translations"), logged: total("logged"), unsampled: total("unsampled"), over_limit: total("over_limit") }).toEqual({
      translations: flows,
      logged,
      unsampled: flows - logged,
      over_limit: 0,
    });
    expect(events("translation")).toHaveLength(logged);
  });

  it("keeps a flood within maxPerSecond, and counts what it left out", async () => {
    const host = namespaces.wire(member("edge-egress-1"), ["10.20.16.5"]);
    const maxPerSecond = 20;
    await start(host, { maxPerSecond, summarySeconds: 1 });
    namespaces.from("10.20.16.5");
    const began = Date.now();
    await sendUdpFlows(namespaces, 2000, 500, 10000);
    await waitFor("a summary that counts what the limit left out", 20_000, () => events("summary").some((fields) => Number(fields.over_limit) > 0) || undefined);
    const seconds = (Date.now() - began) / 1000;
    const logged = events("translation").length;
    // A token bucket: one second's burst, then maxPerSecond a second.
    expect(logged).toBeGreaterThanOrEqual(maxPerSecond);
    expect(logged).toBeLessThanOrEqual(maxPerSecond * (seconds + 1));
  });

  it("logs the connections a used-up port block dropped, as many as the kernel counted", async () => {
    // examples/ports.yaml: 1,024 ports per source; 1,500 flows to one destination address and port need more.
    const host = namespaces.wire(member("batch-egress-1"), ["10.30.8.5"]);
    await start(host, { enabled: true, summarySeconds: 1 });
    namespaces.from("10.30.8.5");
    const before = insertFailed();
    await sendUdpFlows(namespaces, 1500, 500, 30000);
    // The kernel drops before the block is full (it tries a bounded number of ports from a random
    // one), and never takes a port outside it.
    await waitFor("the kernel's drops", 10_000, () => insertFailed() - before > 0 || undefined);
    // The reply tuple's destination port: the second dport= of an entry.
    const ports = udpFlows("10.30.8.5").map((entry) => Number([...entry.matchAll(/ dport=(\d+)/g)][1]?.[1]));
    expect(new Set(ports).size).toBe(ports.length);
    expect(ports.length).toBeLessThanOrEqual(1024);
    expect([Math.min(...ports) >= 6144, Math.max(...ports) <= 7167]).toEqual([true, true]);
    const logged = () => events("failure").filter((fields) => fields.reason === "no_free_port").reduce((sum, fields) => sum + Number(fields.count), 0);
    // The log reads the kernel's counter once a second: it catches up with every drop.
    await waitFor("the failures in the log, as the kernel counted them", 15_000, () => (logged() > 0 && logged() === insertFailed() - before) || undefined);
  });
});
