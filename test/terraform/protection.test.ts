import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileSources } from "../../src/compile.js";
import { emit } from "../../src/emit/emit.js";

// Partners allowlist the egress addresses, and a deleted floating IP goes back to
// Hetzner's pool: the floating IPs natgw creates are protected in Hetzner
// (delete_protection) and in Terraform (prevent_destroy), unless the egress IP
// says `deleteProtection: false`. Existing floating IPs are only looked up.

function stackOf(edit: (text: string) => string = (text) => text): Record<string, any> {
  const file = "examples/policies.yaml";
  const result = compileSources([{ path: file, text: edit(readFileSync(file, "utf8")) }]);
  expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const stack = emit(result.model!).artifacts.find((artifact) => artifact.path.startsWith("stacks/"))!;
  return JSON.parse(stack.content);
}

describe("floating IP delete protection", () => {
  it("every created floating IP has delete_protection = true and lifecycle.prevent_destroy", () => {
    const created = stackOf().resource.hcloud_floating_ip as Record<string, Record<string, any>>;
    expect(Object.keys(created).sort()).toEqual(["payments", "primary"]);
    for (const floatingIp of Object.values(created)) {
      expect(floatingIp.delete_protection).toBe(true);
      expect(floatingIp.lifecycle).toEqual({ prevent_destroy: true });
    }
  });

  it("an existing floating IP stays a data source, with nothing natgw would protect", () => {
    const stack = stackOf();
    const { "//": _metadata, ...existing } = stack.data.hcloud_floating_ip.logistics;
    expect(existing).toEqual({ id: 234567 });
  });

  it("deleteProtection: false removes both from that floating IP only, with a warning", () => {
    const edit = (text: string) => text.replace("    - name: payments\n", "    - name: payments\n      deleteProtection: false\n");
    const stack = stackOf(edit);
    const payments = stack.resource.hcloud_floating_ip.payments;
    expect(payments).not.toHaveProperty("delete_protection");
    expect(payments).not.toHaveProperty("lifecycle");
    expect(stack.resource.hcloud_floating_ip.primary).toMatchObject({ delete_protection: true, lifecycle: { prevent_destroy: true } });
    const result = compileSources([{ path: "policies.yaml", text: edit(readFileSync("examples/policies.yaml", "utf8")) }]);
    expect(result.diagnostics.map((d) => [d.code, d.severity, d.pointer])).toEqual([["NATGW208", "warning", "/spec/egressIPs/1/deleteProtection"]]);
  });

  it("deleteProtection: true on a created floating IP is the default, said out loud", () => {
    const edit = (text: string) => text.replace("    - name: payments\n", "    - name: payments\n      deleteProtection: true\n");
    expect(stackOf(edit)).toEqual(stackOf());
  });
});
