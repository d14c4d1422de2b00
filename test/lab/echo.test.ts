import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRoot, missingTools } from "../support/tools.js";
import { bundlePrograms, INTERNET } from "./lab.js";

/**
 * The internet's echo service serves every flow of a lab run: if one client's
 * reset ended it, every later probe and held flow would go unanswered, and a
 * test would read that as a failover that never finished. It runs here alone, on
 * the loopback of a network namespace of its own.
 */
const skip = missingTools("unshare", "nsenter", "ip", "python3") ?? (isRoot() ? undefined : "a network namespace needs root");

/** Opens a connection to PORT, sends half a line and resets it (SO_LINGER 0), COUNT times. */
const RESETS = `
import socket, struct, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"half a line")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
`;

/** Sends one line on a new connection to the stream port and prints the answer. */
const ASK = `
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"still there\\n")
print(s.makefile().readline().strip())
`;

describe.skipIf(skip)("the lab's echo service", () => {
  let directory: string;
  let echo: ReturnType<typeof spawn>;
  let ended: Promise<string>;
  const python = (script: string, ...args: string[]) =>
    spawnSync("nsenter", [`--net=/proc/${echo.pid}/ns/net`, "python3", "-c", script, ...args], { encoding: "utf8", timeout: 30_000 });

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), "natgw-echo-"));
    bundlePrograms(directory, ["echo"]);
    const tcpPorts = INTERNET.tcpPorts.filter((port) => port !== 80).join(",");
    echo = spawn("unshare", ["--net", "sh", "-c", `ip link set lo up && exec "${process.execPath}" "${join(directory, "echo.mjs")}" 127.0.0.1 ${tcpPorts} 53`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let errors = "";
    echo.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()));
    ended = new Promise((resolve) => echo.once("exit", (code, signal) => resolve(`exited with ${code ?? signal}: ${errors}`)));
    const first = await Promise.race([createInterface({ input: echo.stdout! })[Symbol.asyncIterator]().next().then(({ value }) => String(value)), ended]);
    expect(first).toBe("ready");
  });

  afterAll(() => {
    if (echo?.exitCode === null) echo.kill("SIGKILL");
    rmSync(directory, { recursive: true, force: true });
  });

  it("goes on answering after clients reset their connections", async () => {
    for (const port of INTERNET.tcpPorts.filter((port) => port !== 80)) {
      const resets = python(RESETS, String(port), "20");
      expect(resets.status, resets.stderr).toBe(0);
    }
    // The first reset ended the old echo service, long before this question.
    const answer = python(ASK, String(INTERNET.streamPort));
    expect(answer.stdout.trim(), `${answer.stderr}${echo.exitCode === null ? "" : await ended}`).toMatch(/^still there 127\.0\.0\.1 \d+$/);
  });
});
