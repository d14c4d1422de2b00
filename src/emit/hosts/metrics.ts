import type { HostFile, MemberContext } from "./context.js";
import { fileHeader, HOST_PATHS } from "./context.js";
import { address, identifier, metricsPort } from "./safe.js";

/** The metrics script node-exporter's textfile collector reads through natgw-metrics.timer. */
export const METRICS_SCRIPT = "/usr/local/lib/natgw/metrics";

/**
 * Named counters of `table inet natgw` (the nftables ruleset) and what they count.
 * The metric names follow Prometheus conventions; the reason label of a drop is
 * the counter name without its `drop_` prefix. Return traffic is counted as
 * `reply`: nft 1.0.6 refuses `return` as a counter name (it is a verdict).
 */
export const TRAFFIC_COUNTERS = { egress: "egress", return: "reply", nat: "nat" } as const;
export const DROP_COUNTERS = ["drop_invalid", "drop_metadata", "drop_not_source", "drop_smtp", "drop_unnatted"] as const;

/** Seconds between two runs of the metrics script; Prometheus scrapes every 15 to 60 s. */
export const METRICS_INTERVAL_SECONDS = 15;

/** How long the egress probe, when an operator turned it on, waits for its URL. */
const PROBE_TIMEOUT_SECONDS = 5;

function metricsEnabled({ gateway }: MemberContext): boolean {
  return gateway.metrics.enabled;
}

/** nft counter names are identifiers: DNS labels with `-` written as `_`. */
function counterName(name: string): string {
  return identifier(name.replace(/_/g, "-"));
}

/**
 * What the metrics program reads from config.json's `metrics`: the counters'
 * names in the ruleset, by the metric they feed, and the probe's timeout.
 */
export function metricsValues() {
  return {
    trafficCounters: {
      egress: counterName(TRAFFIC_COUNTERS.egress),
      return: counterName(TRAFFIC_COUNTERS.return),
      nat: counterName(TRAFFIC_COUNTERS.nat),
    },
    dropCounters: Object.fromEntries(DROP_COUNTERS.map((counter) => [counterName(counter.replace(/^drop_/, "")), counterName(counter)])),
    probeTimeoutSeconds: PROBE_TIMEOUT_SECONDS,
  };
}

/**
 * node-exporter (Debian's prometheus-node-exporter) on the member's private IP
 * only, with the conntrack, netdev and textfile collectors, fed by a timer that
 * writes the natgw_* metrics. Only when metrics are enabled.
 */
export const metricsFiles: HostFile[] = [
  {
    hostPath: "/etc/default/prometheus-node-exporter",
    role: "config",
    fileMode: "0644",
    when: metricsEnabled,
    values: (context) => ({
      ...fileHeader(context),
      listenAddress: `${address(context.member.privateIp)}:${metricsPort(context.gateway.metrics.port)}`,
      textfileDir: HOST_PATHS.textfileDir,
    }),
  },
  {
    hostPath: "/etc/systemd/system/prometheus-node-exporter.service.d/natgw.conf",
    role: "systemd",
    fileMode: "0644",
    when: metricsEnabled,
    values: (context) => ({ ...fileHeader(context), restartSeconds: 5 }),
  },
  { hostPath: METRICS_SCRIPT, role: "script", fileMode: "0755", when: metricsEnabled, program: true },
  {
    hostPath: "/etc/systemd/system/natgw-metrics.service",
    role: "systemd",
    fileMode: "0644",
    when: metricsEnabled,
    values: (context) => ({
      ...fileHeader(context),
      script: METRICS_SCRIPT,
      textfileDir: HOST_PATHS.textfileDir,
      timeoutSeconds: METRICS_INTERVAL_SECONDS - 5,
    }),
  },
  {
    hostPath: "/etc/systemd/system/natgw-metrics.timer",
    role: "systemd",
    fileMode: "0644",
    when: metricsEnabled,
    values: (context) => ({ ...fileHeader(context), intervalSeconds: METRICS_INTERVAL_SECONDS }),
  },
];
