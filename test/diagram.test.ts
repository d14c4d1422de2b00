import { describe, expect, it } from "vitest";
import { formatExplanationMermaid } from "../src/cli/explain-mermaid.js";
import { compile } from "../src/compile.js";
import { emit } from "../src/emit/emit.js";
import { explain } from "../src/explain/explain.js";
import type { GatewayModel } from "../src/resolve/model.js";
import { mermaidLabel } from "../src/util/mermaid.js";
import { EXAMPLES } from "./support/artifacts.js";
import { mermaidBlocks, parseFlowchart, type Flowchart } from "./support/mermaid.js";

/**
 * The topology page of every gateway (diagrams/<gateway>.md), read back through
 * Mermaid's own parser: it accepts the diagram, and the graph it parses holds
 * the gateway as the model has it. The tables below carry the same facts.
 */
const built = EXAMPLES.map((example) => {
  const model = compile([`examples/${example}.yaml`]).model!;
  return { example, model, artifacts: emit(model).artifacts };
});
const gateways = built.flatMap(({ model, artifacts }) =>
  model.gateways.map((gateway) => ({ gateway, page: artifacts.find((artifact) => artifact.path === `diagrams/${gateway.name}.md`) })),
);

/** The vertex whose label starts with `name`: members, policies and egress IPs are labelled by name first. */
function vertexNamed(chart: Flowchart, name: string) {
  const found = [...chart.vertices.values()].filter((vertex) => vertex.lines[0] === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
}

function edgesBetween(chart: Flowchart, start: string, end: string) {
  return chart.edges.filter((edge) => edge.start === start && edge.end === end);
}

/** A Markdown table's rows after the header, as cells. */
function tableRows(page: string, header: string): string[][] {
  const lines = page.split("\n");
  const start = lines.indexOf(header);
  expect(start, header).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.slice(1, -1).split("|").map((cell) => cell.trim()));
  }
  return rows;
}

describe("topology page", () => {
  it("every gateway of every example has one, with role diagram", () => {
    expect(gateways.map(({ gateway, page }) => [gateway.name, page?.role])).toEqual([
      ["dev-egress", "diagram"],
      ["prod-egress", "diagram"],
      ["edge-egress", "diagram"],
      ["batch-egress", "diagram"],
    ]);
    for (const { page } of gateways) expect(mermaidBlocks(page!.content)).toHaveLength(1);
  });

  describe.each(gateways.map(({ gateway, page }) => [gateway.name, gateway, page!.content] as const))(
    "%s",
    (_name, gateway: GatewayModel, page: string) => {
      const chart = () => parseFlowchart(mermaidBlocks(page)[0]!);

      it("Mermaid parses its diagram: the network, the subnet and the members with their private IPs", async () => {
        const parsed = await chart();
        expect(parsed.subgraphs.get("network")!.title).toBe(`Network ${gateway.network.name ?? `id ${gateway.network.id}`}${gateway.network.create ? " (created by Terraform)" : ""}: ${gateway.network.ipRange}`);
        expect(parsed.subgraphs.get("subnet")!.title).toBe(`Subnet ${gateway.network.subnet} in ${gateway.network.zone}`);
        const members = gateway.members.map((member) => vertexNamed(parsed, member.name));
        expect(parsed.subgraphs.get("subnet")!.nodes).toEqual(members.map((vertex) => vertex.id));
        for (const [index, member] of gateway.members.entries()) expect(members[index]!.lines[1]).toBe(member.privateIp);
      });

      it("the routes lead to the active member, which the standby backs up", async () => {
        const parsed = await chart();
        const active = vertexNamed(parsed, gateway.members.find((member) => member.initialRole === "active")!.name);
        expect(active.classes).toEqual(["active"]);
        expect(active.lines[2]).toMatch(/^active/);
        expect(vertexNamed(parsed, "Sources").lines.slice(1)).toEqual(gateway.sources);
        expect(edgesBetween(parsed, "router", active.id).map((edge) => edge.text.split("<br>"))).toEqual([gateway.routes]);
        const standby = gateway.members.find((member) => member.initialRole === "standby");
        if (standby) {
          const link = edgesBetween(parsed, active.id, vertexNamed(parsed, standby.name).id);
          expect(link).toMatchObject([{ stroke: "dotted", text: "VRRP, conntrack sync" }]);
        } else {
          expect(gateway.mode).toBe("single");
          expect(parsed.edges.filter((edge) => edge.stroke === "dotted")).toEqual([]);
        }
      });

      it("each policy leads from the active member to its egress IP, with its sources and destinations", async () => {
        const parsed = await chart();
        const active = vertexNamed(parsed, gateway.members[0]!.name);
        for (const policy of gateway.policies) {
          const vertex = vertexNamed(parsed, policy.name);
          expect(vertex.lines.slice(1)).toEqual([`from ${policy.sources.join(", ")}`, `to ${policy.destinations.join(", ")}`]);
          expect(edgesBetween(parsed, active.id, vertex.id)).toHaveLength(1);
          expect(edgesBetween(parsed, vertex.id, vertexNamed(parsed, policy.egressIP).id)).toHaveLength(1);
        }
        expect(parsed.subgraphs.get("policies")?.nodes ?? []).toHaveLength(gateway.policies.length);
      });

      it("default traffic leaves from the default egress IPs, and every egress IP reaches the internet", async () => {
        const parsed = await chart();
        const active = vertexNamed(parsed, gateway.members[0]!.name);
        for (const egressIP of gateway.egressIPs) {
          const vertex = vertexNamed(parsed, egressIP.name);
          expect(vertex.shape).toBe("stadium");
          expect(vertex.lines[1]).toBe(egressIP.floatingIPId === null ? "created by Terraform, delete-protected" : `existing floating IP ${egressIP.floatingIPId}`);
          const defaults = edgesBetween(parsed, active.id, vertex.id).map((edge) => edge.text);
          expect(defaults.length, egressIP.name).toBe(egressIP.defaultPool ? 1 : 0);
          if (egressIP.defaultPool) expect(defaults[0]).toMatch(gateway.portBlocks ? /^default, \d+ sources?$/ : /^default$/);
          expect(edgesBetween(parsed, vertex.id, "internet")).toHaveLength(1);
        }
      });

      it("its tables list every egress IP and policy, and the port blocks add up to the sources", () => {
        expect(tableRows(page, "| Egress IP | Floating IP | Carries |").map((row) => row[0])).toEqual(gateway.egressIPs.map((e) => e.name));
        const policies = tableRows(page, "| Policy | Sources | Destinations | Egress IP |");
        expect(policies.map((row) => [row[0], row[3]])).toEqual([
          ...gateway.policies.map((policy) => [policy.name, policy.egressIP]),
          ["(default)", expect.stringMatching(new RegExp(`^${gateway.egressIPs[0]!.name}\\b`))],
        ]);
        const members = tableRows(page, "| Member | Private IP | Role |");
        expect(members.map((row) => row.slice(0, 2))).toEqual(gateway.members.map((member) => [member.name, member.privateIp]));
        const conntrack = tableRows(page, "| Server type | Memory | nf_conntrack_max | Hash buckets | Kernel memory when full | Alert at (80 %) |")[0]!;
        expect(conntrack.slice(0, 4)).toEqual([
          gateway.members[0]!.serverType,
          `${gateway.host.memoryMiB / 1024} GiB`,
          gateway.host.conntrackMax.toLocaleString("en-US"),
          gateway.host.conntrackBuckets.toLocaleString("en-US"),
        ]);
        const blocks = gateway.portBlocks;
        if (!blocks) {
          expect(page).toContain("The kernel picks each connection's port");
          return;
        }
        const rows = tableRows(page, "| Egress IP | Sources with a block | Blocks used | Blocks free |");
        const number = (text: string) => Number(text.replace(/,/g, ""));
        const sources = gateway.sources.reduce((sum, source) => sum + 2 ** (32 - Number(source.split("/")[1])), 0);
        expect(rows.reduce((sum, row) => sum + number(row[2]!), 0)).toBe(sources);
        for (const row of rows) expect(number(row[2]!) + number(row[3]!)).toBe(blocks.blocksPerEgressIP);
      });
    },
  );

  it("a label cannot leave its node, whatever it holds", async () => {
    const parsed = await parseFlowchart(`flowchart LR\n  a[${mermaidLabel('quote " hash # end] <b>tag</b>', "-->|x| b")}]`);
    expect([...parsed.vertices.keys()]).toEqual(["a"]);
    expect(parsed.edges).toEqual([]);
  });
});

describe("natgw explain --format mermaid", () => {
  const model = compile(EXAMPLES.map((example) => `examples/${example}.yaml`)).model!;
  const drawn = (source: string, destination: string, port: number | null = 443) =>
    parseFlowchart(formatExplanationMermaid(explain(model, { source, destination, port, protocol: "tcp" })));
  const path = (chart: Flowchart) => chart.edges.map((edge) => `${edge.start}>${edge.end}${edge.text ? `:${edge.text}` : ""}${edge.type === "arrow_cross" ? " x" : ""}`);

  it("draws a policy's flow through the router and the active member out of the policy's egress IP", async () => {
    const chart = await drawn("10.20.16.5", "203.0.113.10");
    expect(path(chart)).toEqual(["source>router:network edge", "router>member", "member>egress:policy payments-api", "egress>destination"]);
    expect(chart.vertices.get("member")!.lines).toEqual(["gateway edge-egress", "edge-egress-1", "10.20.0.254"]);
    expect(chart.vertices.get("egress")!.lines).toEqual(["egress IP payments", "floating IP created by Terraform"]);
  });

  it("shows a port-block flow's ports", async () => {
    const chart = await drawn("10.30.8.2", "192.0.2.1");
    expect(chart.vertices.get("egress")!.lines).toEqual(["egress IP primary", "floating IP created by Terraform", "ports 3072-4095"]);
    expect(path(chart)).toContain("member>egress:default");
  });

  it("ends a dropped flow at the gateway with the reason", async () => {
    const chart = await drawn("10.20.16.5", "169.254.169.254", 80);
    expect(path(chart).at(-1)).toMatch(/^member>destination:dropped: forwarded traffic to 169\.254\.0\.0\/16 .* x$/);
  });

  it("crosses out a flow no gateway forwards", async () => {
    const chart = await drawn("10.20.16.5", "10.20.5.5", null);
    expect(path(chart)).toEqual(["source>destination:not forwarded: 10.20.5.5 is inside the private network 10.20.0.0/16; Hetzner delivers it directly x"]);
  });
});
