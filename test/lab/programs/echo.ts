/**
 * The internet's echo service: it answers every connection or datagram with the
 * source address and port it sees, so a worker learns what its traffic looked
 * like after the gateway. TCP port 80 speaks HTTP, with the address alone as the
 * body, as the probe URL of `natgw-ctl status` expects; TCP port 7 keeps the
 * connection and answers every line with "LINE ADDRESS PORT"; the other TCP ports
 * and UDP answer with one line, "ADDRESS PORT".
 *
 *   echo ADDRESSES TCP_PORTS UDP_PORTS     e.g. echo 192.0.2.100,203.0.113.5 25,80,443 53
 *
 * UDP sockets are bound to each address: an answer must leave from the address
 * the probe was sent to, or the prober's connected socket would not take it.
 */
import { createSocket } from "node:dgram";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import { createInterface } from "node:readline";

/** The port whose connections stay open, for flows that must outlive a failover. */
const STREAM_PORT = 7;

const [addressList = "", tcpPorts = "", udpPorts = ""] = process.argv.slice(2);
const addresses = addressList.split(",").filter(Boolean);
const ports = (list: string) => list.split(",").filter(Boolean).map(Number);
const listening: Promise<void>[] = [];

/**
 * What a connection to a TCP port other than 80 gets. A client that resets its
 * connection ends that connection only: the socket's errors (which readline
 * passes on) are heard, since an unheard error would end the process and take
 * the internet down for every other flow.
 */
function serve(port: number, socket: Socket): void {
  socket.on("error", () => socket.destroy());
  if (port !== STREAM_PORT) {
    socket.end(`${socket.remoteAddress} ${socket.remotePort}\n`);
    return;
  }
  createInterface({ input: socket })
    .on("line", (line) => socket.write(`${line} ${socket.remoteAddress} ${socket.remotePort}\n`))
    .on("error", () => undefined);
}

for (const port of ports(tcpPorts)) {
  const server =
    port === 80
      ? createHttpServer((request, response) => {
          response.writeHead(200, { "Content-Type": "text/plain", "X-Source-Port": String(request.socket.remotePort) });
          response.end(`${request.socket.remoteAddress}\n`);
        })
      : createServer((socket) => serve(port, socket));
  listening.push(new Promise((resolve) => server.listen(port, "0.0.0.0", resolve)));
}

for (const port of ports(udpPorts)) for (const address of addresses) {
  const socket = createSocket("udp4");
  socket.on("message", (message, sender) => {
    // The probe's own text comes back first, so a prober can match answers to probes.
    socket.send(`${message.toString().trim()} ${sender.address} ${sender.port}\n`, sender.port, sender.address);
  });
  // An answer that cannot leave is lost, as on the internet; the service goes on.
  socket.on("error", () => undefined);
  listening.push(new Promise((resolve) => socket.bind(port, address, resolve)));
}

await Promise.all(listening);
process.stdout.write("ready\n");
