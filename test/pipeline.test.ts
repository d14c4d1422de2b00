import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** Every module under src/, by path relative to src/, with the src/ modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = readdirSync("src", { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile() && entry.name.endsWith(".ts"));
  for (const entry of files) {
    const path = join(entry.parentPath, entry.name);
    const text = readFileSync(path, "utf8");
    const imports = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)].map((match) =>
      relative("src", resolve(dirname(path), match[1]!.replace(/\.js$/, ".ts"))),
    );
    graph.set(relative("src", path), imports);
  }
  return graph;
}

/** What `from` reaches through its imports, itself included. */
function reachable(graph: Map<string, string[]>, from: string): Set<string> {
  const seen = new Set<string>();
  const visit = (module: string) => {
    if (seen.has(module)) return;
    seen.add(module);
    for (const next of graph.get(module) ?? []) visit(next);
  };
  visit(from);
  return seen;
}

describe("the pipeline's stages", () => {
  const graph = importGraph();
  const frontEnd = (module: string) => module === "compile.ts" || module.startsWith("load/") || module.startsWith("validate/");

  it("emit reaches none of load, validate and compile: it takes a resolved model and host files", () => {
    const emitters = [...graph.keys()].filter((module) => module.startsWith("emit/"));
    expect(emitters.length).toBeGreaterThan(10);
    for (const module of emitters) expect([...reachable(graph, module)].filter(frontEnd), module).toEqual([]);
  });

  it("the check has teeth: the cdktf entry does reach the front end, since it compiles a spec first", () => {
    expect([...reachable(graph, "cdktf/spec.ts")].filter(frontEnd)).toContain("compile.ts");
  });
});
