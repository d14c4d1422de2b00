/**
 * `npm run build`: everything the package runs from, in dist/ (not checked in).
 *
 *   dist/validate/schema-validators.js   the schema compiled to code by ajv (standalone)
 *   dist/**\/*.js, *.d.ts                 tsc: the library (`natgw`), and the type check
 *   dist/cli.js, dist/chunks/            the CLI bundle bin/natgw.js loads: one chunk per
 *                                        command's stages, so each command loads only its own
 *   dist/cdktf.js, dist/cdktf.d.ts       `natgw/cdktf` for ES modules
 *   dist/cjs/                            `natgw/cdktf` for CommonJS: a bundle and its types
 *   dist/cdktn.js, dist/cdktn/, dist/cjs/cdktn.js
 *                                        `natgw/cdktn`: the same constructs on cdktn, the
 *                                        maintained fork of cdktf (its API is cdktf's)
 *   dist/templates.cjs                   templates/ compiled by nunjucks, which natgw build renders
 *   dist/THIRD-PARTY-LICENSES.txt        the licenses of the npm packages bundled above
 *
 * Every step gives the same bytes for the same sources, so two builds compare equal.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { _ } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import standalone from "ajv/dist/standalone/index.js";
import addFormats from "ajv-formats";
import * as esbuild from "esbuild";

/**
 * The source of `natgw/cdktf` (the constructs for cdktf apps). Its ES module
 * entry, its CommonJS bundle and their types all follow from this one path.
 */
export const CDKTF_ENTRY = "src/cdktf/index.ts";

/** The CLI's source entry; bin/natgw.js imports the bundle built from it. */
export const CLI_ENTRY = "src/cli/main.ts";

/**
 * Left to the user's node_modules, never bundled: cdktf and constructs so that a
 * cdktf app has one copy of each (two copies of constructs break every
 * `instanceof` in the construct tree), nunjucks because `natgw build` alone needs
 * it and test/module-loading.test.ts tells by its loading that validate does not.
 */
const UNBUNDLED = ["cdktf", "constructs", "nunjucks"];

/** cdktn keeps cdktf's API under another name: `natgw/cdktn` is `natgw/cdktf` built against it. */
const CDKTN = "cdktn";

const repository = fileURLToPath(new URL("..", import.meta.url));

export async function build(root: string = repository): Promise<void> {
  const dist = join(root, "dist");
  // A clean dist/: chunk names carry hashes, and a stale chunk must not ship.
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(join(dist, "validate"), { recursive: true });
  const validators = await schemaValidators(root);
  writeFileSync(join(dist, "validate", "schema-validators.js"), validators.code);
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  writeFileSync(join(dist, "templates.cjs"), await precompiledTemplates(root));
  const cli = await bundleCli(root, dist);
  await cdktfEntries(root, dist);
  await cdktnEntries(root, dist);
  writeFileSync(join(dist, "THIRD-PARTY-LICENSES.txt"), licenses(root, [...validators.packages, ...cli]));
}

/**
 * Every template under templates/ compiled to code by nunjucks, as one CommonJS
 * module of `name: { root }` entries (what nunjucks' PrecompiledLoader takes),
 * with the options render.ts renders with. Names in sorted order, so the same
 * templates give the same bytes.
 */
export async function precompiledTemplates(root: string = repository): Promise<string> {
  const { default: nunjucks } = await import("nunjucks");
  const { TEMPLATE_OPTIONS } = await import(pathToFileURL(join(root, "src/emit/hosts/render.ts")).href);
  const directory = join(root, "templates");
  const names = (readdirSync(directory, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => relative(directory, join(entry.parentPath, entry.name)).split("\\").join("/"))
    .sort();
  const compiler = (nunjucks as unknown as { compiler: { compile: (...args: unknown[]) => string } }).compiler;
  const entries = names.map((name) => {
    const code = compiler.compile(readFileSync(join(directory, name), "utf8"), [], [], name, TEMPLATE_OPTIONS);
    return `${JSON.stringify(name)}: (function () {\n${code}\n})()`;
  });
  return `"use strict";\n// templates/ compiled by nunjucks (npm run build); natgw build renders these.\nmodule.exports = {\n${entries.join(",\n")}\n};\n`;
}

/**
 * The schema's validators as one ES module, with exactly the options the checks
 * were written against (every error, strict schema, the failing schema node in each
 * error). ajv's standalone code `require`s a few runtime helpers of ajv's; bundling
 * them in leaves ajv a build tool, not a dependency.
 */
export async function schemaValidators(root: string = repository): Promise<{ code: string; packages: string[] }> {
  const schema = JSON.parse(readFileSync(join(root, "schema", "natgw.schema.json"), "utf8")) as { $id: string };
  // A `format` in the schema compiles to a require of ajv-formats' checker, bundled below.
  const formats = _`require("ajv-formats/dist/formats").fullFormats`;
  const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true, code: { source: true, esm: true, formats } });
  // Both packages are CommonJS; `.default` is their function under either module system's view.
  addFormats.default(ajv);
  ajv.addSchema(schema);
  const code = standalone.default(ajv, {
    NatGateway: `${schema.$id}#/$defs/NatGateway`,
    EgressNATPolicy: `${schema.$id}#/$defs/EgressNATPolicy`,
  });
  const result = await esbuild.build({
    stdin: { contents: code, resolveDir: root, sourcefile: "schema-validators.js", loader: "js" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    metafile: true,
    logLevel: "warning",
    banner: { js: "// Generated by scripts/build.ts from schema/natgw.schema.json with ajv's standalone code. Do not edit." },
  });
  return { code: result.outputFiles[0]!.text, packages: bundledPackages(result.metafile) };
}

/**
 * The CLI as one ES module bundle. Each command's `await import()` of its stages
 * becomes a chunk of its own, so `natgw --version` loads no stage and `validate`
 * never loads the emitter. The npm packages it uses are bundled too (Node then
 * resolves and reads one file instead of dozens), except those UNBUNDLED names.
 */
async function bundleCli(root: string, dist: string): Promise<string[]> {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { cli: CLI_ENTRY },
    outdir: dist,
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: UNBUNDLED,
    // CommonJS packages in an ES module bundle call `require` for Node's built-ins.
    banner: { js: `import { createRequire as __natgwCreateRequire } from "node:module";\nconst require = __natgwCreateRequire(import.meta.url);` },
    sourcemap: "linked",
    metafile: true,
    logLevel: "warning",
  });
  return bundledPackages(result.metafile);
}

/**
 * `natgw/cdktf` for both module systems. ES modules get a one-line module that re-exports
 * tsc's output. CommonJS gets a bundle of natgw's own code in the entry, and a copy of the declarations under dist/cjs/, whose package.json
 * says "commonjs", so TypeScript reads them as the CommonJS types they are there.
 */
async function cdktfEntries(root: string, dist: string): Promise<void> {
  const compiled = `./${relative("src", CDKTF_ENTRY).replace(/\.ts$/, ".js")}`;
  const reexport = `export * from ${JSON.stringify(compiled)};\n`;
  writeFileSync(join(dist, "cdktf.js"), reexport);
  writeFileSync(join(dist, "cdktf.d.ts"), reexport);

  const cjs = join(dist, "cjs");
  for (const declaration of declarations(dist)) {
    mkdirSync(dirname(join(cjs, declaration)), { recursive: true });
    copyFileSync(join(dist, declaration), join(cjs, declaration));
  }
  writeFileSync(join(cjs, "package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`);
  writeFileSync(join(cjs, "cdktf.d.ts"), reexport);
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [CDKTF_ENTRY],
    outfile: join(cjs, "cdktf.js"),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    // npm packages stay the installed ones, shared with the ES module entry; above
    // all cdktf and constructs, of which a cdktf app must have one copy each. Every
    // one of natgw's dependencies has a CommonJS entry to require.
    packages: "external",
    // CommonJS has no import.meta: the bundle's own URL stands in (src/package-root.ts).
    define: { "import.meta.url": "__natgwModuleUrl" },
    banner: { js: `const __natgwModuleUrl = require("node:url").pathToFileURL(__filename).href;` },
    sourcemap: "linked",
    logLevel: "warning",
  });
}

/**
 * `natgw/cdktn`: the cdktf entry bundled with `cdktf` resolved as `cdktn`, for
 * both module systems, and its declarations copied with that one name changed
 * (they sit beside the cdktf ones, so their relative imports hold).
 */
async function cdktnEntries(root: string, dist: string): Promise<void> {
  const common: esbuild.BuildOptions = {
    absWorkingDir: root,
    entryPoints: [CDKTF_ENTRY],
    bundle: true,
    platform: "node",
    target: "node20",
    packages: "external",
    alias: { cdktf: CDKTN },
    sourcemap: "linked",
    logLevel: "warning",
  };
  await esbuild.build({ ...common, format: "esm", outfile: join(dist, `${CDKTN}.js`) });
  await esbuild.build({
    ...common,
    format: "cjs",
    outfile: join(dist, "cjs", `${CDKTN}.js`),
    define: { "import.meta.url": "__natgwModuleUrl" },
    banner: { js: `const __natgwModuleUrl = require("node:url").pathToFileURL(__filename).href;` },
  });
  const source = relative("src", dirname(CDKTF_ENTRY));
  for (const base of [dist, join(dist, "cjs")]) {
    for (const declaration of readdirSync(join(base, source)).filter((name) => name.endsWith(".d.ts"))) {
      const text = readFileSync(join(base, source, declaration), "utf8").replace(/(from |import\()"cdktf"/g, `$1"${CDKTN}"`);
      mkdirSync(join(base, CDKTN), { recursive: true });
      writeFileSync(join(base, CDKTN, declaration), text);
    }
    writeFileSync(join(base, `${CDKTN}.d.ts`), `export * from "./${CDKTN}/${relative(dirname(CDKTF_ENTRY), CDKTF_ENTRY).replace(/\.ts$/, ".js")}";\n`);
  }
}

/** The folders, relative to the repository, of the npm packages whose code a bundle holds. */
function bundledPackages(metafile: esbuild.Metafile): string[] {
  return Object.keys(metafile.inputs).flatMap((input) => /^(?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/]+(?=\/)/.exec(input)?.[0] ?? []);
}

/**
 * Bundling copies code of other packages into natgw's files, and their licenses
 * (MIT, ISC and the like) ask that their notices travel with every copy.
 */
function licenses(root: string, packageFolders: readonly string[]): string {
  const sections = [...new Set(packageFolders)].map((folder) => {
    const directory = join(root, folder);
    const manifest = JSON.parse(readFileSync(join(directory, "package.json"), "utf8")) as { name: string; version: string; license?: string };
    const file = readdirSync(directory).find((name) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(name));
    if (!file) throw new Error(`${manifest.name} is bundled into dist/ but has no license file to ship with it`);
    const text = readFileSync(join(directory, file), "utf8").trim();
    return { name: manifest.name, text: `${manifest.name} ${manifest.version} (${manifest.license ?? "see below"})\n\n${text}\n` };
  });
  sections.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rule = `\n${"-".repeat(78)}\n\n`;
  return `natgw's bundles in dist/ hold code of these npm packages, each under its own license:\n${rule}${sections.map((section) => section.text).join(rule)}`;
}

/** tsc's declaration files, relative to dist/, in a stable order. */
function declarations(dist: string): string[] {
  return readdirSync(dist, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".d.ts"))
    .sort();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await build();
  process.stderr.write(`built ${relative(process.cwd(), join(repository, "dist")) || "dist"}/\n`);
}
