// A load generator for the network lab: every CPU kept busy while failovers run.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { running, tryKill, waitFor } from "./processes.js";

/**
 * One busy process per CPU: plain computation at normal priority, no I/O and no
 * network, the way a member's CPUs look when something else on it (or a noisy
 * neighbour on a shared vCPU) takes all they have. natgw's work on the failover
 * path (keepalived's track script, the notify, the takeover) then competes with
 * it for every slice of CPU time.
 *
 * Each spinner checks now and then that the process that started it is still its
 * parent and exits when not, so a test runner killed with SIGKILL (no exit handler
 * runs) leaves no spinner behind; `stop` and the lab's own stop kill them too.
 */
const SPIN = `const parent = Number(process.argv[1]);
for (;;) {
  for (let i = 0; i < 5e6; i += 1);
  if (process.ppid !== parent) process.exit(0);
}`;

export class CpuLoad {
  private constructor(readonly processes: readonly ChildProcess[]) {}

  /** One spinner per CPU this process may run on (os.availableParallelism, which honours the affinity mask). */
  static start(count = availableParallelism()): CpuLoad {
    const processes = Array.from({ length: count }, () => spawn(process.execPath, ["-e", SPIN, String(process.pid)], { stdio: "ignore" }));
    return new CpuLoad(processes);
  }

  get pids(): number[] {
    return this.processes.map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** CPU seconds the spinners have used so far (user and system time, from /proc). */
  cpuSeconds(): number {
    const ticks = 100; // USER_HZ, fixed at 100 on Linux for /proc's fields.
    return this.pids.reduce((sum, pid) => {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        return sum + (Number(fields[11]) + Number(fields[12])) / ticks;
      } catch {
        return sum;
      }
    }, 0);
  }

  /** Resolves once every spinner has used CPU time: the load is on. */
  async started(): Promise<this> {
    await waitFor("every CPU spinner to be running", 10_000, () => this.pids.length === this.processes.length && this.pids.every(running) && this.cpuSeconds() > 0.05 * this.pids.length);
    return this;
  }

  /** Kills every spinner and waits until none runs. */
  async stop(): Promise<void> {
    this.pids.forEach(tryKill);
    await waitFor("the CPU spinners to be gone", 10_000, () => this.pids.every((pid) => !running(pid)));
  }
}
