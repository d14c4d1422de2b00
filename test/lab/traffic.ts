import type { Interface } from "node:readline";
import type { Host, Lab, Member } from "./lab.js";
import { INTERNET, waitFor } from "./lab.js";

/** What the echo service saw: the source address and port after the gateway. */
export interface Seen {
  readonly address: string;
  readonly port: number;
}

/**
 * One TCP connection from a host to the echo service; what it saw, or null when
 * no answer came within the timeout.
 */
export function tcpEcho(host: Host, address: string, port: number, timeoutSeconds = 2): Seen | null {
  const result = host.exec(["timeout", String(timeoutSeconds), "bash", "-c", `exec 3<>/dev/tcp/${address}/${port} && head -1 <&3`]);
  return parseSeen(result.status === 0 ? result.stdout : "");
}

/** One UDP datagram to the echo service and its answer, or null. */
export function udpEcho(host: Host, address: string, port: number, timeoutSeconds = 2): Seen | null {
  const result = host.exec(["timeout", String(timeoutSeconds), "bash", "-c", `exec 3<>/dev/udp/${address}/${port} && echo probe >&3 && head -1 <&3`]);
  const words = result.status === 0 ? result.stdout.trim().split(" ") : [];
  return parseSeen(words.slice(1).join(" "));
}

/**
 * One TCP connection to the echo service from a given source address of the host
 * (bash cannot choose one, so python3 connects); what it saw, or null.
 */
export function tcpEchoFrom(host: Host, source: string, address: string, port: number, timeoutSeconds = 2): Seen | null {
  const script = "import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[4]), source_address=(sys.argv[3], 0)); print(s.makefile().readline().strip())";
  const result = host.exec(["timeout", String(timeoutSeconds + 1), "python3", "-c", script, address, String(port), source, String(timeoutSeconds)]);
  return parseSeen(result.status === 0 ? result.stdout : "");
}

/**
 * Packets that are no connection's: a FIN, an RST and a SYN+FIN from the host to
 * the address, with hping3 (raw sockets). conntrack marks each INVALID; none may
 * leave the gateway, with or without NAT.
 */
export function strayTcpSegments(host: Host, address: string, port: number): void {
  for (const flags of STRAY_FLAGS) {
    host.exec(["hping3", "--count", "1", ...flags, "--destport", String(port), "--baseport", "40000", address]);
  }
}

const STRAY_FLAGS = [["-F"], ["-R"], ["-S", "-F"]] as const;

/** The same segments, ten a second of each kind, from new source ports, until the lab stops. */
export function strayTcpStream(lab: Lab, host: Host, address: string, port: number): void {
  for (const flags of STRAY_FLAGS) lab.background(host, ["hping3", "--interval", "u100000", ...flags, "--destport", String(port), address]);
}

function parseSeen(line: string): Seen | null {
  const match = /^(\d+\.\d+\.\d+\.\d+) (\d+)$/.exec(line.trim());
  return match ? { address: match[1]!, port: Number(match[2]) } : null;
}

export interface Probe {
  readonly sequence: number;
  readonly sent: number;
  readonly received: number;
  readonly address: string;
}

/**
 * A worker probing the echo service over UDP every few milliseconds, each probe a
 * new flow; the answers, with when they left and came back, gather in `answers`.
 */
export class Prober {
  readonly answers: Probe[] = [];

  private constructor(lines: Interface) {
    lines.on("line", (line) => this.answers.push(JSON.parse(line) as Probe));
  }

  static async start(lab: Lab, worker: Host, intervalMs = 20): Promise<Prober> {
    const { lines } = await lab.startProgram(worker, "prober", [INTERNET.echo, String(INTERNET.udpPorts[0]), String(intervalMs), "1000"]);
    return new Prober(lines);
  }

  /** The first answer to a probe sent at or after `time`. */
  async answerAfter(time: number, timeoutMs = 10_000): Promise<Probe> {
    return waitFor(`an answer to a probe sent after ${new Date(time).toISOString()}`, timeoutMs, () => this.answers.find((probe) => probe.sent >= time));
  }

  /** The longest time without an answer between two moments. */
  longestGap(from: number, to: number): number {
    const times = [from, ...this.answers.map((probe) => probe.received).filter((time) => time > from && time < to), to];
    return Math.max(...times.slice(1).map((time, index) => time - times[index]!));
  }
}

interface FlowRecord {
  readonly time: number;
  readonly kind: "tcp" | "udp";
  readonly event?: "closed" | "error";
  readonly sequence?: number;
  readonly address?: string;
  readonly port?: number;
  readonly message?: string;
}

/**
 * One long-lived TCP connection and one UDP flow from a worker to the echo
 * service (programs/flows.ts), answered every few milliseconds for the whole
 * suite: what they saw tells whether established connections survived.
 */
export class Flows {
  readonly records: FlowRecord[] = [];

  private constructor(lines: Interface) {
    lines.on("line", (line) => this.records.push(JSON.parse(line) as FlowRecord));
  }

  static async start(lab: Lab, worker: Host, intervalMs = 100): Promise<Flows> {
    const { lines } = await lab.startProgram(worker, "flows", [INTERNET.echo, String(INTERNET.streamPort), String(INTERNET.udpPorts[0]), String(intervalMs)]);
    return new Flows(lines);
  }

  /**
   * The TCP connection's ends and errors: none while it lives. (A connected UDP
   * socket reports the ICMP errors of a moment without a route; that ends no
   * flow, so only the mapping counts for UDP.)
   */
  tcpEvents(): string[] {
    return this.records
      .filter((record) => record.kind === "tcp" && record.event)
      .map((record) => `${record.event}${record.message ? `: ${record.message}` : ""}`);
  }

  /** Every distinct "address:port" the internet saw for one kind of flow. */
  mappings(kind: "tcp" | "udp"): string[] {
    return [...new Set(this.records.filter((record) => record.kind === kind && record.address).map((record) => `${record.address}:${record.port}`))];
  }

  /** Waits for answers of both kinds to lines sent after `time`: both flows carry traffic now. */
  async answeredAfter(time: number, timeoutMs = 30_000): Promise<void> {
    await waitFor("both long-lived flows to answer again", timeoutMs, () =>
      ["tcp", "udp"].every((kind) => this.records.some((record) => record.kind === kind && record.address && record.time > time)) ? true : undefined,
    );
  }
}

/** How a failover went, in milliseconds from the failure. */
export interface Failover {
  readonly case: string;
  /** When the failure happened, in milliseconds since the epoch. */
  readonly at: number;
  /** The standby's keepalived reported MASTER. */
  readonly master: number;
  /** The cloud routed the last floating IP and route to the new active member. */
  readonly moved: number;
  /** A probe sent after that was answered: egress through the new active member. */
  readonly resumed: number;
  /** The longest time the worker got no answer at all. */
  readonly gap: number;
  readonly egressIP: string;
}

/**
 * Fails the active member with `fail` and measures the standby's takeover, from
 * the failure to the first answer of a probe that left after the cloud had moved
 * everything to the standby. Asserts nothing about time: it returns the figures.
 */
export async function measureFailover(lab: Lab, prober: Prober, name: string, to: Member, fail: () => void): Promise<Failover> {
  const before = (await lab.cloudState()).changes.length;
  const failed = Date.now();
  fail();
  await waitFor(`${to.name} to become MASTER`, 15_000, () => to.vrrpState() === "MASTER");
  const master = to.vrrpStateTime();
  const moved = await waitFor(`the cloud to route everything to ${to.name}`, 30_000, async () => {
    const state = await lab.cloudState();
    if (state.pendingActions > 0 || !lab.owns(state, to)) return undefined;
    return Math.max(failed, ...state.changes.slice(before).map((change) => change.time));
  });
  const answer = await prober.answerAfter(moved);
  return { case: name, at: failed, master: master - failed, moved: moved - failed, resumed: answer.received - failed, gap: prober.longestGap(failed, answer.received), egressIP: answer.address };
}

/** The figures as a table for the test output. */
export function failoverTable(failovers: readonly Failover[], actionSeconds: number): string {
  const seconds = (milliseconds: number) => (milliseconds / 1000).toFixed(2).padStart(8);
  const rows = failovers.map((failover) => `${failover.case.padEnd(30)}${seconds(failover.master)}${seconds(failover.moved)}${seconds(failover.resumed)}${seconds(failover.gap)}`);
  return [
    `Failover in the lab (seconds after the failure; emulated API actions take ${actionSeconds} s)`,
    `${"case".padEnd(30)}${"MASTER".padStart(8)}${"moved".padStart(8)}${"egress".padStart(8)}${"gap".padStart(8)}`,
    ...rows,
  ].join("\n");
}

/** What programs/connections.ts counted in its window. */
export interface ConnectionCount {
  readonly connections: number;
  readonly failures: number;
  /** Failures by error code ("ECONNREFUSED", "timeout", …). */
  readonly reasons: Readonly<Record<string, number>>;
  /** Connections by the address the internet saw them from. */
  readonly seen: Readonly<Record<string, number>>;
  /** The lowest and highest source port the internet saw; empty without a connection. */
  readonly ports: readonly number[];
  readonly milliseconds: number;
  /** When the loops began, in milliseconds since the epoch. */
  readonly started: number;
  /** CPU time the worker's process took during the window, its packets' way through the lab included. */
  readonly cpuMicroseconds: number;
}

export interface ConnectionLoop {
  readonly destinations: readonly string[];
  readonly port: number;
  /** A CIDR of the worker's own addresses to connect from in turn; the kernel's choice when absent. */
  readonly sources?: string;
  readonly parallel: number;
  /** When counting starts (milliseconds since the epoch) and how long it lasts. */
  readonly countFrom: number;
  readonly milliseconds: number;
  readonly timeoutMs: number;
}

/**
 * New TCP connections in a loop from a worker (programs/connections.ts): each
 * connected, answered by the echo service's stream port and closed; resolves with
 * the count once the window has passed.
 */
export async function connectionLoop(lab: Lab, worker: Host, loop: ConnectionLoop): Promise<ConnectionCount> {
  const args = [loop.destinations.join(","), loop.port, loop.sources ?? "-", loop.parallel, loop.countFrom, loop.milliseconds, loop.timeoutMs].map(String);
  const { child, lines } = await lab.startProgram(worker, "connections", args);
  return new Promise((resolve, reject) => {
    lines.once("line", (line) => resolve(JSON.parse(line) as ConnectionCount));
    child.once("exit", (code) => reject(new Error(`connections on ${worker.name} exited with ${code} before its count`)));
  });
}
