/**
 * A worker's view of egress during a failover: every INTERVAL milliseconds a UDP
 * probe from a new socket (so a new flow, as a new connection would be) to the
 * echo service; each answer is printed as one JSON line with when the probe left,
 * when the answer came and the address the internet saw.
 *
 *   prober HOST PORT INTERVAL_MS TIMEOUT_MS
 */
import { createSocket } from "node:dgram";

const [host = "", port = "0", interval = "20", timeout = "1000"] = process.argv.slice(2);

function probe(sequence: number): void {
  const socket = createSocket("udp4");
  const sent = Date.now();
  const timer = setTimeout(() => socket.close(), Number(timeout));
  socket.on("message", (message) => {
    const [, address, sourcePort] = message.toString().trim().split(" ");
    process.stdout.write(`${JSON.stringify({ sequence, sent, received: Date.now(), address, port: Number(sourcePort) })}\n`);
    clearTimeout(timer);
    socket.close();
  });
  socket.on("error", () => {
    clearTimeout(timer);
    socket.close();
  });
  socket.send(String(sequence), Number(port), host);
}

let sequence = 0;
setInterval(() => probe((sequence += 1)), Number(interval));
process.stdout.write("ready\n");
