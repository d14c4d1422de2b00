import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * Whole processes, timed from spawn to exit: what a user or a CI job waits for,
 * Node's start-up and module loading included.
 */
export interface Command {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface Run {
  readonly seconds: number;
  /** The largest peak RSS among the Node processes of the run; null when none was a Node process. */
  readonly peakRssBytes: number | null;
  readonly exitCode: number | null;
  readonly output: string;
}

export interface Measurement {
  readonly runs: number;
  readonly medianSeconds: number;
  readonly minSeconds: number;
  readonly maxSeconds: number;
  /** The largest peak RSS of any run. */
  readonly peakRssBytes: number | null;
  /** The same in every run: a command whose exit code changes is refused. */
  readonly exitCode: number | null;
  /** stdout and stderr of the last run, to tell a refusal from a success. */
  readonly output: string;
}

const PEAK_RSS_PRELOAD = new URL("./peak-rss.mjs", import.meta.url).href;
let rssFiles = 0;

/** How many times each command runs; its median is reported. NATGW_BENCH_RUNS overrides. */
export function configuredRuns(environment: NodeJS.ProcessEnv = process.env): number {
  return wholeNumberSetting("NATGW_BENCH_RUNS", 5, 1000, environment);
}

/** A whole number from 1 to `maximum` in the environment variable `name`, or `fallback` when unset. */
export function wholeNumberSetting(name: string, fallback: number, maximum: number, environment: NodeJS.ProcessEnv = process.env): number {
  const text = environment[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > maximum) {
    throw new BenchError(`${name} must be a whole number from 1 to ${maximum}; found ${JSON.stringify(text)}`);
  }
  return value;
}

/** A problem with the benchmark's setup or input, printed as one line without a stack trace. */
export class BenchError extends Error {}

/**
 * Runs `command` once. Every Node process it starts reports its peak RSS through
 * peak-rss.mjs into a file of its own under `scratch`.
 */
export function runOnce(command: Command, scratch: string): Promise<Run> {
  const rssFile = join(scratch, `rss-${(rssFiles += 1)}.txt`);
  const nodeOptions = [process.env.NODE_OPTIONS, command.env?.NODE_OPTIONS, `--import=${PEAK_RSS_PRELOAD}`].filter(Boolean).join(" ");
  const env = { ...process.env, ...command.env, NODE_OPTIONS: nodeOptions, NATGW_BENCH_RSS_FILE: rssFile };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let seconds = 0;
    const child = spawn(command.command, [...command.args], { cwd: command.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.on("error", (error) => reject(new BenchError(`cannot run ${command.command}: ${error.message}`)));
    child.on("exit", () => {
      seconds = (performance.now() - started) / 1000;
    });
    child.on("close", (exitCode) => {
      resolve({ seconds, peakRssBytes: readPeakRss(rssFile), exitCode, output: Buffer.concat(chunks).toString("utf8") });
    });
  });
}

/** The largest maxRSS the processes reported, in bytes (getrusage gives KiB). */
function readPeakRss(file: string): number | null {
  if (!existsSync(file)) return null;
  const kibibytes = readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => Number(line.split(" ")[1]));
  rmSync(file, { force: true });
  return kibibytes.length === 0 ? null : Math.max(...kibibytes) * 1024;
}

/** A command to measure, and what prepares each of its runs (untimed). */
export interface Timed {
  readonly label: string;
  readonly command: (run: number) => Command;
  readonly before?: (run: number) => void;
}

/**
 * Runs every command `runs` times, round-robin: the first run of each, then the
 * second of each, and so on. A machine that speeds up or slows down during the
 * benchmark (a shared host, a warming disk cache) then shifts every figure alike
 * rather than those measured at that moment, and ratios between them hold.
 */
export async function measureEach(
  timed: readonly Timed[],
  runs: number,
  scratch: string,
  progress: (message: string) => void = () => {},
): Promise<Measurement[]> {
  const results: Run[][] = timed.map(() => []);
  for (let run = 0; run < runs; run += 1) {
    progress(`run ${run + 1} of ${runs}: ${timed.length} command${timed.length === 1 ? "" : "s"}`);
    for (const [index, entry] of timed.entries()) {
      entry.before?.(run);
      results[index]!.push(await runOnce(entry.command(run), scratch));
    }
  }
  return timed.map((entry, index) => summarise(entry.label, results[index]!));
}

/** Runs one command `runs` times in a row. */
export async function measure(timed: Timed, runs: number, scratch: string): Promise<Measurement> {
  return (await measureEach([timed], runs, scratch))[0]!;
}

function summarise(label: string, results: readonly Run[]): Measurement {
  const exitCodes = [...new Set(results.map((result) => result.exitCode))];
  if (exitCodes.length > 1) throw new BenchError(`${label} exited with ${exitCodes.join(" and ")} in different runs`);
  const seconds = results.map((result) => result.seconds);
  const peaks = results.map((result) => result.peakRssBytes).filter((peak): peak is number => peak !== null);
  return {
    runs: results.length,
    medianSeconds: median(seconds),
    minSeconds: Math.min(...seconds),
    maxSeconds: Math.max(...seconds),
    peakRssBytes: peaks.length > 0 ? Math.max(...peaks) : null,
    exitCode: exitCodes[0]!,
    output: results[results.length - 1]!.output,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
