import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BenchError, measureEach, type Timed } from "../measure.js";
import type { Section } from "../section.js";
import { formatFactor, formatMegabytes, formatSeconds } from "../table.js";

const SPEC = "examples/ha.yaml";

/**
 * A CI job turning a spec into a reviewed plan needs the Terraform JSON: natgw
 * build writes it (with the host files) in one process; `cdktf synth` runs the
 * cdktf CLI, which starts natgw's app as cdktf.json names it. Both start from
 * nothing, as a CI step does.
 */
export const buildSection: Section = {
  name: "build",
  title: "Build time: natgw build and cdktf synth",
  method: `Each command runs as a whole process on ${SPEC}, the same spec for both, in a fresh output directory per run, the three commands taking turns run by run; the figure is the median wall time from spawn to exit, with the fastest and slowest run. \`cdktf synth\` is the cdktf CLI (cdktf-cli, a devDependency) run through npx, in a scratch directory whose cdktf.json names natgw's app, with the spec in NATGW_SPEC, CI=true and CHECKPOINT_DISABLE=1. Peak RSS is the largest of the Node processes a command starts (cdktf synth starts three: npx, the CLI, natgw's app).`,
  async run(context) {
    const { repository, scratch, runs } = context;
    const spec = join(repository, SPEC);
    const natgw = join(repository, "bin", "natgw.js");

    const app = join(scratch, "cdktf-app");
    mkdirSync(app, { recursive: true });
    const cdktfJson = { language: "typescript", app: `node ${join(repository, "bin", "natgw-cdktf.js")}`, output: "cdktf.out", context: {} };
    writeFileSync(join(app, "cdktf.json"), `${JSON.stringify(cdktfJson, null, 2)}\n`);
    const quiet = { CI: "true", CHECKPOINT_DISABLE: "1" };

    const commands: Timed[] = [
      { label: "natgw validate", command: () => ({ command: "node", args: [natgw, "validate", spec] }) },
      { label: "natgw build", command: (run) => ({ command: "node", args: [natgw, "build", "--out", join(scratch, `build-${run}`), spec] }) },
      {
        label: "cdktf synth (npx)",
        // --no: never download; --prefix: the cdktf-cli of this repository, run in the scratch app.
        command: (run) => ({
          command: "npx",
          args: ["--no", "--prefix", repository, "cdktf", "synth", "--output", `cdktf.out-${run}`],
          cwd: app,
          env: { ...quiet, NATGW_SPEC: spec },
        }),
      },
    ];
    const measurements = await measureEach(commands, runs, scratch, context.progress);
    const measured = commands.map(({ label }, index) => {
      const measurement = measurements[index]!;
      if (measurement.exitCode !== 0) throw new BenchError(`${label} ${SPEC} exited with ${measurement.exitCode}:\n${measurement.output}`);
      return { label, measurement };
    });
    const build = measured.find((entry) => entry.label === "natgw build")!.measurement;
    const synth = measured.find((entry) => entry.label.startsWith("cdktf synth"))!.measurement;
    return {
      tables: [
        {
          title: `Build time, ${SPEC} (median of ${runs} runs)`,
          columns: ["command", "median", "fastest – slowest", "peak RSS", "÷ natgw build"],
          rows: measured.map(({ label, measurement }) => [
            label,
            formatSeconds(measurement.medianSeconds),
            `${formatSeconds(measurement.minSeconds)} – ${formatSeconds(measurement.maxSeconds)}`,
            formatMegabytes(measurement.peakRssBytes),
            formatFactor(measurement.medianSeconds / build.medianSeconds),
          ]),
        },
      ],
      notes: [
        `cdktf synth takes ${formatFactor(synth.medianSeconds / build.medianSeconds)} the time of natgw build on ${SPEC}, and natgw build also writes every host file; both write the same Terraform configuration, cdktf with its own metadata beside it (test/terraform/synth.test.ts compares them).`,
      ],
    };
  },
};
