import type { Style } from "../diagnostics/format.js";
import type { Explanation } from "../explain/explain.js";

/** The answer of `natgw explain` for a person: one labelled line per hop. */
export function formatExplanation(result: Explanation, style: Style): string {
  const { flow } = result;
  const port = flow.port === null ? "" : `:${flow.port}`;
  const lines: [string, string][] = [["flow", `${flow.source} -> ${flow.destination}${port}/${flow.protocol}`]];
  if (result.network) lines.push(["network", result.network]);
  if (result.gateway) lines.push(["gateway", result.gateway]);
  if (result.route) lines.push(["route", `${result.route} -> active member ${result.activeMember!.name} (${result.activeMember!.privateIp})`]);
  if (result.verdict === "snat") {
    const egressIP = result.egressIP!;
    lines.push(["policy", result.policy ?? "none (default egress)"]);
    const origin = egressIP.floatingIPId === null ? "floating IP created by Terraform" : `floating IP ${egressIP.floatingIPId}`;
    lines.push(["egress IP", `${egressIP.name} (${origin})`]);
    if (result.portBlock) {
      lines.push(["ports", `${result.portBlock.first}-${result.portBlock.last} (portsPerSource ${result.portBlock.portsPerSource})`]);
    }
    lines.push(["verdict", style.bold(`SNAT to egress IP ${egressIP.name}`)]);
  } else {
    const verdict = result.verdict === "dropped" ? "dropped" : "not forwarded";
    lines.push(["verdict", `${style.bold(verdict)}: ${result.reason}`]);
  }
  const width = Math.max(...lines.map(([label]) => label.length));
  return lines.map(([label, value]) => `${style.dim(label.padEnd(width))}  ${value}`).join("\n") + "\n";
}
