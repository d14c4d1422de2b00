/**
 * New TCP connections from a worker as fast as they complete: PARALLEL loops,
 * each connecting to the echo service's stream port, sending one line, reading
 * the answer (the address and port the internet saw) and closing, then the next.
 * The worker closes first, so TIME_WAIT stays on the worker's side, where it
 * blocks none of the internet's ports.
 *
 * Connections go to each of DESTINATIONS (comma-separated addresses) from each
 * address of SOURCES (a CIDR the worker holds, or "-" for the kernel's choice) in
 * turn, every pair once before any pair again: with fixed port blocks a source
 * has only a few ports per destination, and a pair reused faster than conntrack
 * forgets it would measure that limit instead of the gateway.
 *
 * Only what ends between COUNT_FROM (milliseconds since the epoch) and
 * DURATION_MS later counts, so several workers started one after the other are
 * counted over the same window, and the connections before it warm up. A
 * connection counts when its answer came and it closed; one refused, reset,
 * closed without an answer or not answered within TIMEOUT_MS is a failure,
 * never a success. "ready" comes at start; at the window's end, one JSON line
 * (started: when the loops began, to tell a worker that missed the window's start;
 * cpuMicroseconds: the CPU time this process took from the window's start to its
 * end, the kernel's work on its packets through the other namespaces included,
 * since a veth delivers them within the sender's system call):
 *
 *   {"connections":N,"failures":N,"reasons":{"ECONNREFUSED":N},"seen":{"192.0.2.11":N},"ports":[MIN,MAX],"milliseconds":N,"started":TIME,"cpuMicroseconds":N}
 *
 *   connections DESTINATIONS PORT SOURCES PARALLEL COUNT_FROM_MS DURATION_MS TIMEOUT_MS
 */
import { connect } from "node:net";
import { addressesOf } from "./addresses.js";

const [destinationList = "", port = "7", sourceRange = "-", parallel = "1", countFrom = "0", duration = "1000", timeout = "1000"] = process.argv.slice(2);
const destinations = destinationList.split(",").filter(Boolean);
const sources = sourceRange === "-" ? [undefined] : addressesOf(sourceRange);
const windowStart = Number(countFrom);
const windowEnd = windowStart + Number(duration);

let connections = 0;
let failures = 0;
const reasons: Record<string, number> = {};
const seen: Record<string, number> = {};
let lowestPort = Infinity;
let highestPort = -Infinity;
let turns = 0;

const counted = (time: number) => time >= windowStart && time < windowEnd;

function fail(reason: string): void {
  if (!counted(Date.now())) return;
  failures += 1;
  reasons[reason] = (reasons[reason] ?? 0) + 1;
}

/** One connection: resolves when it ended, one way or the other. */
function once(): Promise<void> {
  const turn = turns++;
  const localAddress = sources[turn % sources.length];
  const host = destinations[Math.floor(turn / sources.length) % destinations.length]!;
  return new Promise((resolve) => {
    let answer: { address: string; port: number } | undefined;
    let received = "";
    let failed = false;
    const socket = connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
    const failWith = (reason: string) => {
      if (failed) return;
      failed = true;
      fail(reason);
      socket.destroy();
    };
    socket.setTimeout(Number(timeout), () => failWith("timeout"));
    socket.once("connect", () => socket.write("1\n"));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
      if (!received.includes("\n")) return;
      const match = /^1 (\d+\.\d+\.\d+\.\d+) (\d+)\n$/.exec(received);
      if (!match) return failWith("odd answer");
      answer = { address: match[1]!, port: Number(match[2]) };
      socket.end();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => failWith(error.code ?? error.message));
    socket.once("close", () => {
      if (failed) return resolve();
      if (!answer) {
        fail("closed without an answer");
        return resolve();
      }
      if (counted(Date.now())) {
        connections += 1;
        seen[answer.address] = (seen[answer.address] ?? 0) + 1;
        lowestPort = Math.min(lowestPort, answer.port);
        highestPort = Math.max(highestPort, answer.port);
      }
      resolve();
    });
  });
}

async function loop(): Promise<void> {
  while (Date.now() < windowEnd) await once();
}

const started = Date.now();
process.stdout.write("ready\n");
let cpuAtStart = process.cpuUsage();
setTimeout(() => (cpuAtStart = process.cpuUsage()), windowStart - started);
await Promise.all(Array.from({ length: Number(parallel) }, loop));
const cpu = process.cpuUsage(cpuAtStart);
const ports = connections > 0 ? [lowestPort, highestPort] : [];
const cpuMicroseconds = cpu.user + cpu.system;
process.stdout.write(`${JSON.stringify({ connections, failures, reasons, seen, ports, milliseconds: windowEnd - windowStart, started, cpuMicroseconds })}\n`);
