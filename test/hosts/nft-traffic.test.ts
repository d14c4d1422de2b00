import { spawn, type ChildProcess } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { baselineValues } from "../../src/emit/hosts/nftables.js";
import { render } from "../../src/emit/hosts/render.js";
import { missingTools, Namespace } from "../support/tools.js";
import { waitFor } from "../support/wait.js";
import { member, must, namespaceMissing, TrafficNamespaces, work, type Member } from "./nft-host.js";

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(namespaceMissing ?? missingTools("conntrack", "timeout"))("traffic through a loaded ruleset", () => {
  let namespaces: TrafficNamespaces, worker: Namespace, gateway: Namespace, internet: Namespace;
  beforeAll(() => {
    namespaces = new TrafficNamespaces();
    ({ worker, gateway, internet } = namespaces);
  });
  afterAll(() => namespaces?.remove());
  const wire = (subject: Member, workerAddresses: string[]) => namespaces.wire(subject, workerAddresses);
  const translated = (from: string, to: string) => namespaces.translated(from, to);

  const packets = (counter: string) =>
    (JSON.parse(gateway.exec("nft", ["-j", "list", "counter", "inet", "natgw", counter]).stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((entry) => entry.counter)!.counter!.packets;

  it("SNATs each source to its own port block on its egress IP", () => {
    wire(member("batch-egress-1"), ["10.30.8.5", "10.30.8.63"]);
    const fifth = translated("10.30.8.5", "192.0.2.1")!;
    expect(fifth.address).toBe("192.0.2.10");
    expect(fifth.port).toBeGreaterThanOrEqual(1024 + 5 * 1024);
    expect(fifth.port).toBeLessThanOrEqual(1024 + 6 * 1024 - 1);
    // The 64th source does not fit on the first egress IP: it spills, with the first block there.
    const last = translated("10.30.8.63", "192.0.2.1")!;
    expect(last.address).toBe("192.0.2.11");
    expect(last.port).toBeGreaterThanOrEqual(1024);
    expect(last.port).toBeLessThanOrEqual(2047);
  });

  it("SNATs policy traffic to the policy's egress IP and the rest to the first one", () => {
    wire(member("edge-egress-1"), ["10.20.16.5", "10.20.32.5"]);
    expect(translated("10.20.16.5", "203.0.113.5")?.address, "payments-api").toBe("192.0.2.11");
    expect(translated("10.20.16.5", "203.0.113.200")?.address, "logistics-reports").toBe("192.0.2.12");
    expect(translated("10.20.32.5", "198.51.100.130")?.address, "logistics-api").toBe("192.0.2.12");
    expect(translated("10.20.32.5", "203.0.113.5")?.address, "no policy: the first egress IP").toBe("192.0.2.10");
  });

  it("drops the metadata service, SMTP and other senders, each on its own counter, and counts egress and replies", () => {
    wire(member("prod-egress-1"), ["10.0.1.5", "172.16.0.5"]);
    const before = Object.fromEntries(["egress", "reply", "nat", "drop_metadata", "drop_smtp", "drop_not_source"].map((name) => [name, packets(name)]));
    translated("10.0.1.5", "169.254.169.254");
    worker.exec("timeout", ["1", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/25"]);
    // The internet namespace has no listener: the SYN goes out, a reset comes back.
    worker.exec("timeout", ["1", "bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/80"]);
    expect(translated("172.16.0.5", "192.0.2.1"), "outside the sources").toBeNull();
    expect(packets("drop_metadata")).toBeGreaterThan(before.drop_metadata!);
    expect(packets("drop_smtp")).toBeGreaterThan(before.drop_smtp!);
    expect(packets("drop_not_source")).toBeGreaterThan(before.drop_not_source!);
    expect(packets("egress")).toBeGreaterThan(before.egress!);
    expect(packets("reply")).toBeGreaterThan(before.reply!);
    expect(packets("nat")).toBeGreaterThan(before.nat!);
  });

  /**
   * What reaches "the internet", counted there before anything else sees it (as
   * the lab counts): any packet with a private source, and per probe port.
   */
  const WATCH = `table inet watch {
\tcounter private_source {}
\tcounter from_egress {}
\tcounter probe {}
\tchain prerouting {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tiifname "wan0" ip saddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 } counter name "private_source"
\t\tiifname "wan0" ip saddr 192.0.2.10 tcp dport 443 counter name "from_egress"
\t\tiifname "wan0" udp dport 9999 counter name "probe"
\t}
}
`;
  /** On the member, before natgw's chains: what came in from the worker to be forwarded. */
  const OBSERVE = `table inet observe {
\tcounter from_worker {}
\tchain forward {
\t\ttype filter hook forward priority raw; policy accept;
\t\tiifname "enp7s0" counter name "from_worker"
\t}
}
`;
  const counterOf = (namespace: Namespace, table: string, name: string) =>
    (JSON.parse(namespace.exec("nft", ["-j", "list", "counter", "inet", table, name]).stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((entry) => entry.counter)!.counter!
      .packets;
  const seen = (name: string) => counterOf(internet, "watch", name);

  /** The member's baseline table beside its ruleset, the watchers, and the worker's route. */
  function wireClosed(subject: Member, workerAddress: string): void {
    wire(subject, [workerAddress]);
    const path = join(work, `${subject.context.member.name}-traffic-baseline.nft`);
    writeFileSync(path, render("etc/natgw/baseline.nft.njk", baselineValues(subject.context)));
    must(gateway.exec("nft", ["-f", path]));
    must(internet.exec("nft", ["add table inet watch; delete table inet watch"]));
    must(internet.exec("nft", ["-f", "-"], WATCH));
    must(gateway.exec("nft", ["add table inet observe; delete table inet observe"]));
    must(gateway.exec("nft", ["-f", "-"], OBSERVE));
    must(worker.exec("ip", ["route", "replace", "default", "via", namespaces.memberPrivateIp, "src", workerAddress]));
  }

  /** A TCP FIN, an RST and a SYN+FIN from the worker for a connection that does not exist. */
  function straySegments(port: number): void {
    for (const flags of [["-F"], ["-R"], ["-S", "-F"]]) {
      worker.exec("hping3", ["--count", "1", "--interval", "u10000", ...flags, "--destport", String(port), "--baseport", "40000", "192.0.2.1"]);
    }
  }

  /** A rule of natgw's forward chain removed by its counter, as the ruleset before drop_invalid had it. */
  function removeRule(chain: string, counter: string): void {
    const listing = JSON.parse(gateway.exec("nft", ["-j", "list", "chain", "inet", "natgw", chain]).stdout) as { nftables: { rule?: { handle: number; expr: unknown } }[] };
    const rule = listing.nftables.find((entry) => entry.rule && JSON.stringify(entry.rule.expr).includes(`"counter":"${counter}"`))!.rule!;
    must(gateway.exec("nft", ["delete", "rule", "inet", "natgw", chain, "handle", String(rule.handle)]));
  }

  describe.skipIf(missingTools("hping3"))("TCP segments that belong to no connection", () => {
    it("FIN, RST and SYN+FIN for an unknown connection are dropped as INVALID, and nothing with a private source reaches the internet", async () => {
      wireClosed(member("prod-egress-1"), "10.0.1.5");
      const dropped = packets("drop_invalid");
      const unnatted = packets("drop_unnatted");
      const leaked = seen("private_source");
      straySegments(80);
      await waitFor("three INVALID segments dropped", 10_000, () => packets("drop_invalid") >= dropped + 3);
      expect(packets("drop_unnatted"), "dropped before NAT was ever asked").toBe(unnatted);
      expect(seen("private_source")).toBe(leaked);
    });

    it("without the INVALID drop and the guard after NAT (the previous ruleset), the same segments leave with the worker's private address", async () => {
      wireClosed(member("prod-egress-1"), "10.0.1.5");
      removeRule("forward", "drop_invalid");
      removeRule("guard_unnatted", "drop_unnatted");
      const leaked = seen("private_source");
      straySegments(81);
      await waitFor("the stray segments to reach the internet from 10.0.1.5", 10_000, () => seen("private_source") >= leaked + 3);
    });

    it("drop_unnatted: without the INVALID drop, the guard after NAT still drops and counts what would leave with a private source", async () => {
      wireClosed(member("prod-egress-1"), "10.0.1.5");
      removeRule("forward", "drop_invalid");
      const unnatted = packets("drop_unnatted");
      const leaked = seen("private_source");
      straySegments(82);
      await waitFor("three segments dropped by the guard", 10_000, () => packets("drop_unnatted") >= unnatted + 3);
      expect(seen("private_source")).toBe(leaked);
    });

    it("a mid-stream ACK for an unknown connection is picked up, forwarded and SNATed: nothing requires a SYN", async () => {
      wireClosed(member("prod-egress-1"), "10.0.1.5");
      expect(gateway.exec("sysctl", ["-n", "net.netfilter.nf_conntrack_tcp_loose"]).stdout.trim(), "the kernel's default").toBe("1");
      const fromEgress = seen("from_egress");
      worker.exec("hping3", ["--count", "1", "-A", "--destport", "443", "--baseport", "41000", "192.0.2.1"]);
      await waitFor("the ACK to arrive from the egress IP", 10_000, () => seen("from_egress") > fromEgress);
      expect(seen("private_source")).toBe(0);
    });
  });

  it("drop_unnatted: the member's own traffic from its private address (in the network, not a source) never leaves the public interface", async () => {
    const subject = member("batch-egress-1");
    wireClosed(subject, "10.30.8.5");
    const privateIp = subject.context.member.privateIp;
    const unnatted = packets("drop_unnatted");
    // A local sender learns of a drop in postrouting: sendto fails with EPERM.
    const send = [
      "import socket,sys",
      "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 0))",
      "try: s.sendto(b'probe', ('192.0.2.1', 9999)); print('sent')",
      "except PermissionError: print('dropped')",
    ].join("\n");
    expect(gateway.exec("/usr/bin/python3", ["-c", send, privateIp]).stdout).toBe("dropped\n");
    expect(packets("drop_unnatted")).toBe(unnatted + 1);
    expect(seen("probe")).toBe(0);
    // The member's own address on the public interface still reaches the internet.
    expect(gateway.exec("/usr/bin/python3", ["-c", send, "192.0.2.2"]).stdout).toBe("sent\n");
    await waitFor("a datagram from the member's public address", 10_000, () => seen("probe") === 1);
  });

  describe("the baseline table alone", () => {
    const subject = () => member("prod-egress-1");
    let listener: ChildProcess | null = null;
    afterEach(() => {
      listener?.kill("SIGKILL");
      listener = null;
    });

    it("forwards nothing without the main table, though IPv4 forwarding is on", async () => {
      wireClosed(subject(), "10.0.1.5");
      // With both tables the worker's datagram arrives, SNATed.
      must(worker.exec("bash", ["-c", "echo probe >/dev/udp/192.0.2.1/9999"]));
      await waitFor("the datagram through both tables", 10_000, () => seen("probe") === 1);
      must(gateway.exec("nft", ["delete", "table", "inet", "natgw"]));
      expect(gateway.exec("sysctl", ["-n", "net.ipv4.ip_forward"]).stdout.trim()).toBe("1");
      const offered = counterOf(gateway, "observe", "from_worker");
      must(worker.exec("bash", ["-c", "echo probe >/dev/udp/192.0.2.1/9999"]));
      await waitFor("the member to see the worker's datagram", 10_000, () => counterOf(gateway, "observe", "from_worker") > offered);
      expect(seen("probe")).toBe(1);
      expect(seen("private_source")).toBe(0);
    });

    it("admits SSH only from sshAllowedCIDRs", async () => {
      wireClosed(subject(), "10.0.1.5");
      must(gateway.exec("nft", ["delete", "table", "inet", "natgw"]));
      expect(subject().context.gateway.security.sshAllowedCIDRs).toEqual(["198.51.100.7/32"]);
      for (const address of ["198.51.100.7", "198.51.100.8"]) must(internet.exec("ip", ["address", "replace", `${address}/32`, "dev", "wan0"]));
      const serve = "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 22)); s.listen(8); print('ready', flush=True)\nwhile True: s.accept()[0].close()";
      listener = spawn("ip", ["netns", "exec", gateway.name, "/usr/bin/python3", "-c", serve], { stdio: ["ignore", "pipe", "inherit"] });
      let output = "";
      listener.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      await waitFor("the SSH port's listener", 10_000, () => output.includes("ready"));
      const connect = (source: string) =>
        internet.exec("/usr/bin/python3", ["-c", "import socket,sys; socket.create_connection(('192.0.2.2', 22), timeout=2, source_address=(sys.argv[1], 0)).close()", source]).status;
      expect(connect("198.51.100.7"), "from sshAllowedCIDRs").toBe(0);
      expect(connect("198.51.100.8"), "from elsewhere").not.toBe(0);
      expect(connect("192.0.2.1"), "from the member's own link").not.toBe(0);
    });

    it("stays when the main table is deleted or reloaded", () => {
      wireClosed(subject(), "10.0.1.5");
      const tables = () => gateway.exec("nft", ["list", "tables"]).stdout.split("\n").filter((line) => line.includes("natgw")).sort();
      expect(tables()).toEqual(["table inet natgw", "table inet natgw_baseline"]);
      must(gateway.exec("nft", ["delete", "table", "inet", "natgw"]));
      expect(tables()).toEqual(["table inet natgw_baseline"]);
      wire(subject(), ["10.0.1.5"]);
      expect(tables()).toEqual(["table inet natgw", "table inet natgw_baseline"]);
    });
  });
});
