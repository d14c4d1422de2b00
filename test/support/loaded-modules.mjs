/**
 * Preload (`node --import`) that lists every module a process loads into the file
 * NATGW_MODULE_LOG, one URL a line: ES modules as the loader loads them (through
 * loaded-modules-hooks.mjs), and at exit every CommonJS module in require's cache,
 * since a CommonJS package's own require() calls bypass the ES module hooks.
 */
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";
import { pathToFileURL } from "node:url";

const log = process.env.NATGW_MODULE_LOG;
if (!log) throw new Error("loaded-modules.mjs needs NATGW_MODULE_LOG, the file to list the modules in");

register(new URL("./loaded-modules-hooks.mjs", import.meta.url), { data: { log } });

const require = createRequire(import.meta.url);
process.on("exit", () => {
  const required = Object.keys(require.cache).map((path) => `${pathToFileURL(path).href}\n`);
  appendFileSync(log, required.join(""));
});
