import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NATLOG_PROGRAM } from "../../src/emit/hosts/natlog.js";
import { PROGRAMS_DIR } from "../../src/emit/hosts/render.js";
import type { RunResult } from "../support/tools.js";
import { waitFor } from "../support/wait.js";
import type { FakeHost, TrafficNamespaces } from "./nft-host.js";

/**
 * The NAT log program (natgw-natlog.service's) run on the member of
 * TrafficNamespaces, for its tests and for `npm run bench -- natlog`.
 */
export type Fields = Record<string, string>;

/** One logfmt line as the program writes it: key=value, a value with a space quoted. */
export function logfmt(line: string): Fields {
  return Object.fromEntries([...line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)].map(([, key, value]) => [key!, value!.startsWith('"') ? JSON.parse(value!) : value!]));
}

export interface RunningNatLog {
  readonly pid: number;
  /** Its `conntrack -E`. */
  readonly conntrackPid: number;
  /** Every line so far, parsed, in order. */
  readonly lines: Fields[];
  /** The lines of one event (translation, failure, summary, lost, start). */
  events(event: string): Fields[];
  /** SIGTERM, and resolves once the program and its conntrack are gone. */
  stop(): Promise<void>;
}

/** Whether a socket in the namespace listens to conntrack's NEW events: NETLINK_NETFILTER (12), group 1. */
function listening(namespaces: TrafficNamespaces): boolean {
  return namespaces.gateway.exec("cat", ["/proc/net/netlink"]).stdout.split("\n").some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1] === "12" && fields[3] === "00000001";
  });
}

/**
 * `count` new UDP flows from the worker to 192.0.2.1 port 53, one source port
 * each (hping3, without name lookups), `intervalUs` apart. Asynchronous: the
 * program writes to a pipe this process reads, and a reader blocked in a
 * synchronous call would stall it, and with it conntrack's events.
 */
export function sendUdpFlows(namespaces: TrafficNamespaces, count: number, intervalUs: number, basePort: number): Promise<RunResult> {
  return namespaces.worker.execAsync("hping3", ["--numeric", "--udp", "--count", String(count), "--interval", `u${intervalUs}`, "--destport", "53", "--baseport", String(basePort), "192.0.2.1"]);
}

/**
 * Starts the program on the member with its fake host's config.json (natLogging's
 * settings changed as given) and cloud.json; resolves once its conntrack listens,
 * since a flow sent before would go unseen.
 */
export async function startNatLog(namespaces: TrafficNamespaces, host: FakeHost, settings: Record<string, number | boolean> = {}): Promise<RunningNatLog> {
  const configPath = join(host.directory, "config.json");
  const config = JSON.parse(readFileSync(configPath, "utf8")) as { natLogging: Record<string, unknown> };
  config.natLogging = { ...config.natLogging, ...settings };
  writeFileSync(configPath, JSON.stringify(config));
  const environment = host.environment.filter((entry) => /^NATGW_(CONFIG|CLOUD)=/.test(entry));
  const child = spawn("ip", ["netns", "exec", namespaces.gateway.name, "env", ...environment, "/usr/bin/python3", `${PROGRAMS_DIR}${NATLOG_PROGRAM.slice(1)}`], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: Fields[] = [];
  let pending = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split("\n");
    pending = parts.pop()!;
    lines.push(...parts.map(logfmt));
  });
  const events = (event: string) => lines.filter((line) => line.event === event);
  await waitFor("the NAT log to start", 10_000, () => events("start").length > 0 || child.exitCode !== null || undefined);
  if (child.exitCode !== null) throw new Error(`the NAT log exited with status ${child.exitCode}`);
  await waitFor("its conntrack to listen for events", 10_000, () => listening(namespaces) || undefined);
  const conntrackPid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(" ")[0]);
  return {
    pid: child.pid!,
    conntrackPid,
    lines,
    events,
    async stop() {
      if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve).kill("SIGTERM"));
      // The program ends its conntrack with it: the next one started must be the only one listening.
      await waitFor("conntrack -E to end with the log", 10_000, () => !listening(namespaces) || undefined);
    },
  };
}
