import { describe, expect, it } from "vitest";
import { schemaDefault } from "../src/spec/schema.js";
import { codes, compileText, errors, gateway, policy } from "./support/spec.js";

const only = (text: string) => {
  const result = compileText(text);
  expect(errors(result)).toEqual([]);
  return result.model!.gateways[0]!;
};

describe("defaults", () => {
  it("applies the schema's defaults", () => {
    const model = only(gateway());
    expect(model.mode).toBe("ha");
    expect(model.routes).toEqual(schemaDefault("NatGatewaySpec", "routes"));
    expect(model.egressIPs.map((e) => e.name)).toEqual(["primary"]);
    expect(model.security.blockSMTP25).toBe(true);
    expect(model.metrics).toEqual({ enabled: true, port: 9100 });
    expect(model.members[0]).toMatchObject({ serverType: "cx23", image: "debian-12" });
    expect(model.network.zone).toBe("eu-central");
  });

  it("defaults sources to the network's ip range", () => {
    expect(only(gateway()).sources).toEqual(["10.0.0.0/16"]);
  });
});

describe("member addresses", () => {
  it("allocates from the top of the subnet, member 1 active", () => {
    const members = only(gateway()).members;
    expect(members.map((m) => [m.name, m.privateIp, m.initialRole])).toEqual([
      ["prod-egress-1", "10.0.1.254", "active"],
      ["prod-egress-2", "10.0.1.253", "standby"],
    ]);
  });

  it("allocates one member in Single mode", () => {
    expect(only(gateway({ spec: "  highAvailability: { enabled: false }\n" })).members).toHaveLength(1);
  });

  it("skips addresses another gateway on the same network was given", () => {
    const result = compileText(
      gateway({ name: "a", spec: "  routes: [10.99.0.0/16]\n" }),
      gateway({ name: "b", spec: "  routes: [0.0.0.0/0]\n  members:\n    privateIPs: [10.0.1.254, 10.0.1.252]\n    sshKeys: [ops]\n" }).replace(
        "0.0.0.0/0",
        "10.98.0.0/16",
      ),
    );
    expect(errors(result)).toEqual([]);
    const a = result.model!.gateways.find((g) => g.name === "a")!;
    expect(a.members.map((m) => m.privateIp)).toEqual(["10.0.1.253", "10.0.1.251"]);
  });

  it.each([
    ["10.0.0.1", "router", "10.0.0.0/24", "NATGW310"],
    ["10.0.1.0", "subnet address", "10.0.1.0/24", "NATGW310"],
    ["10.0.2.9", "outside", "10.0.1.0/24", "NATGW309"],
  ])("refuses %s (%s)", (address, _, subnet, code) => {
    const text = gateway({ spec: `  highAvailability: { enabled: false }\n  members: { privateIPs: [${address}], sshKeys: [ops] }\n` }).replace(
      "subnet: 10.0.1.0/24",
      `subnet: ${subnet}`,
    );
    expect(codes(compileText(text))).toContain(code);
  });

  it("wants one address per member", () => {
    const result = compileText(gateway({ spec: "  members: { privateIPs: [10.0.1.2], sshKeys: [ops] }\n" }));
    expect(result.diagnostics[0]!.message).toBe("spec.members.privateIPs lists 1 address, but high availability runs 2 members");
  });
});

describe("networks and routes", () => {
  it("points at the network the user meant when host bits are set", () => {
    const result = compileText(gateway().replace("subnet: 10.0.1.0/24", "subnet: 10.0.1.5/24"));
    expect(result.diagnostics[0]).toMatchObject({ code: "NATGW301", hint: "did you mean `10.0.1.0/24`?", line: 10 });
  });

  it("refuses overlapping routes of two gateways on one network, at the later route", () => {
    const result = compileText(gateway({ name: "a" }), gateway({ name: "b", spec: "  routes: [10.99.0.0/16]\n" }));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW403", file: "b.yaml", pointer: "/spec/routes/0" }]);
  });

  it("lets gateways on different networks both route 0.0.0.0/0", () => {
    const other = gateway({ name: "b", network: "  network:\n    id: 9\n    ipRange: 10.1.0.0/16\n    subnet: 10.1.0.0/24" });
    expect(errors(compileText(gateway({ name: "a" }), other))).toEqual([]);
  });

  it("refuses a route over the network's router address", () => {
    const result = compileText(gateway({ spec: "  routes: [10.0.0.0/24]\n" }));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW405", pointer: "/spec/routes/0" }]);
  });

  it("says so when one gateway's own routes overlap", () => {
    const result = compileText(gateway({ spec: "  routes: [10.98.0.0/16, 10.98.7.0/24]\n" }));
    expect(result.diagnostics[0]!.message).toBe('route "10.98.7.0/24" overlaps this gateway\'s route "10.98.0.0/16"; Hetzner Cloud refuses overlapping routes in one network');
  });

  it("refuses a route over a subnet and a public route", () => {
    const result = compileText(gateway({ spec: "  routes: [10.0.1.128/25, 8.8.8.0/24]\n" }));
    expect(codes(result)).toEqual(["NATGW402", "NATGW401"]);
  });

  it("refuses a subnet outside the ip range and a zone the location is not in", () => {
    const result = compileText(
      gateway().replace("subnet: 10.0.1.0/24", "subnet: 10.1.1.0/24\n    zone: us-east"),
    );
    expect(codes(result)).toEqual(["NATGW303", "NATGW304"]);
  });

  it("refuses a floating IP attached to two gateways", () => {
    const net = (n: number) => `  network:\n    id: ${n}\n    ipRange: 10.${n}.0.0/16\n    subnet: 10.${n}.0.0/24`;
    const result = compileText(
      gateway({ name: "a", network: net(1), spec: "  egressIPs: [{ name: x, floatingIPId: 7 }]\n" }),
      gateway({ name: "b", network: net(2), spec: "  egressIPs: [{ name: y, floatingIPId: 7 }]\n" }),
    );
    expect(result.diagnostics).toMatchObject([{ code: "NATGW205", file: "b.yaml" }]);
    expect(result.diagnostics[0]!.message).toContain('egress IP "x" of gateway "a" (a.yaml:13:');
  });
});

describe("policies", () => {
  const threeIPs = "  egressIPs: [{ name: primary }, { name: blue }, { name: green }]\n";
  const p = (name: string, source: string, destination: string, egressIP?: string) =>
    policy(
      name,
      `  sources: [{ cidr: ${source} }]\n  destinations: [{ cidr: ${destination} }]\n  gatewayRef: { name: prod-egress }\n${egressIP ? `  egressIP: ${egressIP}\n` : ""}`,
    );

  it("binds policies to their egress IP, defaulting to the first", () => {
    const result = compileText(gateway({ spec: threeIPs }), p("a", "10.0.2.0/24", "203.0.113.0/24", "blue"), p("b", "10.0.3.0/24", "198.51.100.0/24"));
    const model = result.model!.gateways[0]!;
    expect(model.policies.map((x) => [x.name, x.egressIP])).toEqual([
      ["a", "blue"],
      ["b", "primary"],
    ]);
    expect(model.egressIPs.map((e) => [e.name, e.policies])).toEqual([
      ["primary", ["b"]],
      ["blue", ["a"]],
      ["green", []],
    ]);
    expect(codes(result)).toEqual(["NATGW207"]);
  });

  it("refuses two policies that send one flow out of two egress IPs, with an example flow", () => {
    const result = compileText(gateway({ spec: threeIPs }), p("a", "10.0.0.0/16", "203.0.113.0/24", "blue"), p("b", "10.0.2.0/24", "203.0.113.128/25", "green"));
    const conflict = result.diagnostics.find((d) => d.code === "NATGW504")!;
    expect(conflict).toMatchObject({ file: "c.yaml", pointer: "/spec/destinations/0/cidr" });
    expect(conflict.message).toContain("e.g. 10.0.2.0/24 to 203.0.113.128/25");
  });

  it("allows overlapping policies that agree on the egress IP", () => {
    const result = compileText(gateway({ spec: threeIPs }), p("a", "10.0.0.0/16", "203.0.113.0/24", "blue"), p("b", "10.0.2.0/24", "203.0.113.0/24", "blue"));
    expect(codes(result)).toEqual(["NATGW207"]);
  });

  it("suggests the gateway a dangling gatewayRef meant", () => {
    const result = compileText(gateway(), p("a", "10.0.2.0/24", "203.0.113.0/24").replace("name: prod-egress", "name: prod-egres"));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW202", hint: "did you mean `prod-egress`?" }]);
  });

  it.each([
    ["a source outside the gateway's sources", "10.1.0.0/24", "203.0.113.0/24", "NATGW501"],
    ["a destination in the private network", "10.0.2.0/24", "10.0.5.0/24", "NATGW503"],
    ["a destination in link-local", "10.0.2.0/24", "169.254.169.254/32", "NATGW505"],
  ])("refuses %s", (_, source, destination, code) => {
    expect(codes(compileText(gateway(), p("a", source, destination)))).toEqual([code]);
  });

  it("accepts 0.0.0.0/0 as a policy destination: its private part never arrives", () => {
    const result = compileText(gateway({ spec: threeIPs }), p("a", "10.0.2.0/24", "0.0.0.0/0", "blue"), p("b", "10.0.3.0/24", "0.0.0.0/0", "green"));
    expect(codes(result)).toEqual([]);
  });

  it("refuses a destination no route of the gateway covers", () => {
    const result = compileText(gateway({ spec: "  routes: [10.99.0.0/16]\n" }), p("a", "10.0.2.0/24", "203.0.113.0/24"));
    expect(codes(result)).toEqual(["NATGW502"]);
  });
});

describe("requirements", () => {
  it.each([
    ["privateNetworking: false", "NATGW701"],
    ["hostFirewall: true", "NATGW702"],
    ["controlPlane: { privateOnly: true }", "NATGW703"],
  ])("%s is an error that says why", (setting, code) => {
    const result = compileText(gateway({ spec: `  cluster:\n    ${setting}\n` }));
    expect(codes(result)).toEqual([code]);
    expect(result.model).toBeUndefined();
  });

  it("warns per egress IP when the API allows only some networks, and still compiles", () => {
    const result = compileText(gateway({ spec: "  cluster: { apiAllowedNetworks: [198.51.100.0/24] }\n" }));
    expect(codes(result)).toEqual(["NATGW704"]);
    expect(result.model).toBeDefined();
  });

  it("does not warn when the API is open to all", () => {
    expect(codes(compileText(gateway({ spec: "  cluster: { apiAllowedNetworks: [0.0.0.0/0] }\n" })))).toEqual([]);
  });

  it("warns that SSH is closed when no CIDR may reach it", () => {
    const result = compileText(gateway().replace("    sshAllowedCIDRs: [198.51.100.7/32]", "    blockSMTP25: false"));
    expect(codes(result)).toEqual(["NATGW705"]);
  });
});

describe("the model", () => {
  it("is the same bytes for the same spec, whatever the document order", () => {
    const docs = [gateway({ spec: "  egressIPs: [{ name: primary }, { name: blue }]\n" }), policy("z", "  sources: [{ cidr: 10.0.2.0/24 }]\n  destinations: [{ cidr: 203.0.113.0/24 }]\n  gatewayRef: { name: prod-egress }\n  egressIP: blue\n"), policy("a", "  sources: [{ cidr: 10.0.3.0/24 }]\n  destinations: [{ cidr: 203.0.113.0/24 }]\n  gatewayRef: { name: prod-egress }\n  egressIP: blue\n")];
    const forward = JSON.stringify(compileText(docs.join("---\n")).model);
    const backward = JSON.stringify(compileText([...docs].reverse().join("---\n")).model);
    expect(forward).toBe(backward);
    expect(JSON.parse(forward).gateways[0].policies.map((x: { name: string }) => x.name)).toEqual(["a", "z"]);
  });

  it("sorts networks numerically, not as text", () => {
    const model = only(gateway({ spec: "  sources: [10.0.10.0/24, 10.0.9.0/24, 10.0.100.0/24]\n" }));
    expect(model.sources).toEqual(["10.0.9.0/24", "10.0.10.0/24", "10.0.100.0/24"]);
  });
});

describe("high availability and host sizing", () => {
  it("derives a virtual router id from the name, the same every build", () => {
    const first = only(gateway()).vrrp!;
    expect(first).toEqual({ virtualRouterId: only(gateway()).vrrp!.virtualRouterId, advertIntervalSeconds: 0.5, preempt: false });
    expect(first.virtualRouterId).toBeGreaterThanOrEqual(1);
    expect(first.virtualRouterId).toBeLessThanOrEqual(255);
  });

  it("gives gateways on one network distinct virtual router ids", () => {
    const result = compileText(
      gateway({ name: "a", spec: "  routes: [10.98.0.0/16]\n" }),
      gateway({ name: "b", spec: "  routes: [10.99.0.0/16]\n" }),
    );
    const ids = result.model!.gateways.map((g) => g.vrrp!.virtualRouterId);
    expect(new Set(ids).size).toBe(2);
  });

  it("has no VRRP in Single mode", () => {
    expect(only(gateway({ spec: "  highAvailability: { enabled: false }\n" })).vrrp).toBeNull();
  });

  it("counts the advert interval in hundredths", () => {
    const result = compileText(gateway({ spec: "  highAvailability: { advertIntervalSeconds: 0.333 }\n" }));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW115", hint: "use 0.33" }]);
  });

  it("sizes connection tracking from the server type's memory", () => {
    expect(only(gateway({ spec: "  members: { serverType: cx43, sshKeys: [ops] }\n" })).host).toEqual({
      memoryMiB: 16384,
      conntrackMax: 8388608,
      conntrackBuckets: 2097152,
    });
  });

  it("warns about an unknown server type and sizes for the smallest", () => {
    const result = compileText(gateway({ spec: "  members: { serverType: cx99, sshKeys: [ops] }\n" }));
    expect(codes(result)).toEqual(["NATGW706"]);
    expect(result.model!.gateways[0]!.host.conntrackMax).toBe(1048576);
  });
});

