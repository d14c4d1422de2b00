import type { Explanation } from "../explain/explain.js";
import { mermaidLabel } from "../util/mermaid.js";

/**
 * The answer of `natgw explain --format mermaid`: the flow's path as a Mermaid
 * flowchart, in the shapes of the topology page (the router a hexagon, an egress
 * IP a stadium). A flow that never leaves ends in a crossed edge with the reason.
 */
export function formatExplanationMermaid(result: Explanation): string {
  const { flow } = result;
  const port = flow.port === null ? "" : `:${flow.port}`;
  const lines = [
    "flowchart LR",
    `  source[${mermaidLabel("source", flow.source)}]`,
    `  destination[${mermaidLabel("destination", `${flow.destination}${port}/${flow.protocol}`)}]`,
  ];
  if (!result.gateway) {
    lines.push(`  source --x|${mermaidLabel(`not forwarded: ${result.reason}`)}| destination`);
    return `${lines.join("\n")}\n`;
  }
  const member = result.activeMember!;
  lines.push(
    `  router{{${mermaidLabel("Hetzner router", `route ${result.route}`)}}}`,
    `  member[${mermaidLabel(`gateway ${result.gateway}`, member.name, member.privateIp)}]`,
    `  source -->|${mermaidLabel(`network ${result.network}`)}| router`,
    "  router --> member",
  );
  if (result.verdict !== "snat") {
    lines.push(`  member --x|${mermaidLabel(`dropped: ${result.reason}`)}| destination`);
    return `${lines.join("\n")}\n`;
  }
  const egressIP = result.egressIP!;
  const ports = result.portBlock ? [`ports ${result.portBlock.first}-${result.portBlock.last}`] : [];
  const origin = egressIP.floatingIPId === null ? "floating IP created by Terraform" : `floating IP ${egressIP.floatingIPId}`;
  lines.push(
    `  egress([${mermaidLabel(`egress IP ${egressIP.name}`, origin, ...ports)}])`,
    `  member -->|${mermaidLabel(result.policy ? `policy ${result.policy}` : "default")}| egress`,
    "  egress --> destination",
  );
  return `${lines.join("\n")}\n`;
}
