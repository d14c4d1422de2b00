import type { GatewayModel, Model } from "../resolve/model.js";
import type { Artifact, Role } from "./artifact.js";
import { METRICS_INTERVAL_SECONDS } from "./hosts/metrics.js";
import { render } from "./hosts/render.js";
import { address, label, metricsPort } from "./hosts/safe.js";

function values(gateway: GatewayModel) {
  const port = metricsPort(gateway.metrics.port);
  return {
    gateway: label(gateway.name),
    jobName: `natgw-${label(gateway.name)}`,
    // The VRRP, takeover and sync rules and panels are HA's alone.
    ha: gateway.mode === "ha",
    // The metrics script refreshes every 15 s: scraping more often reads the same values.
    scrapeIntervalSeconds: METRICS_INTERVAL_SECONDS,
    members: gateway.members.map((member) => ({
      name: label(member.name),
      target: `${address(member.privateIp)}:${port}`,
    })),
  };
}

/** The share of conntrack's limit above which a member is told to be nearly full. */
export const CONNTRACK_ALERT_RATIO = 0.8;

/** Drops a second, for 10 minutes, that make a member worth a look (by reason). */
const DROPS_ALERT_PER_SECOND = 1;

/** What the alerting rules need beside the scrape config's values. */
function alertValues(gateway: GatewayModel) {
  const common = {
    ...values(gateway),
    conntrackRatio: CONNTRACK_ALERT_RATIO,
    conntrackPercent: Math.round(CONNTRACK_ALERT_RATIO * 100),
    dropsPerSecond: DROPS_ALERT_PER_SECOND,
  };
  return { ...common, groups: render("monitoring/alert-groups.yaml.njk", common).trimEnd() };
}

/**
 * For every gateway with metrics: a Prometheus/vmagent scrape config and a
 * VMStaticScrape for the VictoriaMetrics operator, listing every member's
 * private IP and metrics port with gateway and member labels (the scraper must
 * sit on the private network: node-exporter listens on the private IP only),
 * the alerting rules for those metrics, as a rules file and as a VMRule, and a
 * Grafana dashboard of them.
 */
export function emitMonitoring(model: Model): Artifact[] {
  return model.gateways
    .filter((gateway) => gateway.metrics.enabled)
    .flatMap((gateway) => {
      const artifact = (name: string, role: Role, fileValues: Record<string, unknown>): Artifact => ({
        path: `monitoring/${label(gateway.name)}-${name}`,
        role,
        gateway: gateway.name,
        member: null,
        fileMode: "0644",
        content: render(`monitoring/${name}.njk`, fileValues),
      });
      const scrape = values(gateway);
      const alerts = alertValues(gateway);
      return [
        artifact("scrape.yaml", "scrape-config", scrape),
        artifact("vmstaticscrape.yaml", "scrape-config", scrape),
        artifact("alerts.yaml", "alert-rules", alerts),
        artifact("vmrule.yaml", "alert-rules", alerts),
        artifact("dashboard.json", "dashboard", scrape),
      ];
    });
}
