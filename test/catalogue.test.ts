import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalogue } from "../src/diagnostics/catalogue.js";
import { listFixtures, pinnedCodes } from "./support/fixtures.js";

// Every message natgw can say is reached somewhere: by a bad spec in
// test/fixtures, whose expected file pins its codes and exit code, or by a test
// that asserts the code. A catalogue entry nothing reaches is either dead or
// untested.
const THIS_FILE = "test/catalogue.test.ts";

function testSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "fixtures" || entry.name === "golden" ? [] : testSources(path);
    return entry.name.endsWith(".ts") && path !== THIS_FILE ? [path] : [];
  });
}

describe("the diagnostic catalogue", () => {
  const codes = Object.values(catalogue).map((entry) => entry.code);

  it("gives every message its own code", () => {
    expect(new Set(codes).size).toBe(codes.length);
  });

  it("is reached entry by entry, by a fixture or by a test that names the code", () => {
    const byFixtures = new Set(listFixtures().flatMap((fixture) => pinnedCodes(readFileSync(fixture.expectedPath, "utf8"))));
    const byTests = new Set(testSources("test").flatMap((path) => readFileSync(path, "utf8").match(/NATGW\d{3}/g) ?? []));
    expect(codes.filter((code) => !byFixtures.has(code) && !byTests.has(code))).toEqual([]);
  });
});
