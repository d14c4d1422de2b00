import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** Where the project's code lives: TypeScript, and the programs members run. */
const ROOTS = ["src", "scripts", "bench", "test", "programs"];
/** Data, not code: expected outputs and generated files' snapshots. */
const DATA = [join("test", "golden"), join("test", "fixtures")];
const LIMIT = 300;

function sourceFiles(): string[] {
  return ROOTS.flatMap((root) =>
    readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .filter((path) => !DATA.some((data) => path.startsWith(`${data}/`)))
      .filter((path) => path.startsWith("programs/") || /\.(ts|mjs|py)$/.test(path)),
  );
}

describe("source files", () => {
  it(`over ${LIMIT} lines say why at their top`, () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(100);
    const unexplained = files.filter((path) => {
      const lines = readFileSync(path, "utf8").split("\n");
      return lines.length > LIMIT && !lines.slice(0, 40).some((line) => line.includes(`${LIMIT} lines`));
    });
    expect(unexplained).toEqual([]);
  });
});
