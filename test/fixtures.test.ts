import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import { compile } from "../src/compile.js";
import { formatText } from "../src/diagnostics/format.js";
import { fixtureHeader, listFixtures } from "./support/fixtures.js";

// UPDATE_FIXTURES=1 rewrites the .expected files; review them as a diff.
const update = process.env.UPDATE_FIXTURES === "1";
const fixtures = listFixtures();

describe("bad specs", () => {
  it("the corpus holds at least 40 bad specs", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(40);
  });

  for (const fixture of fixtures) {
    it(`${fixture.name} gives its expected diagnostics, codes and exit code`, async () => {
      const result = compile(fixture.files);
      // The exit code as `natgw validate` gives it, run in this process.
      const exitCode = await run(["validate", ...fixture.files], { stdout: () => {}, stderr: () => {}, env: {}, stdoutIsTTY: false, stderrIsTTY: false });
      const text = fixtureHeader(exitCode, result.diagnostics.map((diagnostic) => diagnostic.code)) + formatText(result.diagnostics);
      expect(result.diagnostics.length, "a bad spec must say what is wrong").toBeGreaterThan(0);
      for (const diagnostic of result.diagnostics) {
        expect(diagnostic.message).not.toMatch(/[\n\r]/);
        expect(diagnostic.message).not.toMatch(/\bat .*\.(ts|js):\d+/);
      }
      if (update) writeFileSync(fixture.expectedPath, text);
      expect(existsSync(fixture.expectedPath), `${fixture.expectedPath} is missing: run UPDATE_FIXTURES=1 npx vitest run test/fixtures.test.ts and review it`).toBe(true);
      expect(text).toBe(readFileSync(fixture.expectedPath, "utf8"));
    });
  }
});
