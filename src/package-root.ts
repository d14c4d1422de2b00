import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * natgw's own files (package.json, schema/, templates/, programs/) sit at the root
 * of its package. The code that reads them runs from src/ (tests), from dist/ as
 * tsc writes it, from a chunk of the CLI bundle in dist/chunks/, or from the
 * CommonJS bundle in dist/cjs/: each at another depth below that root. So the root
 * is found once, here, by walking up to natgw's own package.json, and every other
 * module asks this one instead of counting `../` from where it happens to be.
 *
 * The CommonJS bundle has no `import.meta`: its build defines `import.meta.url`
 * as the bundle file's URL (scripts/build.ts).
 */
const found = findPackage(dirname(fileURLToPath(import.meta.url)));

export const PACKAGE_ROOT: string = found.root;

/** natgw's version, as package.json gives it: `natgw --version` and every natgw.json. */
export const PACKAGE_VERSION: string = found.version;

/** An absolute path inside the package, e.g. packagePath("schema", "natgw.schema.json"). */
export function packagePath(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}

function findPackage(start: string): { root: string; version: string } {
  for (let directory = start; ; directory = dirname(directory)) {
    const manifest = readManifest(join(directory, "package.json"));
    // dist/cjs/package.json only says "type": "commonjs"; natgw's own one names it.
    if (manifest?.name === "natgw" && typeof manifest.version === "string") return { root: directory, version: manifest.version };
    if (dirname(directory) === directory) throw new Error(`natgw bug: no package.json of natgw above ${start}`);
  }
}

function readManifest(path: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as { name?: unknown; version?: unknown };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw error;
  }
}
