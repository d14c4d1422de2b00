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
 * the exact text `natgw validate` prints for it.
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
