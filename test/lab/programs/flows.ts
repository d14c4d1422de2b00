/**
 * Long-lived flows from a worker, as an established connection sees a failover:
 * one TCP connection to the echo service's stream port and one UDP socket, each
 * sending a numbered line every INTERVAL milliseconds for as long as it runs.
 * Every answer is printed as one JSON line with the address and port the internet
 * saw (the egress IP and the SNAT port); the TCP connection's end or error is
 * printed too, since a connection that did not survive ends one way or the other.
 * "ready" comes once both are connected.
 *
 *   flows HOST TCP_PORT UDP_PORT INTERVAL_MS
 */
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { createInterface } from "node:readline";

const [host = "", tcpPort = "7", udpPort = "53", interval = "100"] = process.argv.slice(2);

function print(record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: Date.now(), ...record })}\n`);
}

function answer(kind: "tcp" | "udp", line: string): void {
  const [sequence, address, port] = line.trim().split(" ");
  print({ kind, sequence: Number(sequence), address, port: Number(port) });
}

let sequence = 0;
const tcp = connect({ host, port: Number(tcpPort) });
const udp = createSocket("udp4");
udp.on("message", (message) => answer("udp", message.toString()));
udp.on("error", (error) => print({ kind: "udp", event: "error", message: error.message }));
tcp.on("error", (error) => print({ kind: "tcp", event: "error", message: error.message }));
tcp.on("close", () => print({ kind: "tcp", event: "closed" }));
// readline passes the socket's errors on: printed above, so ignored here.
createInterface({ input: tcp })
  .on("line", (line) => answer("tcp", line))
  .on("error", () => undefined);
tcp.once("connect", () => {
  udp.connect(Number(udpPort), host, () => {
    process.stdout.write("ready\n");
    setInterval(() => {
      sequence += 1;
      if (!tcp.destroyed) tcp.write(`${sequence}\n`);
      udp.send(String(sequence));
    }, Number(interval));
  });
});
