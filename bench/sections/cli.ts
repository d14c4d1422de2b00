import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BenchError, measureEach, type Measurement, type Timed } from "../measure.js";
import type { Section } from "../section.js";
import { formatSeconds, type Table } from "../table.js";

const SPEC = "examples/ha.yaml";

/** Goals, as ratios measured within one run, so a slower or busier machine moves both sides alike. */
const VALIDATE_GOAL = 2;
const BUILD_GOAL = 0.1;

/**
 * What a user waits for at a prompt or in a CI step: Node's own start is the
 * floor no command goes below, so each natgw command is measured against `node -e 0`;
 * `natgw build` against `cdktf synth`, the other way to the same Terraform JSON.
 */
export const cliSection: Section = {
  name: "cli",
  title: "CLI start-up: natgw's commands against Node's own start and cdktf synth",
  method: `Each command runs as a whole process, the commands taking turns run by run; the figure is the median wall time from spawn to exit, with the fastest and slowest run. \`node -e 0\` is Node starting and exiting. \`natgw validate\` and \`natgw build\` run on ${SPEC}, build into a fresh directory per run. \`cdktf synth\` is the cdktf CLI of this repository (node_modules/.bin/cdktf, cdktf-cli), run in a scratch directory whose cdktf.json is the repository's with absolute paths (natgw's app, natgwSpec ${SPEC}), with CI=true and CHECKPOINT_DISABLE=1, into a fresh --output per run. Every Node process carries the benchmark's peak-RSS preload, the floor included.`,
  async run(context) {
    const { repository, scratch, runs } = context;
    const natgw = join(repository, "bin", "natgw.js");
    const spec = join(repository, SPEC);

    const app = join(scratch, "cdktf-app");
    mkdirSync(app, { recursive: true });
    const repositoryCdktf = JSON.parse(readFileSync(join(repository, "cdktf.json"), "utf8")) as Record<string, unknown>;
    const cdktfJson = { ...repositoryCdktf, app: `node ${join(repository, "bin", "natgw-cdktf.js")}`, context: { natgwSpec: spec } };
    writeFileSync(join(app, "cdktf.json"), `${JSON.stringify(cdktfJson, null, 2)}\n`);

    const commands: Timed[] = [
      { label: "node -e 0", command: () => ({ command: "node", args: ["-e", "0"] }) },
      { label: "natgw --version", command: () => ({ command: "node", args: [natgw, "--version"] }) },
      { label: "natgw validate", command: () => ({ command: "node", args: [natgw, "validate", spec] }) },
      { label: "natgw build", command: (run) => ({ command: "node", args: [natgw, "build", spec, "--out", join(scratch, `build-${run}`)] }) },
      {
        label: "cdktf synth",
        command: (run) => ({
          command: join(repository, "node_modules", ".bin", "cdktf"),
          args: ["synth", "--output", join(scratch, `cdktf.out-${run}`)],
          cwd: app,
          env: { CI: "true", CHECKPOINT_DISABLE: "1" },
        }),
      },
    ];
    const measurements = await measureEach(commands, runs, scratch, context.progress);
    const measured = new Map<string, Measurement>();
    for (const [index, { label }] of commands.entries()) {
      const measurement = measurements[index]!;
      if (measurement.exitCode !== 0) throw new BenchError(`${label} exited with ${measurement.exitCode}:\n${measurement.output}`);
      measured.set(label, measurement);
    }
    const median = (label: string) => measured.get(label)!.medianSeconds;
    const floor = median("node -e 0");
    const ratios = [
      { ratio: "natgw validate ÷ node -e 0", value: median("natgw validate") / floor, goal: VALIDATE_GOAL },
      { ratio: "natgw --version ÷ node -e 0", value: median("natgw --version") / floor, goal: undefined },
      { ratio: "natgw build ÷ cdktf synth", value: median("natgw build") / median("cdktf synth"), goal: BUILD_GOAL },
    ];

    const times: Table = {
      title: `Wall time, ${SPEC} (median of ${runs} runs)`,
      columns: ["command", "median", "fastest – slowest", "÷ node -e 0"],
      rows: [...measured].map(([label, measurement]) => [
        label,
        formatSeconds(measurement.medianSeconds),
        `${formatSeconds(measurement.minSeconds)} – ${formatSeconds(measurement.maxSeconds)}`,
        formatRatio(measurement.medianSeconds / floor),
      ]),
    };
    const goals: Table = {
      title: "Ratios of the medians, and their goals",
      columns: ["ratio", "measured", "goal", "met"],
      rows: ratios.map(({ ratio, value, goal }) => [
        ratio,
        formatRatio(value),
        goal === undefined ? "close to 1×" : `≤ ${formatRatio(goal)}`,
        goal === undefined ? "–" : value <= goal ? "yes" : "no",
      ]),
    };
    const missed = ratios.filter(({ value, goal }) => goal !== undefined && value > goal);
    return {
      tables: [times, goals],
      notes: [
        missed.length === 0
          ? "Both goals are met."
          : `Missed: ${missed.map(({ ratio, value, goal }) => `${ratio} is ${formatRatio(value)}, the goal ≤ ${formatRatio(goal!)}`).join("; ")}.`,
        "natgw --version and validate load only what they run (test/module-loading.test.ts): the CLI bundle and, for validate, the compile stage with the schema validators compiled at build time; cdktf and nunjucks only for build.",
      ],
    };
  },
};

/** Two decimals: the build goal, 0.10×, is below what one decimal tells apart. */
function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}
