import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HOST_FILES } from "../../src/emit/hosts/files.js";
import { PROGRAMS_DIR } from "../../src/emit/hosts/render.js";
import { missingTools } from "../support/tools.js";

/** Every file under programs/, at its path on the host. */
const programs = readdirSync(PROGRAMS_DIR, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => `/${relative(PROGRAMS_DIR, join(entry.parentPath, entry.name))}`)
  .sort();
const python = programs.filter((hostPath) => /^#!\/usr\/bin\/python3\n/.test(readFileSync(`${PROGRAMS_DIR}${hostPath.slice(1)}`, "utf8")));

describe("programs/", () => {
  it("holds only programs a host file ships", () => {
    expect(programs.length).toBeGreaterThan(0);
    const shipped = HOST_FILES.filter((file) => "program" in file).map((file) => file.hostPath);
    expect(programs).toEqual([...shipped].sort());
  });

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
