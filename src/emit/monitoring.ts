import type { GatewayModel, Model } from "../resolve/model.js";
import type { Artifact } from "./artifact.js";
import { METRICS_INTERVAL_SECONDS } from "./hosts/metrics.js";
import { render } from "./hosts/render.js";
import { address, label, metricsPort } from "./hosts/safe.js";

function values(gateway: GatewayModel) {
  const port = metricsPort(gateway.metrics.port);
  return {
    gateway: label(gateway.name),
    jobName: `natgw-${label(gateway.name)}`,
    // The metrics script refreshes every 15 s: scraping more often reads the same values.
    scrapeIntervalSeconds: METRICS_INTERVAL_SECONDS,
    members: gateway.members.map((member) => ({
      name: label(member.name),
      target: `${address(member.privateIp)}:${port}`,
    })),
  };
}

/**
 * For every gateway with metrics: a Prometheus/vmagent scrape config and a
 * VMStaticScrape for the VictoriaMetrics operator, listing every member's
 * private IP and metrics port with gateway and member labels. The scraper must
 * sit on the private network: node-exporter listens on the private IP only.
 */
export function emitMonitoring(model: Model): Artifact[] {
  return model.gateways
    .filter((gateway) => gateway.metrics.enabled)
    .flatMap((gateway) => {
      const artifact = (name: string): Artifact => ({
        path: `monitoring/${label(gateway.name)}-${name}.yaml`,
        role: "scrape-config",
        gateway: gateway.name,
        member: null,
        fileMode: "0644",
        content: render(`monitoring/${name}.yaml.njk`, values(gateway)),
      });
      return [artifact("scrape"), artifact("vmstaticscrape")];
    });
}
