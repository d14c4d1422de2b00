import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/**
 * Real-tool tests need the Debian packages .ci/run installs. In CI a missing tool
 * is a failure; elsewhere the test is skipped with the reason.
 */
export function hasTool(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).status === 0;
}

export function missingTools(...commands: string[]): string | undefined {
  const missing = commands.filter((command) => !hasTool(command));
  if (missing.length === 0) return undefined;
  if (process.env.CI === "true") throw new Error(`CI lacks ${missing.join(", ")}: .ci/run must install them`);
  return `needs ${missing.join(", ")} (installed by .ci/run)`;
}

/** As missingTools, for a Python module of Debian's python3 and the package that brings it. */
export function missingPythonModule(module: string, debianPackage: string): string | undefined {
  const missing = missingTools("/usr/bin/python3");
  if (missing) return missing;
  if (spawnSync("/usr/bin/python3", ["-c", `import ${module}`]).status === 0) return undefined;
  if (process.env.CI === "true") throw new Error(`CI lacks ${debianPackage}: .ci/run must install it`);
  return `needs ${debianPackage} (installed by .ci/run)`;
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(command: string, args: readonly string[], input?: string): RunResult {
  const result = spawnSync(command, args, { encoding: "utf8", input });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs a command without blocking, for programs that talk to a fake server in
 * this process; `onStart` hears the child's pid, `input` goes to its stdin.
 * Resolves when it has exited.
 */
export function runAsync(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; detached?: boolean; input?: string },
  onStart?: (pid: number) => void,
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: options.env, detached: options.detached ?? false });
    if (options.input !== undefined) child.stdin.end(options.input);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
    if (onStart && child.pid) onStart(child.pid);
  });
}

/**
 * A throwaway network namespace with a member's interfaces: a veth pair named
 * as Hetzner names them (private enp7s0, public eth0). Nothing is routed to the
 * host namespace; `remove` deletes the namespace and with it both ends.
 */
export class Namespace {
  readonly name = `natgw-test-${process.pid}-${randomBytes(3).toString("hex")}`;

  constructor(interfaces: readonly [string, string] = ["enp7s0", "eth0"]) {
    must(run("ip", ["netns", "add", this.name]));
    must(this.exec("ip", ["link", "add", interfaces[0], "type", "veth", "peer", "name", interfaces[1]]));
    for (const name of [...interfaces, "lo"]) must(this.exec("ip", ["link", "set", name, "up"]));
  }

  exec(command: string, args: readonly string[], input?: string): RunResult {
    return run("ip", ["netns", "exec", this.name, command, ...args], input);
  }

  /** As exec, without blocking the event loop: what reads a process's output meanwhile keeps reading. */
  execAsync(command: string, args: readonly string[]): Promise<RunResult> {
    return runAsync("ip", ["netns", "exec", this.name, command, ...args], { env: process.env });
  }

  remove(): void {
    run("ip", ["netns", "del", this.name]);
  }
}

function must(result: RunResult): void {
  if (result.status !== 0) throw new Error(`command failed: ${result.stderr}`);
}
