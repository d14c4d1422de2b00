import { describe, expect, it } from "vitest";
import { addressToNumber } from "../src/resolve/ip.js";
import type { GatewayModel } from "../src/resolve/model.js";
import { codes, compileText, errors, gateway, policy } from "./support/spec.js";

const withPorts = (spec: string, ...policies: string[]) => compileText(gateway({ spec }), ...policies);

/** Expands the model's segments into source -> [egress IP, first port] for checking by hand. */
function blocks(model: GatewayModel, defaultOnly = false): Map<string, [string, number][]> {
  const result = new Map<string, [string, number][]>();
  const ports = model.portBlocks!;
  for (const segment of ports.segments) {
    if (defaultOnly && !segment.defaultTraffic) continue;
    const first = addressToNumber(segment.firstSource);
    for (let k = 0; first + k <= addressToNumber(segment.lastSource); k++) {
      const key = String(first + k);
      result.set(key, [...(result.get(key) ?? []), [segment.egressIP, segment.firstPort + k * ports.portsPerSource]]);
    }
  }
  return result;
}

describe("port blocks", () => {
  it("gives each source a block from 1024 up, in address order", () => {
    const model = withPorts("  sources: [10.0.2.0/30]\n  portsPerSource: 2048\n").model!.gateways[0]!;
    expect(model.portBlocks).toMatchObject({ portsPerSource: 2048, blocksPerEgressIP: 31, firstPort: 1024, lastPort: 65535 });
    expect(model.portBlocks!.segments).toEqual([
      { egressIP: "primary", firstSource: "10.0.2.0", lastSource: "10.0.2.3", firstPort: 1024, defaultTraffic: true },
    ]);
  });

  it("spills sources that do not fit onto the egress IPs no policy names", () => {
    const result = withPorts(
      "  sources: [10.0.2.0/26]\n  portsPerSource: 2048\n  egressIPs: [{ name: primary }, { name: more }, { name: most }]\n",
    );
    expect(errors(result)).toEqual([]);
    const segments = result.model!.gateways[0]!.portBlocks!.segments;
    expect(segments.map((s) => [s.egressIP, s.firstSource, s.lastSource])).toEqual([
      ["primary", "10.0.2.0", "10.0.2.30"],
      ["more", "10.0.2.31", "10.0.2.61"],
      ["most", "10.0.2.62", "10.0.2.63"],
    ]);
  });

  it("holds a block for every policy source on the policy's egress IP, beside its default block", () => {
    const result = withPorts(
      "  sources: [10.0.2.0/28]\n  portsPerSource: 2048\n  egressIPs: [{ name: primary }, { name: partner }]\n",
      policy("p", "  sources: [{ cidr: 10.0.2.4/30 }]\n  destinations: [{ cidr: 203.0.113.0/24 }]\n  gatewayRef: { name: prod-egress }\n  egressIP: partner\n"),
    );
    expect(errors(result)).toEqual([]);
    const model = result.model!.gateways[0]!;
    const all = blocks(model);
    expect(all.get(String(addressToNumber("10.0.2.5")))).toEqual([
      ["primary", 1024 + 5 * 2048],
      ["partner", 1024 + 1 * 2048],
    ]);
    expect(all.get(String(addressToNumber("10.0.2.9")))).toEqual([["primary", 1024 + 9 * 2048]]);
    expect(blocks(model, true).size).toBe(16);
  });

  it("keeps a source's block on the first egress IP when a policy names it, and fills the rest around it", () => {
    const result = withPorts(
      "  sources: [10.0.2.0/26]\n  portsPerSource: 2048\n  egressIPs: [{ name: primary }, { name: more }, { name: most }]\n",
      policy("p", "  sources: [{ cidr: 10.0.2.48/28 }]\n  destinations: [{ cidr: 203.0.113.0/24 }]\n  gatewayRef: { name: prod-egress }\n  egressIP: primary\n"),
    );
    expect(errors(result)).toEqual([]);
    const segments = result.model!.gateways[0]!.portBlocks!.segments;
    expect(segments.map((s) => [s.egressIP, s.firstSource, s.lastSource, s.firstPort])).toEqual([
      ["primary", "10.0.2.0", "10.0.2.14", 1024],
      ["primary", "10.0.2.48", "10.0.2.63", 1024 + 15 * 2048],
      ["more", "10.0.2.15", "10.0.2.45", 1024],
      ["most", "10.0.2.46", "10.0.2.47", 1024],
    ]);
  });

  it("says how many egress IPs, or which block size, would fit", () => {
    const result = withPorts("  sources: [10.0.2.0/24]\n  portsPerSource: 2048\n");
    expect(result.diagnostics).toMatchObject([{ code: "NATGW601", pointer: "/spec/portsPerSource" }]);
    expect(result.diagnostics[0]!.message).toBe(
      'sources need 256 blocks of 2,048 ports, 524,288 ports; the default egress IP ("primary") holds 31 blocks, 63,488 ports',
    );
    expect(result.diagnostics[0]!.hint).toBe("add 8 egress IPs that no policy names, or use portsPerSource 128");
  });

  it("says when a policy's egress IP cannot hold its sources", () => {
    const result = withPorts(
      "  sources: [10.0.0.0/17]\n  portsPerSource: 8\n  egressIPs: [{ name: primary }, { name: partner }, { name: a }, { name: b }, { name: c }, { name: d }]\n",
      policy("p", "  sources: [{ cidr: 10.0.0.0/18 }]\n  destinations: [{ cidr: 203.0.113.0/24 }]\n  gatewayRef: { name: prod-egress }\n  egressIP: partner\n"),
    );
    expect(codes(result)).toEqual(["NATGW601"]);
    expect(result.diagnostics[0]!.message).toContain('egress IP "partner" serves 16,384 source addresses of policy "p"');
    expect(result.diagnostics[0]!.hint).toBe("narrow the policy's sources to 8,064 addresses");
  });

  it("no block overlaps another on the same egress IP, and every block lies in 1024-65535", () => {
    const result = withPorts(
      "  sources: [10.0.0.0/22, 10.0.8.0/23]\n  portsPerSource: 64\n  egressIPs: [{ name: primary }, { name: b }, { name: c }]\n",
    );
    const model = result.model!.gateways[0]!;
    const used = new Map<string, number[]>();
    for (const [, list] of blocks(model)) {
      for (const [egressIP, port] of list) used.set(egressIP, [...(used.get(egressIP) ?? []), port]);
    }
    for (const ports of used.values()) {
      const sorted = [...ports].sort((a, b) => a - b);
      sorted.forEach((port, i) => {
        expect(port).toBeGreaterThanOrEqual(1024);
        expect(port + 63).toBeLessThanOrEqual(65535);
        if (i > 0) expect(port - sorted[i - 1]!).toBeGreaterThanOrEqual(64);
      });
    }
    expect([...blocks(model, true).keys()]).toHaveLength(1024 + 512);
  });
});

describe("port block advice", () => {
  it("never advises more egress IPs than a gateway may have, and offers a block size with more IPs instead", () => {
    const result = withPorts("  portsPerSource: 2048\n");
    expect(result.diagnostics[0]!.hint).toBe("use portsPerSource 8 and add 8 egress IPs that no policy names");
  });

  it("offers both fixes when both work", () => {
    const result = withPorts("  sources: [10.0.2.0/25]\n  portsPerSource: 1024\n");
    expect(result.diagnostics[0]!.hint).toBe("add 2 egress IPs that no policy names, or use portsPerSource 256");
  });
});
