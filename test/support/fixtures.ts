import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const FIXTURES = "test/fixtures";

export interface Fixture {
  readonly name: string;
  /** The spec files, relative to the repository, as the CLI would be given them. */
  readonly files: string[];
  readonly expectedPath: string;
}

/**
 * A fixture is a spec file (`name.yaml`, `name.json`) or a folder of spec files
 * compiled together (`name/`), with its expected diagnostics in `name.expected`:
 * a first line with `natgw validate`'s exit code and each diagnostic's code
 * (fixtureHeader), then the exact text `natgw validate` prints for it.
 */
export function listFixtures(): Fixture[] {
  return readdirSync(FIXTURES)
    .filter((entry) => !entry.endsWith(".expected") && !entry.startsWith("."))
    .sort()
    .map((entry) => {
      const path = join(FIXTURES, entry);
      const name = entry.replace(/\.(ya?ml|json)$/, "");
      const files = statSync(path).isDirectory()
        ? readdirSync(path).sort().map((file) => join(path, file))
        : [path];
      return { name, files, expectedPath: join(FIXTURES, `${name}.expected`) };
    });
}

/** `# natgw validate exits 1: NATGW104 NATGW203`, the codes in the order the diagnostics are printed. */
export function fixtureHeader(exitCode: number, codes: readonly string[]): string {
  return `# natgw validate exits ${exitCode}: ${codes.join(" ")}\n`;
}

/** The codes a fixture's expected file pins, read back from its first line. */
export function pinnedCodes(expected: string): string[] {
  const header = /^# natgw validate exits \d+: (.*)$/m.exec(expected);
  return header ? header[1]!.split(" ").filter((code) => code !== "") : [];
}
