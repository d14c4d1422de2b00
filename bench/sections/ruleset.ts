import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileSources } from "../../src/compile.js";
import type { MemberContext } from "../../src/emit/hosts/context.js";
import { emitHosts } from "../../src/emit/hosts/hosts.js";
import { policyElements, RULESET_RUNTIME_PATH, rulesetValues } from "../../src/emit/hosts/nftables.js";
import { render } from "../../src/emit/hosts/render.js";
import { onCleanup } from "../cleanup.js";
import { BenchError, measureEach, type Command, type Measurement, type Timed } from "../measure.js";
import type { BenchContext, Section } from "../section.js";
import { policiesSpec, portBlocksSpec } from "../specs.js";
import { formatCount, formatFactor, formatSeconds, growthPerTenfold, type Table } from "../table.js";

/** Load times above the smallest ruleset's smaller than this are noise. */
const TIME_NOISE_SECONDS = 0.005;

/** Hetzner's NIC MAC prefixes, as ruleset-runtime finds the interfaces by them. */
const HETZNER_NICS = { enp7s0: "86:00:00:4b:1a:02", eth0: "96:00:00:4b:1a:01", lo: "00:00:00:00:00:00" };

interface RulesetSize {
  readonly series: string;
  readonly label: string;
  /** The count the series grows, for the growth factor. */
  readonly input: number;
  readonly spec: () => string;
}

function sizes(repository: string): RulesetSize[] {
  return [
    { series: "example", label: "examples/ha.yaml", input: 1, spec: () => readFileSync(join(repository, "examples/ha.yaml"), "utf8") },
    ...[10, 100, 1000, 10000].map((count) => ({
      series: "policies",
      label: `${formatCount(count)} policies`,
      input: count,
      spec: () => policiesSpec(count),
    })),
    ...[24, 20, 16].map((prefixLength) => ({
      series: "port blocks",
      label: `/${prefixLength} of port-block sources`,
      input: 2 ** (32 - prefixLength),
      spec: () => portBlocksSpec(prefixLength),
    })),
    { series: "goal", label: "10,000 policies + /16 of port-block sources", input: 10000, spec: () => policiesSpec(10000, 16) },
  ];
}

/** A member's ruleset as the host loads it, with the runtime files ruleset-runtime wrote. */
interface PreparedRuleset {
  readonly size: RulesetSize;
  readonly path: string;
  /** Runs ruleset-runtime again, rewriting the same runtime files. */
  readonly runtime: Command;
  /** The ruleset and the files it includes. */
  readonly bytes: number;
  readonly policyElements: number;
  readonly portBlockElements: number;
}

export const rulesetSection: Section = {
  name: "ruleset",
  title: "Ruleset: nft -f load time",
  method:
    "Member 1's ruleset of each spec is loaded with `nft -f` in a throwaway network namespace (never the host's ruleset). The ruleset is rendered as natgw build renders it, here also for specs whose build is refused for the user-data limit; its runtime files (interface names, egress addresses, the port-block map) are written by the real ruleset-runtime from the member's config.json and a cloud.json with documentation addresses, its run timed as well. Loads are timed into an empty namespace (the table deleted before each run, untimed: a boot) and over the loaded table (a reload, which replaces it in the same transaction); the figures are medians, and the growth per 10× input is computed above the load of examples/ha.yaml's ruleset.",
  unavailable() {
    if (typeof process.getuid === "function" && process.getuid() !== 0) return "needs root for a network namespace";
    const missing = ["ip", "nft", "bash", "jq"].filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
    return missing.length > 0 ? `needs ${missing.join(", ")}` : undefined;
  },
  async run(context) {
    const prepared: PreparedRuleset[] = [];
    for (const size of sizes(context.repository)) {
      context.progress(`preparing the ruleset of ${size.label}`);
      prepared.push(prepareRuleset(context, size));
    }
    const namespace = createNamespace();
    try {
      const timed = prepared.flatMap((ruleset): Timed[] => [
        { label: `ruleset-runtime: ${ruleset.size.label}`, command: () => ruleset.runtime },
        {
          label: `nft -f: ${ruleset.size.label}`,
          command: () => nftLoad(namespace.name, ruleset.path),
          // Into an empty namespace, as at boot.
          before: () => spawnSync("ip", ["netns", "exec", namespace.name, "nft", "delete", "table", "inet", "natgw"]),
        },
        // Over the table just loaded: a reload.
        { label: `nft -f again: ${ruleset.size.label}`, command: () => nftLoad(namespace.name, ruleset.path) },
      ]);
      const measurements = await measureEach(timed, context.runs, context.scratch, context.progress);
      measurements.forEach((measurement, index) => {
        if (measurement.exitCode !== 0) throw new BenchError(`${timed[index]!.label} failed:\n${measurement.output}`);
      });
      const rows = prepared.map((ruleset, index) => ({
        ruleset,
        runtime: measurements[3 * index]!,
        load: measurements[3 * index + 1]!,
        reload: measurements[3 * index + 2]!,
      }));
      return { tables: [rulesetTable(rows, context.runs)], notes: [] };
    } finally {
      namespace.remove();
    }
  },
};

function createNamespace(): { name: string; remove: () => void } {
  const name = `natgw-bench-${process.pid}-${randomBytes(3).toString("hex")}`;
  const added = spawnSync("ip", ["netns", "add", name], { encoding: "utf8" });
  if (added.status !== 0) throw new BenchError(`ip netns add ${name} failed: ${added.stderr.trim()}`);
  const remove = onCleanup(() => {
    spawnSync("ip", ["netns", "del", name]);
  });
  return { name, remove };
}

function nftLoad(namespace: string, path: string): Command {
  return { command: "ip", args: ["netns", "exec", namespace, "nft", "-f", path] };
}

function prepareRuleset(context: BenchContext, size: RulesetSize): PreparedRuleset {
  const name = `${size.series}-${size.input}`.replace(/\W+/g, "-");
  const result = compileSources([{ path: `${name}.yaml`, text: size.spec() }]);
  if (!result.model) throw new BenchError(`${size.label} does not compile: ${result.diagnostics[0]?.message}`);
  const model = result.model;
  const gateway = model.gateways[0]!;
  const member = gateway.members[0]!;
  const memberContext: MemberContext = { model, gateway, member, peer: gateway.members[1] ?? null };
  // Host files only: a refused build has them too, and the ruleset is what is measured here.
  const artifacts = emitHosts(model).artifacts;
  const content = (hostPath: string) => artifacts.find((artifact) => artifact.path === `hosts/${member.name}${hostPath}`)!.content;

  const host = join(context.scratch, name);
  for (const [nic, mac] of Object.entries(HETZNER_NICS)) {
    mkdirSync(join(host, "sys", nic), { recursive: true });
    writeFileSync(join(host, "sys", nic, "address"), `${mac}\n`);
  }
  writeFileSync(join(host, "config.json"), content("/etc/natgw/config.json"));
  const floatingIPs = Object.fromEntries(gateway.egressIPs.map((egressIP, index) => [egressIP.name, { id: 1000 + index, address: `203.0.113.${10 + index}` }]));
  writeFileSync(join(host, "cloud.json"), JSON.stringify({ networkId: gateway.network.id ?? 1, servers: {}, floatingIPs }));
  const script = join(host, "ruleset-runtime");
  writeFileSync(script, content(RULESET_RUNTIME_PATH));
  chmodSync(script, 0o755);
  const runtimeDir = join(host, "run");
  const environment = {
    NATGW_CONFIG: join(host, "config.json"),
    NATGW_CLOUD: join(host, "cloud.json"),
    NATGW_RUNTIME_DIR: runtimeDir,
    NATGW_SYS_CLASS_NET: join(host, "sys"),
  };
  const runtime: Command = { command: script, args: [], env: environment };
  const first = spawnSync(script, [], { env: { ...process.env, ...environment }, encoding: "utf8" });
  if (first.status !== 0) throw new BenchError(`ruleset-runtime for ${size.label} failed:\n${first.stderr}`);

  const path = join(host, "ruleset.nft");
  writeFileSync(path, render("etc/natgw/ruleset.nft.njk", rulesetValues(memberContext, runtimeDir)));
  const portBlocks = readFileSync(join(runtimeDir, "port-blocks.nft"), "utf8");
  return {
    size,
    path,
    runtime,
    bytes: [path, join(runtimeDir, "runtime.nft"), join(runtimeDir, "port-blocks.nft")].reduce((sum, file) => sum + statSync(file).size, 0),
    policyElements: policyElements(gateway).length,
    portBlockElements: (portBlocks.match(/^\t.*,$/gm) ?? []).length,
  };
}

interface RulesetRow {
  readonly ruleset: PreparedRuleset;
  readonly runtime: Measurement;
  readonly load: Measurement;
  readonly reload: Measurement;
}

function rulesetTable(rows: readonly RulesetRow[], runs: number): Table {
  const base = rows[0]!;
  const growth = (index: number, cost: (row: RulesetRow) => number) => {
    const row = rows[index]!;
    const previous = rows[index - 1];
    if (!previous || previous.ruleset.size.series !== row.ruleset.size.series) return undefined;
    const input = (entry: RulesetRow) => entry.ruleset.size.input;
    return growthPerTenfold(input(previous), cost(previous) - cost(base), input(row), cost(row) - cost(base), TIME_NOISE_SECONDS);
  };
  return {
    title: `nft -f load time (median of ${runs} runs; ×/10× = growth per tenfold input, above ${base.ruleset.size.label})`,
    columns: ["ruleset of", "policy map elements", "port-block elements", "size", "load (empty)", "×/10×", "reload (replace)", "ruleset-runtime"],
    rows: rows.map((row, index) => [
      row.ruleset.size.label,
      formatCount(row.ruleset.policyElements),
      formatCount(row.ruleset.portBlockElements),
      `${formatCount(Math.round(row.ruleset.bytes / 1000))} kB`,
      formatSeconds(row.load.medianSeconds),
      formatFactor(growth(index, (entry) => entry.load.medianSeconds)),
      formatSeconds(row.reload.medianSeconds),
      formatSeconds(row.runtime.medianSeconds),
    ]),
  };
}
