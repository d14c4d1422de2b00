import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HOST_PATHS } from "../../src/emit/hosts/context.js";
import { HOST_FILES } from "../../src/emit/hosts/files.js";
import { WATCHDOG_PATH } from "../../src/emit/hosts/systemd.js";
import { PROGRAMS_DIR, TEMPLATES_DIR } from "../../src/emit/hosts/render.js";
import { missingTools } from "../support/tools.js";

/** Every file under programs/, at its path on the host. */
const programs = readdirSync(PROGRAMS_DIR, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => `/${relative(PROGRAMS_DIR, join(entry.parentPath, entry.name))}`)
  .sort();
const text = (hostPath: string) => readFileSync(`${PROGRAMS_DIR}${hostPath.slice(1)}`, "utf8");
const python = programs.filter((hostPath) => text(hostPath).startsWith("#!/usr/bin/python3\n"));
const bash = programs.filter((hostPath) => /^#!(\/usr\/bin\/env bash|\/bin\/bash)\n/.test(text(hostPath)));

describe("programs/", () => {
  it("holds only programs a host file ships", () => {
    expect(programs.length).toBeGreaterThan(0);
    const shipped = HOST_FILES.filter((file) => "program" in file).map((file) => file.hostPath);
    expect(programs).toEqual([...shipped].sort());
  });

  it("holds every program: each is Python or bash, and no template under templates/ is one", () => {
    expect([...python, ...bash].sort()).toEqual(programs);
    const templates = readdirSync(TEMPLATES_DIR, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    const scripts = templates.filter((entry) => readFileSync(join(entry.parentPath, entry.name), "utf8").startsWith("#!"));
    expect(scripts.map((entry) => entry.name)).toEqual([]);
  });

  it("find config.json where natgw writes it, the one path they know: the rest is in it", () => {
    const readers = programs.filter((hostPath) => text(hostPath).includes("NATGW_CONFIG"));
    expect(readers).toEqual(programs.filter((hostPath) => hostPath !== WATCHDOG_PATH));
    for (const hostPath of readers) {
      const defaults = text(hostPath)
        .split("\n")
        .filter((line) => !/^\s*#/.test(line) && line.includes("config.json"))
        .flatMap((line) => line.match(/\/[a-z/]+\/config\.json/g) ?? []);
      expect(defaults, hostPath).toEqual([HOST_PATHS.config]);
    }
  });

  for (const hostPath of bash) {
    it.skipIf(missingTools("shellcheck"))(`${hostPath} passes shellcheck`, () => {
      const result = spawnSync("shellcheck", ["--shell=bash", `${PROGRAMS_DIR}${hostPath.slice(1)}`], { encoding: "utf8" });
      expect(result.stdout + result.stderr).toBe("");
      expect(result.status).toBe(0);
    });
  }

  // Compiled bytecode goes to a scratch directory, never next to the program.
  const cache = mkdtempSync(join(tmpdir(), "natgw-pycache-"));
  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  for (const hostPath of python) {
    const file = `${PROGRAMS_DIR}${hostPath.slice(1)}`;

    it.skipIf(missingTools("/usr/bin/python3"))(`${hostPath} compiles with Debian's python3`, () => {
      const result = spawnSync("/usr/bin/python3", ["-m", "py_compile", file], { encoding: "utf8", env: { ...process.env, PYTHONPYCACHEPREFIX: cache } });
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    });

    it.skipIf(missingTools("/usr/bin/pyflakes3"))(`${hostPath} passes pyflakes`, () => {
      const result = spawnSync("/usr/bin/pyflakes3", [file], { encoding: "utf8" });
      expect(result.stdout + result.stderr).toBe("");
      expect(result.status).toBe(0);
    });
  }
});
