/**
 * The lab's stand-in for systemd on a member. A network namespace has no init, so
 * this `systemctl` runs the Exec lines of the generated unit files (and Debian's
 * keepalived.service with natgw's drop-in) exactly as written, honouring what
 * natgw's units rely on: Requires= and BindsTo= (a unit starts only after the
 * units it needs started, and stops with them), ExecStartPre= failing the start,
 * Type=oneshot with RemainAfterExit=, long-running services with $MAINPID,
 * EnvironmentFile=, ConditionFileNotEmpty=, Restart=on-failure|always with
 * RestartSec= (a supervisor process per restartable service), and systemd's
 * quoting, `$$` and `%%`.
 *
 * Units outside the lab (node-exporter, kernel module loading, timers) are
 * reported and skipped: loading modules from a namespace would change the host.
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { alive } from "../processes.js";
import { splitExecLine } from "./exec-line.js";
import { environmentOf, list, loadUnit, single, type Unit } from "./unit-file.js";

const STATE_DIR = "/run/lab-systemd";
const LAB_UNITS = new Set([
  "natgw-baseline.service",
  "natgw-ruleset.service",
  "natgw-forwarding.service",
  "natgw-watchdog.service",
  "natgw-metrics.service",
  "natgw-natlog.service",
  "keepalived.service",
  "conntrackd.service",
]);

const statePath = (name: string) => join(STATE_DIR, name);

interface State {
  readonly active: boolean;
  readonly pid?: number;
  /** The process that restarts the service when it exits (Restart=). */
  readonly supervisor?: number;
}

function readState(name: string): State {
  try {
    return JSON.parse(readFileSync(statePath(name), "utf8")) as State;
  } catch {
    return { active: false };
  }
}

function writeState(name: string, state: State): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(statePath(name), JSON.stringify(state));
}

function isActive(name: string): boolean {
  const state = readState(name);
  if (!state.active) return false;
  if (state.pid !== undefined && !alive(state.pid)) {
    // Between a crash and its restart the unit is not active, but still wanted.
    if (!restarting(state)) writeState(name, { active: false });
    return false;
  }
  return true;
}

function restarting(state: State): boolean {
  return state.active && state.supervisor !== undefined && alive(state.supervisor);
}

/** Restart= of a service: whether an exit with this code or signal restarts it. */
function restartsAfter(unit: Unit, code: number | null): boolean {
  const policy = single(unit, "Restart") ?? "no";
  return policy === "always" || (policy === "on-failure" && code !== 0);
}

/**
 * Runs the service's main process, detached, with its output in its log, under
 * reaper.py (next to this program), which reaps and kills what the service
 * leaves behind as systemd would; its pid stands for the service's.
 */
function launch(unit: Unit, environment: Record<string, string>) {
  const [line] = unit.directives.get("ExecStart") ?? [];
  if (!line) throw new Error(`${unit.name} has no ExecStart`);
  const { argv } = splitExecLine(line, environment);
  mkdirSync(STATE_DIR, { recursive: true });
  const log = openSync(join(STATE_DIR, `${unit.name}.log`), "a");
  const reaper = join(dirname(process.argv[1]!), "reaper.py");
  const child = spawn("/usr/bin/python3", [reaper, ...argv], { detached: true, stdio: ["ignore", log, log], env: { ...process.env, ...environment } });
  closeSync(log);
  return child;
}

/**
 * The supervisor of a service with Restart=: runs it, and after every exit that
 * the policy restarts (unless the unit was stopped meanwhile) waits RestartSec,
 * runs ExecStartPre again and starts it anew, as systemd does.
 */
async function supervise(name: string): Promise<void> {
  const unit = loadUnit(name);
  if (!unit) throw new Error(`Unit ${name} not found.`);
  const restartSeconds = Number(single(unit, "RestartSec") ?? "0.1");
  let first = true;
  while (true) {
    const environment = environmentOf(unit);
    if (!first && !(unit.directives.get("ExecStartPre") ?? []).every((line) => runLine(unit, line, environment))) {
      journal(`${name}: ExecStartPre failed on restart; trying again\n`);
    } else {
      const child = launch(unit, environment);
      writeState(name, { active: true, pid: child.pid!, supervisor: process.pid });
      const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
      journal(`${name}: main process ${child.pid} exited (${code ?? "signal"})\n`);
      const state = readState(name);
      if (!state.active || state.pid !== child.pid) return;
      if (!restartsAfter(unit, code)) {
        writeState(name, { active: false });
        return;
      }
      journal(`${name}: restarting in ${restartSeconds}s\n`);
    }
    first = false;
    await new Promise((resolve) => setTimeout(resolve, restartSeconds * 1000));
    if (!readState(name).active) return;
  }
}

function journal(text: string): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(join(STATE_DIR, "journal"), text, { flag: "a" });
}

/** Runs one Exec line to completion; its output goes to the journal. */
function runLine(unit: Unit, line: string, environment: Record<string, string>): boolean {
  const { argv, ignoreFailure } = splitExecLine(line, environment);
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, ...environment }, stdio: ["ignore", "pipe", "pipe"] });
  journal(`${unit.name}: ${argv.join(" ")} -> ${result.status ?? result.signal}\n${result.stdout}${result.stderr}`);
  if (result.status !== 0) process.stderr.write(result.stderr);
  return result.status === 0 || ignoreFailure;
}

function unitsRequiring(name: string): string[] {
  const names = new Set<string>(LAB_UNITS);
  if (existsSync("/etc/systemd/system")) for (const entry of readdirSync("/etc/systemd/system")) if (entry.endsWith(".service")) names.add(entry);
  return [...names].sort().filter((candidate) => {
    const unit = loadUnit(candidate);
    return unit !== null && [...list(unit, "Requires"), ...list(unit, "BindsTo")].includes(name);
  });
}

function start(name: string, chain: string[] = []): boolean {
  if (!LAB_UNITS.has(name)) {
    process.stderr.write(`lab systemctl: ${name} is not run in the lab; skipped\n`);
    return true;
  }
  if (isActive(name) || restarting(readState(name))) return true;
  if (chain.includes(name)) throw new Error(`dependency cycle: ${[...chain, name].join(" -> ")}`);
  const unit = loadUnit(name);
  if (!unit) {
    process.stderr.write(`Unit ${name} not found.\n`);
    return false;
  }
  for (const dependency of [...new Set([...list(unit, "Requires"), ...list(unit, "BindsTo")])]) {
    if (!start(dependency, [...chain, name])) {
      process.stderr.write(`A dependency job for ${name} failed.\n`);
      return false;
    }
  }
  for (const path of unit.directives.get("ConditionFileNotEmpty") ?? []) {
    if (!existsSync(path) || statSync(path).size === 0) {
      journal(`${name}: condition ConditionFileNotEmpty=${path} not met\n`);
      return true;
    }
  }
  const environment = environmentOf(unit);
  for (const line of unit.directives.get("ExecStartPre") ?? []) {
    if (!runLine(unit, line, environment)) {
      process.stderr.write(`Job for ${name} failed (ExecStartPre).\n`);
      writeState(name, { active: false });
      return false;
    }
  }
  const type = single(unit, "Type") ?? "simple";
  if (type === "oneshot") {
    for (const line of unit.directives.get("ExecStart") ?? []) {
      if (!runLine(unit, line, environment)) {
        process.stderr.write(`Job for ${name} failed.\n`);
        writeState(name, { active: false });
        return false;
      }
    }
    writeState(name, { active: single(unit, "RemainAfterExit") === "yes" });
    return true;
  }
  if ((single(unit, "Restart") ?? "no") !== "no") {
    const supervisor = spawn(process.execPath, [process.argv[1]!, "__supervise", name], { detached: true, stdio: "ignore" });
    supervisor.unref();
    for (let waited = 0; waited < 100 && readState(name).supervisor !== supervisor.pid; waited += 1) spawnSync("sleep", ["0.05"]);
  } else {
    const child = launch(unit, environment);
    child.unref();
    if (child.pid === undefined) return false;
    writeState(name, { active: true, pid: child.pid });
  }
  // A daemon that exits at once (a configuration it refuses) failed to start.
  spawnSync("sleep", ["0.2"]);
  return isActive(name);
}

function stop(name: string): boolean {
  if (!LAB_UNITS.has(name)) return true;
  for (const dependent of unitsRequiring(name)) if (isActive(dependent) || restarting(readState(dependent))) stop(dependent);
  const unit = loadUnit(name);
  const state = readState(name);
  // Inactive first, so a supervisor does not restart what is being stopped.
  writeState(name, { active: false });
  let ok = true;
  if (unit && state.active) {
    const environment = { ...environmentOf(unit), ...(state.pid ? { MAINPID: String(state.pid) } : {}) };
    for (const line of unit.directives.get("ExecStop") ?? []) ok = runLine(unit, line, environment) && ok;
    if (state.pid !== undefined && alive(state.pid)) {
      process.kill(state.pid, "SIGTERM");
      for (let waited = 0; waited < 50 && alive(state.pid); waited += 1) spawnSync("sleep", ["0.1"]);
      if (alive(state.pid)) process.kill(state.pid, "SIGKILL");
    }
  }
  writeState(name, { active: false });
  return ok;
}

function reload(name: string): boolean {
  const unit = loadUnit(name);
  if (!unit || !isActive(name)) {
    process.stderr.write(`${name} is not active, cannot reload.\n`);
    return false;
  }
  const state = readState(name);
  const environment = { ...environmentOf(unit), ...(state.pid ? { MAINPID: String(state.pid) } : {}) };
  return (unit.directives.get("ExecReload") ?? []).every((line) => runLine(unit, line, environment));
}

function main(args: string[]): number {
  const flags = new Set(args.filter((arg) => arg.startsWith("-")));
  const [command, ...units] = args.filter((arg) => !arg.startsWith("-"));
  switch (command) {
    case "daemon-reload":
      return 0;
    case "start":
      return units.every((unit) => start(unit)) ? 0 : 1;
    case "enable":
      return !flags.has("--now") || units.every((unit) => start(unit)) ? 0 : 1;
    case "stop":
      return units.map((unit) => stop(unit)).every(Boolean) ? 0 : 1;
    case "disable":
      return !flags.has("--now") || units.map((unit) => stop(unit)).every(Boolean) ? 0 : 1;
    case "restart":
      return units.every((unit) => (isActive(unit) ? stop(unit) : true) && start(unit)) ? 0 : 1;
    case "reload":
      return units.every((unit) => reload(unit)) ? 0 : 1;
    case "is-active": {
      const active = units.every((unit) => isActive(unit));
      if (!flags.has("--quiet") && !flags.has("-q")) console.log(active ? "active" : "inactive");
      return active ? 0 : 3;
    }
    default:
      process.stderr.write(`lab systemctl: ${command ?? "(none)"} is not supported\n`);
      return 1;
  }
}

try {
  if (process.argv[2] === "__supervise") await supervise(process.argv[3]!);
  else process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`lab systemctl: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
