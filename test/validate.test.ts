import type { ErrorObject } from "ajv";
import { describe, expect, it } from "vitest";
import { compileSources } from "../src/compile.js";
import { load } from "../src/load/load.js";
import { explainSchemaError } from "../src/validate/messages.js";
import { codes, compileText, gateway, policy } from "./support/spec.js";

describe("validate", () => {
  it("suggests the field a misspelled key meant, at the key", () => {
    const result = compileText(gateway({ spec: "  egressIps:\n    - name: primary\n" }));
    expect(result.diagnostics).toMatchObject([
      { code: "NATGW102", line: 13, column: 3, pointer: "/spec/egressIps", hint: "did you mean `egressIPs`?" },
    ]);
  });

  it("lists the allowed fields when nothing is close", () => {
    const result = compileText(gateway({ spec: "  flavour: vanilla\n" }));
    expect(result.diagnostics[0]!.hint).toMatch(/^allowed fields: location, network, cluster/);
  });

  it("reports every schema problem of every document at once", () => {
    const result = compileText(
      gateway({ spec: "  routes: 0.0.0.0/0\n  metrics: { port: 80 }\n" }),
      policy("p", "  sources: []\n  destinations: [{ cidr: 203.0.113.0/24 }]\n  gatewayRef: { name: prod-egress }\n"),
    );
    expect(result.diagnostics.map((d) => [d.file, d.pointer, d.code])).toEqual([
      ["a.yaml", "/spec/routes", "NATGW103"],
      ["a.yaml", "/spec/metrics/port", "NATGW111"],
      ["b.yaml", "/spec/sources", "NATGW113"],
    ]);
  });

  it("says what type was expected and what was found", () => {
    const result = compileText(gateway({ spec: "  routes: 0.0.0.0/0\n" }));
    expect(result.diagnostics[0]!.message).toBe('spec.routes must be a list; found the string "0.0.0.0/0"');
  });

  it("names a missing required field with an example from the schema", () => {
    const result = compileText(gateway().replace("  location: fsn1\n", ""));
    expect(result.diagnostics[0]).toMatchObject({
      message: "spec is missing the required field `location`",
      hint: "add it, for example `location: fsn1`",
      pointer: "/spec",
    });
  });

  it("suggests the closest allowed value", () => {
    const result = compileText(gateway().replace("location: fsn1", "location: fsn"));
    expect(result.diagnostics[0]).toMatchObject({ code: "NATGW104", hint: "did you mean `fsn1`?" });
  });

  it("suggests the nearest power of two for portsPerSource", () => {
    const result = compileText(gateway({ spec: "  portsPerSource: 1000\n" }));
    expect(result.diagnostics[0]).toMatchObject({ code: "NATGW112", hint: "did you mean `1024`?" });
  });

  it("rejects IPv6 workload networks with the reason", () => {
    const result = compileText(gateway({ spec: "  sources: [fd00::/64]\n" }));
    expect(result.diagnostics[0]).toMatchObject({ code: "NATGW107", pointer: "/spec/sources/0" });
    expect(result.diagnostics[0]!.message).toContain("Hetzner Cloud private networks are IPv4-only");
  });

  it("offers /32 for an address written where a network belongs", () => {
    const result = compileText(gateway({ spec: "  sources: [10.0.1.5]\n" }));
    expect(result.diagnostics[0]).toMatchObject({ code: "NATGW105", hint: "did you mean `10.0.1.5/32`?" });
  });

  it("quotes a hostile name so it cannot break the line, and suggests a clean one", () => {
    const result = compileText(gateway({ name: '"prod\\n}"' }));
    const [diagnostic] = result.diagnostics;
    expect(diagnostic).toMatchObject({ code: "NATGW108", pointer: "/metadata/name", hint: "did you mean `prod`?" });
    expect(diagnostic!.message).toContain('found "prod\\n}"');
    expect(diagnostic!.message).not.toContain("\n");
  });

  it("refuses label keys and values that break Hetzner's label rules", () => {
    const result = compileText(
      gateway().replace("  name: prod-egress", '  name: prod-egress\n  labels: { "a b": ok, team: "x\\";rm" }'),
    );
    expect(codes(result)).toEqual(["NATGW109", "NATGW110"]);
  });

  it("flags a repeated list entry at the repeat", () => {
    const result = compileText(gateway({ spec: "  routes: [0.0.0.0/0, 0.0.0.0/0]\n" }));
    expect(result.diagnostics[0]).toMatchObject({ code: "NATGW114", pointer: "/spec/routes/1" });
  });

  it("accepts the largest Hetzner ID, 2^53-1, and refuses the next, quoting each too-large ID as written", () => {
    const at = (id: string) => gateway({ network: `  network:\n    id: ${id}\n    ipRange: 10.0.0.0/16\n    subnet: 10.0.1.0/24` });
    expect(compileText(at("9007199254740991")).diagnostics).toEqual([]);
    for (const written of ["9007199254740992", "9007199254740993", "1e20", "0x20000000000001"]) {
      const [diagnostic, ...rest] = compileText(at(written)).diagnostics;
      expect(rest).toEqual([]);
      expect(diagnostic).toMatchObject({ code: "NATGW117", pointer: "/spec/network/id", line: 8, column: 9 });
      expect(diagnostic!.message).toMatch(new RegExp(`^spec\\.network\\.id is ${written}, too large`));
    }
  });

  it("quotes a too-large ID in a JSON spec as written, though JSON reads it rounded", () => {
    const spec = {
      apiVersion: "natgw.dev/v1alpha1",
      kind: "NatGateway",
      metadata: { name: "prod-egress" },
      spec: { location: "fsn1", network: { id: 1, ipRange: "10.0.0.0/16", subnet: "10.0.1.0/24" }, members: { sshKeys: ["ops"] } },
    };
    const text = JSON.stringify(spec, null, 2).replace('"id": 1', '"id": 12345678901234567890');
    const result = compileSources([{ path: "spec.json", text }]);
    expect(result.diagnostics).toMatchObject([{ code: "NATGW117", line: 10, column: 13 }]);
    expect(result.diagnostics[0]!.message).toContain("is 12345678901234567890, too large");
  });
});

describe("a schema keyword natgw has no message of its own for", () => {
  it("NATGW199 says what a schema keyword without a message of its own found: the schema may gain one before natgw words it", () => {
    const document = load([{ path: "spec.yaml", text: "apiVersion: natgw.dev/v1alpha1\nkind: NatGateway\nmetadata: { name: a }\nspec:\n  metrics: { port: 9101 }\n" }]).documents[0]!;
    const error = { keyword: "multipleOf", instancePath: "/spec/metrics/port", schemaPath: "#", params: { multipleOf: 2 }, message: "must be multiple of 2", data: 9101 } as ErrorObject;
    expect(explainSchemaError(document, error)).toMatchObject({
      code: "NATGW199",
      severity: "error",
      message: "spec.metrics.port must be multiple of 2",
      file: "spec.yaml",
      line: 5,
    });
  });
});
