import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { namespacePids, readCmdline, readComm } from "./processes.js";

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The member's config.json, as natgw build wrote it: the lab reads what it needs from the contract. */
export interface MemberConfig {
  readonly gateway: string;
  readonly mode: "single" | "ha";
  readonly member: { readonly name: string; readonly index: number; readonly privateIp: string };
  readonly network: { readonly id: number | null; readonly name: string | null; readonly ipRange: string; readonly subnet: string; readonly routerIp: string };
  readonly routes: readonly string[];
  readonly egressIPs: readonly { readonly name: string; readonly floatingIPId: number | null }[];
}

/** A process inside a namespace: a member (with its own files) or another host. */
export class Host {
  constructor(
    readonly name: string,
    readonly namespace: string,
    private readonly enter: readonly string[],
  ) {}

  exec(argv: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): RunResult {
    const result = spawnSync(this.enter[0]!, [...this.enter.slice(1), ...argv], {
      encoding: "utf8",
      input: options.input,
      env: { ...process.env, ...options.env },
      timeout: 180_000,
    });
    return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
  }

  /** Like exec, but fails with the command's own words when it fails. */
  must(argv: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): string {
    const result = this.exec(argv, options);
    if (result.status !== 0) throw new Error(`${this.name}: ${argv.join(" ")} exited ${result.status}: ${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  /** A process in the namespace, its output piped; its input too when asked (`stdin: "pipe"`). */
  spawn(argv: readonly string[], stdin: "ignore" | "pipe" = "ignore"): ChildProcess {
    return spawn(this.enter[0]!, [...this.enter.slice(1), ...argv], { stdio: [stdin, "pipe", "pipe"] });
  }
}

export class Member extends Host {
  constructor(
    name: string,
    namespace: string,
    enter: readonly string[],
    readonly config: MemberConfig,
    readonly serverId: number,
    readonly publicIp: string,
    /** The cloud's end of the member's private link. */
    readonly cloudPrivateLink: string,
  ) {
    super(name, namespace, enter);
  }

  ctl(...args: string[]): RunResult {
    return this.exec(["/usr/local/sbin/natgw-ctl", ...args]);
  }

  json<T>(...args: string[]): T {
    return JSON.parse(this.must(["/usr/local/sbin/natgw-ctl", ...args, "--json"])) as T;
  }

  /** The role as natgw-ctl tells it: keepalived's live state, "unknown" while none runs. */
  vrrpState(): string {
    return this.exec(["/usr/local/sbin/natgw-ctl", "role"]).stdout.trim();
  }

  /**
   * What a failed test needs to tell why: the member's role, its keepalived
   * processes and recorded state, and the end of what its services logged (the
   * lab's systemctl keeps a journal and each service's output under /run/lab-systemd).
   */
  evidence(lines = 40): string {
    const tail = (file: string) => this.exec(["tail", "-n", String(lines), file]).stdout.trimEnd() || "(empty)";
    return [
      `--- ${this.name}: role ${this.vrrpState()}, keepalived pids [${this.keepalivedPids().join(", ")}]`,
      `--- ${this.name}: /var/lib/natgw/vrrp-state (STATE PID START)`,
      tail("/var/lib/natgw/vrrp-state"),
      `--- ${this.name}: /run/lab-systemd/journal`,
      tail("/run/lab-systemd/journal"),
      `--- ${this.name}: /run/lab-systemd/keepalived.service.log`,
      tail("/run/lab-systemd/keepalived.service.log"),
      `--- ${this.name}: conntrack entries, and the kernel's conntrack statistics`,
      this.exec(["conntrack", "-C"]).stdout.trim(),
      this.exec(["conntrack", "-S"]).stdout.trimEnd(),
      `--- ${this.name}: natgw's counters`,
      this.exec(["nft", "list", "counters", "table", "inet", "natgw"]).stdout.replace(/\n\s*\n/g, "\n").trimEnd(),
    ].join("\n");
  }

  /** When natgw-ctl notify last recorded a state, in milliseconds since the epoch. */
  vrrpStateTime(): number {
    return Math.round(Number(this.must(["stat", "-c", "%.3Y", "/var/lib/natgw/vrrp-state"]).trim()) * 1000);
  }

  /** The packets of one of the ruleset's named counters. */
  counter(name: string): number {
    const listing = JSON.parse(this.must(["nft", "-j", "list", "counter", "inet", "natgw", name])) as { nftables: { counter?: { packets: number } }[] };
    return listing.nftables.find((entry) => entry.counter)!.counter!.packets;
  }

  /** The member's processes running a program, by its name. */
  pidsOf(program: string): number[] {
    return namespacePids(this.namespace).filter((pid) => readComm(pid) === program);
  }

  /** keepalived's processes (the parent and its VRRP child). */
  keepalivedPids(): number[] {
    return this.pidsOf("keepalived");
  }

  /**
   * keepalived dies as in a crash: every process is stopped before any is killed,
   * since a VRRP child that outlives its parent for a moment says goodbye (a
   * priority 0 advert), and the standby would take over at once.
   */
  crashKeepalived(): void {
    const pids = this.keepalivedPids();
    for (const pid of pids) process.kill(pid, "SIGSTOP");
    for (const pid of pids) process.kill(pid, "SIGKILL");
  }

  /**
   * natgw-ctl processes running `command` (bash runs the script, so its command
   * line tells). keepalived's notify_master runs the takeover program (`python3
   * /usr/local/lib/natgw/takeover run`), `natgw-ctl takeover` becomes it, and
   * reconcile runs it too: for "takeover", those count.
   */
  ctlPids(command: string): number[] {
    return namespacePids(this.namespace).filter((pid) => {
      const argv = readCmdline(pid);
      if (command === "takeover" && argv.some((arg) => arg.endsWith("/natgw/takeover"))) return true;
      return argv.some((arg) => arg.endsWith("/natgw-ctl")) && argv.includes(command);
    });
  }
}
