import { describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { emit } from "../../src/emit/emit.js";
import type { Model } from "../../src/resolve/model.js";

/**
 * `nft -c` and `keepalived -t` accept a file with an injected directive, so the
 * defence is that no hostile value reaches a template at all. The schema already
 * refuses such values; this proves the emitters refuse them too, should one ever
 * slip past resolve: every string of the model a host file could show is replaced
 * by a payload, and emitting must throw rather than write it.
 */
const base = compile(["examples/policies.yaml", "examples/ports.yaml"]).model!;

const PAYLOADS = ['x"\n}\nINJECTED accept', "x'\nINJECTED", "x;INJECTED", "$(INJECTED)", "x\nnotify_master /bin/INJECTED", "10.0.0.1 INJECTED"];

type Gateways = { gateways: Record<string, unknown>[] };
type Mutation = (model: Gateways, payload: string) => void;

/** edge-egress has the policies, batch-egress the port blocks. */
const edge = (m: Gateways) => m.gateways.find((g) => g.name === "edge-egress")!;
const batch = (m: Gateways) => m.gateways.find((g) => g.name === "batch-egress")!;

/** Where a string from the spec sits in the model, by what it is. */
const FIELDS: Record<string, Mutation> = {
  "gateway name": (m, p) => (edge(m).name = p),
  "network name": (m, p) => ((edge(m).network as Record<string, unknown>).name = p),
  "network ip range": (m, p) => ((edge(m).network as Record<string, unknown>).ipRange = p),
  "network router ip": (m, p) => ((edge(m).network as Record<string, unknown>).routerIp = p),
  "member name": (m, p) => ((edge(m).members as Record<string, unknown>[])[0]!.name = p),
  "member private ip": (m, p) => ((edge(m).members as Record<string, unknown>[])[1]!.privateIp = p),
  "member server type": (m, p) => ((edge(m).members as Record<string, unknown>[])[0]!.serverType = p),
  "egress IP name": (m, p) => ((edge(m).egressIPs as Record<string, unknown>[])[1]!.name = p),
  "policy name": (m, p) => ((edge(m).policies as Record<string, unknown>[])[0]!.name = p),
  "policy egress IP": (m, p) => ((edge(m).policies as Record<string, unknown>[])[0]!.egressIP = p),
  "policy destination": (m, p) => ((edge(m).policies as Record<string, string[]>[])[0]!.destinations![0] = p),
  route: (m, p) => ((edge(m).routes as string[])[0] = p),
  source: (m, p) => ((edge(m).sources as string[])[0] = p),
  "SSH allowed CIDR": (m, p) => (((edge(m).security as Record<string, string[]>).sshAllowedCIDRs as string[])[0] = p),
  "port block egress IP": (m, p) =>
    (((batch(m).portBlocks as Record<string, unknown>).segments as Record<string, unknown>[])[0]!.egressIP = p),
  "port block source": (m, p) =>
    (((batch(m).portBlocks as Record<string, unknown>).segments as Record<string, unknown>[])[0]!.firstSource = p),
};

describe("hostile values never reach a host file", () => {
  it("the untouched model emits", () => {
    expect(emit(base).diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  });

  for (const [field, mutate] of Object.entries(FIELDS)) {
    it(`a hostile ${field} is refused, or shown nowhere`, () => {
      for (const payload of PAYLOADS) {
        const model = structuredClone(base) as unknown as Gateways;
        mutate(model, payload);
        let written: string[];
        try {
          written = emit(model as unknown as Model).artifacts.map((artifact) => artifact.content);
        } catch (error) {
          expect((error as Error).message, JSON.stringify(payload)).toMatch(/natgw bug: unsafe|cannot be quoted/);
          continue;
        }
        expect(written.filter((content) => content.includes("INJECTED")), JSON.stringify(payload)).toEqual([]);
      }
    });
  }
});
