import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";

// UPDATE_GOLDEN=1 rewrites test/golden/*.model.json; review them as a diff.
const update = process.env.UPDATE_GOLDEN === "1";
const examples = readdirSync("examples").filter((file) => file.endsWith(".yaml")).sort();

describe("examples", () => {
  it("are the four a user starts from", () => {
    expect(examples).toEqual(["ha.yaml", "policies.yaml", "ports.yaml", "single.yaml"]);
  });

  for (const example of examples) {
    const path = `examples/${example}`;

    it(`${example} points editors at the schema on its first line`, () => {
      expect(readFileSync(path, "utf8").split("\n")[0]).toBe("# yaml-language-server: $schema=../schema/natgw.schema.json");
    });

    it(`${example} compiles without a diagnostic`, () => {
      const result = compile([path]);
      expect(result.diagnostics).toEqual([]);
      expect(result.model).toBeDefined();
    });

    it(`${example} resolves to its golden model, byte for byte, every time`, () => {
      const first = `${JSON.stringify(compile([path]).model, null, 2)}\n`;
      const second = `${JSON.stringify(compile([path]).model, null, 2)}\n`;
      expect(second).toBe(first);
      const golden = `test/golden/${example.replace(/\.yaml$/, "")}.model.json`;
      if (update) writeFileSync(golden, first);
      expect(first).toBe(readFileSync(golden, "utf8"));
    });
  }

  it("compile together as one spec", () => {
    const result = compile(examples.map((example) => `examples/${example}`));
    expect(result.diagnostics).toEqual([]);
    expect(result.model!.gateways.map((gateway) => gateway.name)).toEqual(["batch-egress", "dev-egress", "edge-egress", "prod-egress"]);
  });
});
