import { posix } from "node:path";
import { STACK_FILE } from "../emit/terraform/terraform.js";
import type { Changes } from "../write/changes.js";
import { INDEX_FILE, type IndexEntry } from "../write/index-file.js";

/** What to do with a build's output, worked out from the index, not from where natgw happens to put things today. */
export interface NextSteps {
  /** Each gateway's Terraform stack: the directory that holds its `cdk.tf.json`. */
  readonly stacks: readonly { readonly gateway: string; readonly directory: string }[];
  /** A gateway's Terraform files outside its stack: the same gateway as a module. */
  readonly modules: readonly { readonly gateway: string; readonly directory: string }[];
  /** Directories of the files the workers need (default route), which belong to no gateway or member. */
  readonly workerFiles: readonly string[];
  /** Top directories of the members' host files, which the stacks push. */
  readonly hostFiles: readonly string[];
  /** Each gateway's topology page. */
  readonly diagrams: readonly { readonly gateway: string; readonly path: string }[];
  /** Directories of the scrape configs, alert rules and dashboards, for the team's own monitoring. */
  readonly monitoring: readonly string[];
}

const MONITORING_ROLES = new Set(["scrape-config", "alert-rules", "dashboard"]);

export function nextSteps(entries: readonly IndexEntry[]): NextSteps {
  const isTerraform = (entry: IndexEntry) => entry.role.startsWith("terraform") && entry.gateway !== null;
  const stacks = entries
    .filter((entry) => isTerraform(entry) && posix.basename(entry.path) === STACK_FILE)
    .map((entry) => ({ gateway: entry.gateway!, directory: posix.dirname(entry.path) }));
  const stackDirectories = new Set(stacks.map((stack) => stack.directory));
  const inStack = (path: string) => directories(path).some((directory) => stackDirectories.has(directory));

  const moduleFiles = new Map<string, string[]>();
  for (const entry of entries.filter((candidate) => isTerraform(candidate) && !inStack(candidate.path))) {
    const paths = moduleFiles.get(entry.gateway!) ?? [];
    paths.push(entry.path);
    moduleFiles.set(entry.gateway!, paths);
  }
  const modules = [...moduleFiles].map(([gateway, paths]) => ({ gateway, directory: commonDirectory(paths) }));
  const moduleDirectories = new Set(modules.map((module) => module.directory));
  const inTerraform = (path: string) => inStack(path) || directories(path).some((directory) => moduleDirectories.has(directory));

  const workerFiles = unique(
    entries.filter((entry) => entry.role === "config" && entry.gateway === null && entry.member === null).map((entry) => posix.dirname(entry.path)),
  );
  const hostFiles = unique(entries.filter((entry) => entry.member !== null && !inTerraform(entry.path)).map((entry) => entry.path.split("/")[0]!));
  const diagrams = entries.filter((entry) => entry.role === "diagram" && entry.gateway !== null).map((entry) => ({ gateway: entry.gateway!, path: entry.path }));
  const monitoring = unique(entries.filter((entry) => MONITORING_ROLES.has(entry.role)).map((entry) => posix.dirname(entry.path)));
  return { stacks: byName(stacks), modules: byName(modules), workerFiles, hostFiles, diagrams: byName(diagrams), monitoring };
}

/**
 * The text `natgw build` prints: what changed since the previous build, each path
 * with + (added), ~ (changed) or - (removed), then what to run next.
 */
export function formatBuildReport(outDir: string, entries: readonly IndexEntry[], changes: Changes): string {
  const lines: string[] = [];
  const files = (count: number) => `${count} file${count === 1 ? "" : "s"}`;
  if (changes.firstBuild) {
    lines.push(`first build in ${outDir}: ${files(entries.length)}, listed in ${posix.join(outDir, INDEX_FILE)}`);
  } else if (changes.added.length + changes.changed.length + changes.removed.length === 0) {
    lines.push(`${outDir}: nothing changed since the previous build (${files(entries.length)})`);
  } else {
    const all = [...changes.added, ...changes.changed, ...changes.removed, ...changes.unchanged];
    lines.push(
      `${outDir}: added ${changes.added.length}, changed ${changes.changed.length}, removed ${changes.removed.length}, unchanged ${changes.unchanged.length}`,
      ...collapse(changes.added, all).map((path) => `  + ${path}`),
      // Changed files are listed one by one: which of a member's files changed is the news.
      ...changes.changed.map((path) => `  ~ ${path}`),
      ...collapse(changes.removed, all).map((path) => `  - ${path}`),
    );
  }

  const steps = nextSteps(entries);
  const at = (directory: string) => posix.join(outDir, directory);
  lines.push("", "next:");
  for (const { directory } of steps.stacks) {
    const chdir = `terraform -chdir=${shellWord(at(directory))}`;
    lines.push(`  ${chdir} init && ${chdir} plan`);
  }
  for (const { gateway, directory } of steps.modules) {
    lines.push(`  ${at(directory)}/: ${gateway} as a Terraform module, to call from a configuration of your own instead of its stack`);
  }
  for (const directory of steps.workerFiles) {
    lines.push(`  ${at(directory)}/: into each worker's user-data: its default route via the network's router, whose routes lead to the gateway`);
  }
  for (const { gateway, path } of steps.diagrams) {
    lines.push(`  ${at(path)}: ${gateway} at a glance: its picture (Mermaid), egress IPs, policies and capacity`);
  }
  for (const directory of steps.monitoring) {
    lines.push(`  ${at(directory)}/: scrape configs, alert rules and Grafana dashboards, for your Prometheus or VictoriaMetrics`);
  }
  for (const directory of steps.hostFiles) {
    lines.push(`  ${at(directory)}/: reference copies of what the stacks send to the members; nothing to copy by hand`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Sorted added or removed paths, with each directory whose every file was added (or
 * removed) shown once, as `dir/ (N files)`: a gateway added or removed is one line
 * per member, not forty.
 */
function collapse(paths: readonly string[], all: readonly string[]): string[] {
  const total = countByDirectory(all);
  const ofThisKind = countByDirectory(paths);
  const shown: string[] = [];
  for (const path of paths) {
    const directory = directories(path).find((candidate) => total.get(candidate)! >= 2 && ofThisKind.get(candidate) === total.get(candidate));
    const line = directory === undefined ? path : `${directory}/ (${total.get(directory)} files)`;
    if (shown.at(-1) !== line) shown.push(line);
  }
  return shown;
}

/** "a/b/c" -> ["a", "a/b"], the shallowest first. */
function directories(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(1).map((_, index) => parts.slice(0, index + 1).join("/"));
}

function countByDirectory(paths: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const path of paths) for (const directory of directories(path)) counts.set(directory, (counts.get(directory) ?? 0) + 1);
  return counts;
}

/** The deepest directory that holds every one of `paths`. */
function commonDirectory(paths: readonly string[]): string {
  const parts = paths.map((path) => posix.dirname(path).split("/"));
  const common: string[] = [];
  for (const [index, part] of parts[0]!.entries()) {
    if (!parts.every((other) => other[index] === part)) break;
    common.push(part);
  }
  return common.length === 0 ? "." : common.join("/");
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function byName<T extends { readonly gateway: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0));
}

/** A path as one shell word, so the printed command can be pasted as it is. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
