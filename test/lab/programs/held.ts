/**
 * Established connections, many of them, as a worker's traffic meets a failover:
 * TCP_COUNT TCP connections to the echo service's stream port and UDP_COUNT
 * connected UDP sockets to one of its UDP ports, from the addresses of SOURCES in
 * turn (a CIDR the worker holds, or "-" for the kernel's choice). Each flow sends
 * a numbered line every INTERVAL_MS, the flows spread evenly over the interval,
 * and the echo service answers every line with the address and port it saw: the
 * egress IP and SNAT port. "ready" comes once every flow has had an answer.
 *
 * Then, for every line "report FROM AFTER UNTIL" on stdin (milliseconds since the
 * epoch): once every flow has answered after AFTER or ended, or at UNTIL at the
 * latest, one JSON line with every flow as it went from FROM to then.
 *
 *   {"flows":[{"kind":"tcp","local":"10.0.2.5:41000","before":"192.0.2.10:41000",
 *     "seen":["192.0.2.10:41000"],"ended":null,"gap":812,"resumed":1764669600812,
 *     "last":1764669609000}]}
 *
 * before: the mapping of the last answer before FROM; seen: every mapping of an
 * answer in the window; ended: null while the flow lives, else how the TCP
 * connection ended ("closed", or the error's code); gap: the longest time without
 * an answer in the window, counted from FROM; resumed: when the answer that ended
 * that gap came (null when none came after FROM); last: when the last answer in
 * the window came. A connected UDP socket reports the ICMP errors of a moment
 * without a route; those end no flow.
 *
 *   held HOST TCP_PORT UDP_PORT TCP_COUNT UDP_COUNT INTERVAL_MS SOURCES
 */
import { createSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { addressesOf } from "./addresses.js";

const [host = "", tcpPort = "7", udpPort = "53", tcpCount = "0", udpCount = "0", interval = "200", sourceRange = "-"] = process.argv.slice(2);
const sources = sourceRange === "-" ? [undefined] : addressesOf(sourceRange);
const intervalMs = Number(interval);
/** How many TCP connections are being set up at once, so a thousand do not flood the SYN queue. */
const CONNECTING = 50;

interface Flow {
  readonly kind: "tcp" | "udp";
  local: string;
  /** Every answer: when it came and the mapping it reported. */
  readonly answers: { time: number; mapping: string }[];
  ended: string | null;
  send(line: string): void;
}

const flows: Flow[] = [];

/** Answers kept per flow: minutes of them, enough for any report's window. */
const KEPT = 1_000;

function answer(flow: Flow, line: string): void {
  const [, address, port] = line.trim().split(" ");
  flow.answers.push({ time: Date.now(), mapping: `${address}:${port}` });
  if (flow.answers.length > 2 * KEPT) flow.answers.splice(0, KEPT);
}

function openTcp(localAddress: string | undefined): Promise<Flow> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port: Number(tcpPort), ...(localAddress ? { localAddress } : {}) });
    const flow: Flow = { kind: "tcp", local: "", answers: [], ended: null, send: (line) => void (socket.destroyed || socket.write(line)) };
    socket.once("connect", () => {
      flow.local = `${socket.localAddress}:${socket.localPort}`;
      resolve(flow);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      flow.ended ??= error.code ?? error.message;
      reject(error);
    });
    socket.once("close", () => (flow.ended ??= "closed"));
    // readline passes the socket's errors on: handled above, so ignored here.
    createInterface({ input: socket })
      .on("line", (line) => answer(flow, line))
      .on("error", () => undefined);
  });
}

function openUdp(localAddress: string | undefined): Promise<Flow> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    const flow: Flow = { kind: "udp", local: "", answers: [], ended: null, send: (line) => socket.send(line) };
    socket.on("message", (message) => answer(flow, message.toString()));
    socket.on("error", () => undefined);
    socket.bind({ address: localAddress, port: 0 }, () =>
      socket.connect(Number(udpPort), host, () => {
        flow.local = `${socket.address().address}:${socket.address().port}`;
        resolve(flow);
      }),
    );
  });
}

let turn = 0;
const nextSource = () => sources[turn++ % sources.length];
for (let opened = 0; opened < Number(tcpCount); opened += CONNECTING) {
  const batch = Array.from({ length: Math.min(CONNECTING, Number(tcpCount) - opened) }, () => openTcp(nextSource()));
  flows.push(...(await Promise.all(batch)));
}
for (let opened = 0; opened < Number(udpCount); opened += 1) flows.push(await openUdp(nextSource()));

// Every flow sends once an interval, each at its own offset within it.
let sequence = 0;
flows.forEach((flow, index) => {
  setTimeout(
    () => {
      const send = () => flow.send(`${(sequence += 1)}\n`);
      send();
      setInterval(send, intervalMs);
    },
    Math.floor((index * intervalMs) / flows.length),
  );
});

while (flows.some((flow) => flow.answers.length === 0)) await new Promise((resolve) => setTimeout(resolve, intervalMs));
process.stdout.write("ready\n");

function report(from: number, to: number) {
  return flows.map((flow) => {
    const before = flow.answers.filter((entry) => entry.time < from).at(-1);
    const inWindow = flow.answers.filter((entry) => entry.time >= from && entry.time <= to);
    let gap = 0;
    let resumed: number | null = null;
    let previous = from;
    for (const entry of inWindow) {
      if (entry.time - previous > gap) [gap, resumed] = [entry.time - previous, entry.time];
      previous = entry.time;
    }
    if (to - previous > gap) [gap, resumed] = [to - previous, null];
    const seen = [...new Set(inWindow.map((entry) => entry.mapping))];
    return { kind: flow.kind, local: flow.local, before: before?.mapping ?? null, seen, ended: flow.ended, gap, resumed, last: inWindow.at(-1)?.time ?? null };
  });
}

const answeredAfter = (time: number) => flows.every((flow) => flow.ended !== null || (flow.answers.at(-1)?.time ?? 0) > time);

createInterface({ input: process.stdin }).on("line", async (line) => {
  const [command, from, after, until] = line.trim().split(" ").map((word, index) => (index === 0 ? word : Number(word)));
  if (command !== "report") return;
  while (!answeredAfter(after as number) && Date.now() < (until as number)) await new Promise((resolve) => setTimeout(resolve, 100));
  process.stdout.write(`${JSON.stringify({ flows: report(from as number, Date.now()) })}\n`);
});
