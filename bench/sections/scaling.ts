import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BenchError, measureEach, runOnce, type Command, type Measurement, type Timed } from "../measure.js";
import type { BenchContext, Section } from "../section.js";
import { gatewaysSpec, policiesSpec, portBlocksSpec, PORTS_PER_SOURCE } from "../specs.js";
import { formatCount, formatFactor, formatMegabytes, formatSeconds, growthPerTenfold, type Table } from "../table.js";

/** The goals of the issue: the largest spec validates and builds within these. */
const GOAL_SECONDS = 2;
const GOAL_BYTES = 400e6;
/** Linear growth is 10× per tenfold input; a quarter more is left to measurement noise. */
const LINEAR_PER_TENFOLD = 10;
const NOISE_ALLOWANCE = 1.25;
/** Costs above start-up smaller than these are noise, and get no growth factor. */
const TIME_NOISE_SECONDS = 0.1;
const MEMORY_NOISE_BYTES = 10e6;
/** Growth is computed over steps of at least this factor in input. */
const MIN_STEP = 4;
/** The refusal `natgw build` gives when a member's user-data exceeds Hetzner's 32 KiB. */
const USER_DATA_TOO_LARGE = "NATGW801";

interface Size {
  readonly label: string;
  /** The count the series grows: gateways, policies or source addresses. */
  readonly input: number;
  readonly spec: string;
}

interface Series {
  readonly name: string;
  readonly input: string;
  readonly sizes: readonly Size[];
}

interface Row {
  readonly size: Size;
  readonly validate: Measurement;
  readonly build: Measurement;
  readonly built: boolean;
}

const POLICY_COUNTS = [10, 100, 1000, 10000];
const PORT_BLOCK_PREFIXES = [24, 22, 20, 18, 16];

function gatewaySeries(): Series {
  return {
    name: "Gateways",
    input: "gateways",
    sizes: [1, 10, 50].map((count) => ({ label: `${count} gateway${count === 1 ? "" : "s"}`, input: count, spec: gatewaysSpec(count) })),
  };
}

function policySeries(largestThatBuilds: number | undefined): Series {
  const counts = [...new Set([...POLICY_COUNTS, ...(largestThatBuilds ? [largestThatBuilds] : [])])].sort((a, b) => a - b);
  return {
    name: "Policies in one gateway",
    input: "policies",
    sizes: counts.map((count) => ({
      label: `${formatCount(count)} policies${count === largestThatBuilds ? " (largest that builds)" : ""}`,
      input: count,
      spec: policiesSpec(count),
    })),
  };
}

function portBlockSeries(): Series {
  return {
    name: `Port-block sources in one gateway, portsPerSource ${PORTS_PER_SOURCE}`,
    input: "source addresses",
    sizes: PORT_BLOCK_PREFIXES.map((prefixLength) => {
      const sources = 2 ** (32 - prefixLength);
      return { label: `/${prefixLength} (${formatCount(sources)} sources)`, input: sources, spec: portBlocksSpec(prefixLength) };
    }),
  };
}

function goalSize(): Size {
  return { label: "10,000 policies + a /16 of port-block sources", input: 10000, spec: policiesSpec(10000, 16) };
}

export const scalingSection: Section = {
  name: "scaling",
  title: "Scaling: validate and build",
  method: `Generated specs (bench/specs.ts) grow along one axis at a time: gateways, each like examples/ha.yaml on a network of its own with one policy; policies in one gateway, partner allowlists from team source ranges or single workload addresses to partner endpoints; and sources with fixed port blocks of ${PORTS_PER_SOURCE} ports, from a /24 to a /16, with as many egress IPs as they need. Each spec runs through \`natgw validate\` and \`natgw build --format json\` (so a refusal is told by its code) as whole processes, every command taking its turn in each run; the figures are the median wall time and the largest peak RSS. Growth per 10× input is computed from the cost above start-up (\`natgw --version\`: Node and natgw's CLI, no spec) against the nearest size at least ${MIN_STEP}× smaller, on a power law: 10× is linear, 100× quadratic; costs under ${TIME_NOISE_SECONDS * 1000} ms or ${MEMORY_NOISE_BYTES / 1e6} MB above start-up get none.`,
  async run(context) {
    context.progress("finding the largest policy count that builds");
    const largest = await largestPolicyCountThatBuilds(context);
    const series = [gatewaySeries(), policySeries(largest), portBlockSeries()];
    const goal = goalSize();
    const sizes = [...series.flatMap((entry) => entry.sizes), goal];
    const startupCommand: Timed = { label: "natgw --version", command: () => natgwCommand(context, ["--version"]) };
    const timed = [startupCommand, ...sizes.flatMap((size, index) => sizeCommands(context, size, index))];
    const [startup, ...measurements] = await measureEach(timed, context.runs, context.scratch, context.progress);
    if (startup!.exitCode !== 0) throw new BenchError(`natgw --version exited with ${startup!.exitCode}:\n${startup!.output}`);
    const rows = sizes.map((size, index) => row(size, measurements[2 * index]!, measurements[2 * index + 1]!));

    const tables: Table[] = [
      {
        title: `Start-up, natgw --version (median of ${context.runs} runs)`,
        columns: ["wall time", "peak RSS"],
        rows: [[formatSeconds(startup!.medianSeconds), formatMegabytes(startup!.peakRssBytes)]],
      },
    ];
    const growth: Growth[] = [];
    let first = 0;
    for (const entry of series) {
      const seriesRows = rows.slice(first, first + entry.sizes.length);
      first += entry.sizes.length;
      tables.push(seriesTable(entry, seriesRows, startup!, context.runs));
      growth.push(...seriesGrowth(seriesRows, startup!));
    }
    tables.push(goalTable(rows[rows.length - 1]!, growth));
    return { tables, notes: largest === undefined ? [] : [userDataNote(largest)] };
  },
};

function userDataNote(largest: number): string {
  return `natgw build refuses specs whose cloud-init user-data, gzipped and base64-encoded, exceeds Hetzner's 32 KiB (${USER_DATA_TOO_LARGE}): with these generated policies that is above ${formatCount(largest)} policies per gateway. A refused build still loads, resolves and renders every host file; it skips the Terraform stacks and writing, so its time is given but not compared with builds that wrote.`;
}

function natgwCommand(context: BenchContext, args: readonly string[]): Command {
  return { command: "node", args: [join(context.repository, "bin", "natgw.js"), ...args] };
}

/** natgw validate and natgw build of one size; each build writes into an output directory emptied before it. */
function sizeCommands(context: BenchContext, size: Size, index: number): Timed[] {
  const file = join(context.scratch, `spec-${index}.yaml`);
  writeFileSync(file, size.spec);
  const out = join(context.scratch, `out-${index}`);
  return [
    { label: `natgw validate: ${size.label}`, command: () => natgwCommand(context, ["validate", file]) },
    {
      label: `natgw build: ${size.label}`,
      command: () => natgwCommand(context, ["build", "--format", "json", "--out", out, file]),
      before: () => rmSync(out, { recursive: true, force: true }),
    },
  ];
}

function row(size: Size, validate: Measurement, build: Measurement): Row {
  if (validate.exitCode !== 0) throw new BenchError(`natgw validate of ${size.label} exited with ${validate.exitCode}:\n${validate.output.slice(0, 2000)}`);
  if (build.exitCode !== 0 && !refusedForUserData(build)) {
    throw new BenchError(`natgw build of ${size.label} exited with ${build.exitCode}:\n${build.output.slice(0, 2000)}`);
  }
  return { size, validate, build, built: build.exitCode === 0 };
}

/** Builds run with --format json, so a refusal names its diagnostic codes. */
function refusedForUserData(measurement: { exitCode: number | null; output: string }): boolean {
  if (measurement.exitCode !== 1) return false;
  const codes = [...measurement.output.matchAll(/"code": "(NATGW\d+)"/g)].map((match) => match[1]);
  return codes.length > 0 && codes.every((code) => code === USER_DATA_TOO_LARGE);
}

/**
 * The most policies of the generated shape one gateway can have and still build:
 * undefined when every count of the series builds, else found by bisection
 * between the largest count that builds and the smallest refused, one build each.
 */
async function largestPolicyCountThatBuilds(context: BenchContext): Promise<number | undefined> {
  const builds = async (count: number) => {
    const file = join(context.scratch, `bisect-${count}.yaml`);
    writeFileSync(file, policiesSpec(count));
    const out = join(context.scratch, "bisect-out");
    const run = await runOnce(natgwCommand(context, ["build", "--format", "json", "--out", out, file]), context.scratch);
    rmSync(out, { recursive: true, force: true });
    rmSync(file, { force: true });
    if (run.exitCode !== 0 && !refusedForUserData(run)) throw new BenchError(`natgw build of ${count} policies exited with ${run.exitCode}:\n${run.output.slice(0, 2000)}`);
    return run.exitCode === 0;
  };
  let low = 0;
  let high: number | undefined;
  for (const count of POLICY_COUNTS) {
    if (!(await builds(count))) {
      high = count;
      break;
    }
    low = count;
  }
  if (high === undefined) return undefined;
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (await builds(middle)) low = middle;
    else high = middle;
  }
  return low;
}

type Resource = "time" | "memory";

/** A cost read off every row: the wall time or the peak RSS of validate or of build. */
interface Metric {
  readonly resource: Resource;
  readonly command: "validate" | "build";
}

const METRICS: readonly Metric[] = [
  { resource: "time", command: "validate" },
  { resource: "memory", command: "validate" },
  { resource: "time", command: "build" },
  { resource: "memory", command: "build" },
];

function cost(measurement: Measurement, resource: Resource): number | null {
  return resource === "time" ? measurement.medianSeconds : measurement.peakRssBytes;
}

/**
 * Growth per tenfold input of a metric at `index`, from the cost above start-up,
 * against the nearest smaller size at least MIN_STEP times smaller: over a short
 * step the ratio is raised to a high power (1 / log10 of the step), and so is its
 * noise. Builds are compared only with builds of the same outcome.
 */
function growthAt(rows: readonly Row[], index: number, metric: Metric, startup: Measurement): number | undefined {
  const row = rows[index]!;
  const previous = rows
    .slice(0, index)
    .reverse()
    .find((candidate) => candidate.size.input * MIN_STEP <= row.size.input && (metric.command === "validate" || candidate.built === row.built));
  const base = cost(startup, metric.resource);
  const before = previous && cost(previous[metric.command], metric.resource);
  const after = cost(row[metric.command], metric.resource);
  if (!previous || base === null || before === null || before === undefined || after === null) return undefined;
  const noise = metric.resource === "time" ? TIME_NOISE_SECONDS : MEMORY_NOISE_BYTES;
  return growthPerTenfold(previous.size.input, before - base, row.size.input, after - base, noise);
}

function seriesTable(series: Series, rows: readonly Row[], startup: Measurement, runs: number): Table {
  return {
    title: `${series.name}: median of ${runs} runs; ×/10× = growth per tenfold ${series.input}, above start-up`,
    columns: ["spec", "validate", "×/10×", "peak RSS", "×/10×", "build", "×/10×", "peak RSS", "×/10×"],
    rows: rows.map((row, index) => {
      const [validateTime, validateMemory, buildTime, buildMemory] = METRICS.map((metric) => formatFactor(growthAt(rows, index, metric, startup)));
      return [
        row.size.label,
        formatSeconds(row.validate.medianSeconds),
        validateTime!,
        formatMegabytes(row.validate.peakRssBytes),
        validateMemory!,
        `${formatSeconds(row.build.medianSeconds)}${row.built ? "" : ` (refused, ${USER_DATA_TOO_LARGE})`}`,
        buildTime!,
        formatMegabytes(row.build.peakRssBytes),
        buildMemory!,
      ];
    }),
  };
}

interface Growth {
  readonly resource: Resource;
  readonly factor: number;
  /** Where: series, spec and command. */
  readonly where: string;
}

function seriesGrowth(rows: readonly Row[], startup: Measurement): Growth[] {
  return rows.flatMap((row, index) =>
    METRICS.flatMap((metric) => {
      const factor = growthAt(rows, index, metric, startup);
      return factor === undefined ? [] : [{ resource: metric.resource, factor, where: `${metric.command}, ${row.size.label}` }];
    }),
  );
}

function goalTable(goal: Row, growth: readonly Growth[]): Table {
  return {
    title: `Goals: ${goal.size.label}`,
    columns: ["goal", "measured", "verdict"],
    rows: [
      ...goalRows("natgw validate", goal.validate, null),
      ...goalRows("natgw build", goal.build, goal.built ? null : USER_DATA_TOO_LARGE),
      linearRow("time", growth),
      linearRow("memory", growth),
    ],
  };
}

/** The worst growth of a resource against linear, with the noise allowance. */
function linearRow(resource: Resource, growth: readonly Growth[]): string[] {
  const worst = growth
    .filter((entry) => entry.resource === resource)
    .reduce<Growth | undefined>((max, entry) => (!max || entry.factor > max.factor ? entry : max), undefined);
  const goal = `${resource} growth no worse than linear (≤ 10× per tenfold input)`;
  if (!worst) return [goal, "–", "not measured"];
  const linear = worst.factor <= LINEAR_PER_TENFOLD * NOISE_ALLOWANCE;
  const withinNoise = linear && worst.factor > LINEAR_PER_TENFOLD;
  return [goal, `worst ${formatFactor(worst.factor)} (${worst.where})`, `${linear ? "met" : "not met"}${withinNoise ? " within noise (25 %)" : ""}`];
}

/** The time and memory goals of one command; a refused build meets neither. */
function goalRows(command: string, measurement: Measurement, refusal: string | null): string[][] {
  const refused = refusal ? ` (refused, ${refusal})` : "";
  const verdict = (met: boolean) => (refusal ? "not met: refused" : met ? "met" : "not met");
  const peak = measurement.peakRssBytes;
  return [
    [`${command} under ${GOAL_SECONDS} s`, `${formatSeconds(measurement.medianSeconds)}${refused}`, verdict(measurement.medianSeconds < GOAL_SECONDS)],
    [`${command} under ${formatMegabytes(GOAL_BYTES)}`, `${formatMegabytes(peak)}${refused}`, verdict(peak !== null && peak < GOAL_BYTES)],
  ];
}
