import { fileURLToPath } from "node:url";
import { cleanUpOnSignals, runCleanups, scratchDirectory } from "./cleanup.js";
import { machineTable } from "./machine.js";
import { BenchError, configuredRuns } from "./measure.js";
import { SECTIONS } from "./registry.js";
import type { Section } from "./section.js";
import { markdownTable } from "./table.js";

/**
 * `npm run bench [-- section...]`: runs the named sections (all by default) and
 * prints a Markdown report on stdout, progress on stderr. Not part of the tests:
 * no figure here is asserted anywhere.
 */
const USAGE = `usage: npm run bench [-- <section>...]
sections: ${SECTIONS.map((section) => section.name).join(", ")} (default: all)
NATGW_BENCH_RUNS sets the runs per measurement (default 5); each figure is the median.
`;

async function main(args: readonly string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknown = args.filter((name) => !SECTIONS.some((section) => section.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown section ${unknown.map((name) => JSON.stringify(name)).join(", ")}\n${USAGE}`);
    return 2;
  }
  const selected = args.length === 0 ? SECTIONS : SECTIONS.filter((section) => args.includes(section.name));
  const runs = configuredRuns();
  const repository = fileURLToPath(new URL("..", import.meta.url));
  const started = performance.now();

  print(`# natgw benchmarks\n\n${new Date().toISOString().slice(0, 10)}, ${runs} runs per measurement, sections: ${selected.map((section) => section.name).join(", ")}`);
  print(markdownTable(machineTable(repository)));
  for (const section of selected) await runSection(section, runs, repository);
  process.stderr.write(`bench: done in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  return 0;
}

async function runSection(section: Section, runs: number, repository: string): Promise<void> {
  print(`## ${section.title}\n\n${section.method}`);
  const unavailable = section.unavailable?.();
  if (unavailable) {
    print(`Not measured on this machine: ${unavailable}.`);
    return;
  }
  const progress = (message: string) => process.stderr.write(`bench ${section.name}: ${message}\n`);
  const report = await section.run({ runs, repository, scratch: scratchDirectory(`natgw-bench-${section.name}-`), progress });
  for (const table of report.tables) print(markdownTable(table));
  for (const note of report.notes) print(note);
}

function print(block: string): void {
  process.stdout.write(`${block}\n\n`);
}

cleanUpOnSignals();
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof BenchError)) throw error;
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 1;
} finally {
  runCleanups();
}
