import { describe, expect, it } from "vitest";
import { compile } from "../src/compile.js";
import { explain, type Flow } from "../src/explain/explain.js";

const model = compile(["examples/single.yaml", "examples/ha.yaml", "examples/policies.yaml", "examples/ports.yaml"]).model!;
const flow = (source: string, destination: string, port: number | null = 443, protocol: Flow["protocol"] = "tcp"): Flow => ({
  source,
  destination,
  port,
  protocol,
});

describe("explain", () => {
  it("sends a policy's flow out of the policy's egress IP", () => {
    const result = explain(model, flow("10.20.16.5", "203.0.113.10"));
    expect(result).toMatchObject({
      verdict: "snat",
      gateway: "edge-egress",
      route: "0.0.0.0/0",
      policy: "payments-api",
      egressIP: { name: "payments", floatingIPId: null },
      activeMember: { name: "edge-egress-1" },
      portBlock: null,
    });
  });

  it("sends other traffic from the same source out of the first egress IP", () => {
    expect(explain(model, flow("10.20.16.5", "192.0.2.10"))).toMatchObject({ policy: null, egressIP: { name: "primary" } });
  });

  it("matches the second of two policies that share an egress IP", () => {
    expect(explain(model, flow("10.20.16.5", "203.0.113.200"))).toMatchObject({ policy: "logistics-reports", egressIP: { name: "logistics", floatingIPId: 234567 } });
  });

  it("shows a portsPerSource flow's block", () => {
    expect(explain(model, flow("10.30.8.2", "192.0.2.1"))).toMatchObject({
      egressIP: { name: "primary" },
      portBlock: { first: 1024 + 2 * 1024, last: 1024 + 3 * 1024 - 1, portsPerSource: 1024 },
    });
  });

  it("shows the spilled source on the second egress IP", () => {
    expect(explain(model, flow("10.30.8.63", "192.0.2.1", null, "udp"))).toMatchObject({
      egressIP: { name: "spill" },
      portBlock: { first: 1024, last: 2047 },
    });
  });

  it.each([
    ["TCP 25 with blockSMTP25", flow("10.0.3.3", "192.0.2.25", 25), /TCP port 25/],
    ["the metadata service", flow("10.0.3.3", "169.254.169.254", 80), /169\.254\.0\.0\/16/],
  ])("drops %s", (_, input, reason) => {
    const result = explain(model, input);
    expect(result.verdict).toBe("dropped");
    expect(result.reason).toMatch(reason);
    expect(result.egressIP).toBeNull();
  });

  it("lets UDP 25 pass: only TCP 25 is SMTP", () => {
    expect(explain(model, flow("10.0.3.3", "192.0.2.25", 25, "udp")).verdict).toBe("snat");
  });

  it("drops a source on the network but outside the gateway's sources", () => {
    const result = explain(model, flow("10.30.9.1", "192.0.2.1"));
    expect(result).toMatchObject({ verdict: "dropped", gateway: "batch-egress" });
  });

  it("does not forward private traffic, nor traffic from outside every network", () => {
    expect(explain(model, flow("10.0.3.3", "10.0.9.9")).verdict).toBe("not-forwarded");
    expect(explain(model, flow("192.168.1.1", "192.0.2.1")).verdict).toBe("not-forwarded");
  });
});
