import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { Artifact } from "../src/emit/artifact.js";
import { parseExposition, runScript, scratch, scratchHost } from "./hosts/metrics-host.js";
import { buildExample, EXAMPLES, hostFiles } from "./support/artifacts.js";
import { missingTools, run } from "./support/tools.js";

/**
 * The alerting rules every gateway with metrics gets (monitoring/<gateway>-alerts.yaml
 * and the same rules as a VMRule), held to Prometheus's own promtool: the files
 * load, and each alert fires on the series of the failure it names and stays
 * quiet on a healthy one. Every metric they and the gateway's Grafana dashboard
 * (monitoring/<gateway>-dashboard.json) read is one the members export.
 */
interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}
interface RuleFile {
  readonly groups: readonly { readonly name: string; readonly rules: readonly Rule[] }[];
}

const directory = mkdtempSync(join(tmpdir(), "natgw-alerts-"));
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const artifacts = EXAMPLES.flatMap((example) => buildExample(example));
const rulesOf = (role: string) => artifacts.filter((artifact) => artifact.role === "alert-rules" && artifact.path.endsWith(role));
const alertFiles = rulesOf("-alerts.yaml");

/** The rules of a gateway's rules file, parsed. */
const rules = (file: Artifact) => (parse(file.content) as RuleFile).groups.flatMap((group) => group.rules);

/** Writes a file into the test's directory and returns its path. */
function write(name: string, content: string): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}

describe("alerting rules", () => {
  it("every gateway with metrics has them, and the VMRule holds the rules file's groups", () => {
    expect(alertFiles.map((file) => file.path)).toEqual(["monitoring/dev-egress-alerts.yaml", "monitoring/prod-egress-alerts.yaml", "monitoring/edge-egress-alerts.yaml", "monitoring/batch-egress-alerts.yaml"]);
    for (const file of alertFiles) {
      const vmRule = artifacts.find((artifact) => artifact.path === file.path.replace("-alerts.yaml", "-vmrule.yaml"))!;
      const resource = parse(vmRule.content) as { kind: string; spec: RuleFile };
      expect(resource.kind).toBe("VMRule");
      expect(resource.spec).toEqual(parse(file.content));
    }
  });

  it("HA gateways get the VRRP, takeover and sync rules; Single mode does not", () => {
    const names = (file: string) => rules(alertFiles.find((artifact) => artifact.path === file)!).map((rule) => rule.alert);
    const common = ["NatgwMemberDown", "NatgwNotForwarding", "NatgwConntrackNearlyFull", "NatgwDropsRising", "NatgwEgressProbeFailing"];
    expect(names("monitoring/dev-egress-alerts.yaml")).toEqual(common);
    expect(names("monitoring/prod-egress-alerts.yaml")).toEqual(["NatgwMemberDown", "NatgwSplitBrain", "NatgwNoMaster", "NatgwTakeoverFailed", "NatgwSyncDown", ...common.slice(1)]);
    for (const file of alertFiles) {
      for (const rule of rules(file)) {
        expect(rule.annotations.summary, rule.alert).toMatch(/^natgw [a-z0-9-]+: /);
        expect(rule.annotations.runbook, rule.alert).toMatch(/^natgw README, Failure modes/);
        expect(["critical", "warning"]).toContain(rule.labels.severity);
      }
    }
  });
});

describe.skipIf(missingTools("promtool"))("alerting rules, with promtool", () => {
  it("every rules file and every VMRule's groups pass promtool check rules", () => {
    for (const file of rulesOf(".yaml")) {
      const content = file.path.endsWith("-vmrule.yaml") ? stringify((parse(file.content) as { spec: RuleFile }).spec) : file.content;
      const path = write(file.path.replace("monitoring/", ""), content);
      const result = run("promtool", ["check", "rules", path]);
      expect(result.status, `${file.path}\n${result.stdout}${result.stderr}`).toBe(0);
    }
  });

  for (const [gateway, members] of [["prod-egress", ["prod-egress-1", "prod-egress-2"]], ["dev-egress", ["dev-egress-1"]]] as const) {
    it(`each alert of ${gateway} fires on its failure and stays quiet on a healthy gateway (promtool test rules)`, () => {
      const file = alertFiles.find((artifact) => artifact.path === `monitoring/${gateway}-alerts.yaml`)!;
      const scenarios = alertScenarios(gateway, members);
      const present = rules(file).map((rule) => rule.alert);
      expect(Object.keys(scenarios).filter((alert) => present.includes(alert)).sort()).toEqual([...present].sort());
      const tests = present.flatMap((alert) => {
        const scenario = scenarios[alert]!;
        const rule = rules(file).find((candidate) => candidate.alert === alert)!;
        const expected = { ...scenario.labels, severity: rule.labels.severity! };
        const annotations = Object.fromEntries(Object.entries(rule.annotations).map(([key, text]) => [key, text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => expected[name as keyof typeof expected] ?? "")]));
        return [
          { interval: "15s", input_series: scenario.failing, alert_rule_test: [{ eval_time: scenario.at, alertname: alert, exp_alerts: [{ exp_labels: expected, exp_annotations: annotations }] }] },
          { interval: "15s", input_series: scenario.healthy, alert_rule_test: [{ eval_time: scenario.at, alertname: alert, exp_alerts: [] }] },
        ];
      });
      const rulesPath = write(`${gateway}-alerts.yaml`, file.content);
      const testPath = write(`${gateway}-test.yaml`, stringify({ rule_files: [rulesPath], evaluation_interval: "15s", tests }));
      const result = run("promtool", ["test", "rules", testPath]);
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    });
  }
});

interface Dashboard {
  readonly uid: string;
  readonly templating: { readonly list: readonly { readonly name: string; readonly type: string }[] };
  readonly panels: readonly {
    readonly id: number;
    readonly title: string;
    readonly datasource: { readonly uid: string };
    readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
    readonly targets: readonly { readonly expr: string }[];
  }[];
}

const dashboards = artifacts.filter((artifact) => artifact.role === "dashboard");
const dashboard = (file: Artifact) => JSON.parse(file.content) as Dashboard;

describe("the Grafana dashboard", () => {
  it("every gateway with metrics has one, its panels on the chosen Prometheus data source, side by side without overlapping", () => {
    expect(dashboards.map((file) => file.path)).toEqual(alertFiles.map((file) => file.path.replace("-alerts.yaml", "-dashboard.json")));
    for (const file of dashboards) {
      const { uid, templating, panels } = dashboard(file);
      expect(uid).toBe(`natgw-${file.gateway}`);
      expect(templating.list).toContainEqual(expect.objectContaining({ name: "datasource", type: "datasource" }));
      expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
      const cells = new Set<string>();
      for (const panel of panels) {
        expect(panel.datasource.uid, panel.title).toBe("${datasource}");
        expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
        for (let x = panel.gridPos.x; x < panel.gridPos.x + panel.gridPos.w; x += 1) {
          for (let y = panel.gridPos.y; y < panel.gridPos.y + panel.gridPos.h; y += 1) {
            expect(cells.has(`${x},${y}`), `${file.path}: ${panel.title} overlaps another panel`).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
      }
    }
  });

  it("HA dashboards show VRRP, takeovers and sync; Single mode's do not", () => {
    const titles = (gateway: string) => dashboard(dashboards.find((file) => file.gateway === gateway)!).panels.map((panel) => panel.title);
    expect(titles("prod-egress")).toEqual(expect.arrayContaining(["VRRP state", "Takeovers (per hour, by result)", "Connection-state sync"]));
    expect(titles("dev-egress").filter((title) => /VRRP|Takeover|sync/.test(title))).toEqual([]);
  });
});

describe.skipIf(missingTools("bash", "jq", "curl"))("alerting rules, the dashboard and the members' metrics", () => {
  const used = (expr: string) => [...expr.matchAll(/\b(natgw_[a-z_]+)/g)].map((match) => match[1]!);
  let exported: Set<string>;

  // The metrics program, with every source present and the probe on, writes every natgw metric.
  beforeAll(() => {
    const script = hostFiles("/usr/local/lib/natgw/metrics").find((artifact) => artifact.member === "prod-egress-1")!;
    const host = scratchHost("alerts", { rulesetLoaded: true, vrrpState: "MASTER\n", takeovers: '{"result":"ok","durationSeconds":1}\n', takeoverRounds: "1\n" });
    writeFileSync(join(host.root, "probe"), "ok\n");
    const result = runScript(script, { ...host.env, NATGW_PROBE_URL: `file://${host.root}/probe` }, host.root);
    expect(result.status, result.stderr).toBe(0);
    exported = new Set([...parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8")).keys()].map((sample) => sample.replace(/\{.*$/, "")));
  });

  it("the metrics program wrote every family, the probe's too", () => {
    expect(exported.has("natgw_egress_probe_success")).toBe(true);
    expect(exported.has("natgw_sync_up")).toBe(true);
  });

  it("the alerting rules read only metrics the members export", () => {
    for (const file of alertFiles) {
      for (const rule of rules(file)) expect(used(rule.expr).filter((metric) => !exported.has(metric)), `${file.path} ${rule.alert}`).toEqual([]);
    }
  });

  it("the dashboard's panels read only metrics the members export", () => {
    for (const file of dashboards) {
      for (const panel of dashboard(file).panels) {
        const metrics = panel.targets.flatMap((target) => used(target.expr));
        expect(metrics.filter((metric) => !exported.has(metric)), `${file.path} ${panel.title}`).toEqual([]);
      }
    }
  });
});

interface Scenario {
  /** The series of the failure the alert names, and of a healthy gateway. */
  readonly failing: readonly { series: string; values: string }[];
  readonly healthy: readonly { series: string; values: string }[];
  /** When the alert is evaluated, and the labels it fires with (severity aside). */
  readonly at: string;
  readonly labels: Record<string, string>;
}

/** For every alert: a failure that fires it and a healthy gateway that does not, as scraped by the gateway's scrape config. */
function alertScenarios(gateway: string, members: readonly string[]): Record<string, Scenario> {
  const job = `natgw-${gateway}`;
  const [first, second] = [members[0]!, members[1] ?? members[0]!];
  const series = (metric: string, member: string, values: string, extra = "") => ({ series: `${metric}{job="${job}",gateway="${gateway}",member="${member}"${extra}}`, values });
  const memberLabels = (member: string, extra: Record<string, string> = {}) => ({ job, gateway, member, ...extra });
  const master = (member: string, value: number) => series("natgw_vrrp_state", member, `${value}x40`, ',state="MASTER"');
  return {
    NatgwMemberDown: { failing: [series("up", first, "0x20")], healthy: [series("up", first, "1x20")], at: "3m", labels: memberLabels(first) },
    NatgwSplitBrain: { failing: [master(first, 1), master(second, 1)], healthy: [master(first, 1), master(second, 0)], at: "2m", labels: {} },
    NatgwNoMaster: { failing: [master(first, 0), master(second, 0)], healthy: [master(first, 0), master(second, 1)], at: "2m", labels: {} },
    NatgwTakeoverFailed: {
      failing: [series("natgw_takeovers_total", first, "0 0 0 1 1 1", ',result="failed"')],
      healthy: [series("natgw_takeovers_total", first, "0 0 0 0 0 0", ',result="failed"')],
      at: "1m",
      labels: memberLabels(first, { result: "failed" }),
    },
    NatgwSyncDown: { failing: [series("natgw_sync_up", first, "0x40")], healthy: [series("natgw_sync_up", first, "1x40")], at: "6m", labels: memberLabels(first) },
    NatgwNotForwarding: {
      failing: [series("natgw_ruleset_loaded", first, "0x20"), series("natgw_forwarding_enabled", first, "0x20"), master(first, 1)],
      // In HA the standby's state does not matter; in Single mode the member is healthy.
      healthy: members.length > 1 ? [series("natgw_ruleset_loaded", second, "0x20"), series("natgw_forwarding_enabled", second, "0x20"), master(second, 0), master(first, 1), series("natgw_ruleset_loaded", first, "1x20"), series("natgw_forwarding_enabled", first, "1x20")] : [series("natgw_ruleset_loaded", first, "1x20"), series("natgw_forwarding_enabled", first, "1x20")],
      at: "3m",
      labels: { gateway, member: first },
    },
    NatgwConntrackNearlyFull: {
      failing: [series("natgw_conntrack_entries", first, "900x40"), series("natgw_conntrack_limit", first, "1000x40")],
      healthy: [series("natgw_conntrack_entries", first, "500x40"), series("natgw_conntrack_limit", first, "1000x40")],
      at: "6m",
      labels: memberLabels(first),
    },
    NatgwDropsRising: {
      // 120 packets every 15 s is 8 a second; 1 every 15 s is well under one.
      failing: [series("natgw_dropped_packets_total", first, "0+120x80", ',reason="not_source"')],
      healthy: [series("natgw_dropped_packets_total", first, "0+1x80", ',reason="not_source"')],
      at: "16m",
      labels: { gateway, member: first, reason: "not_source" },
    },
    NatgwEgressProbeFailing: { failing: [series("natgw_egress_probe_success", first, "0x20")], healthy: [series("natgw_egress_probe_success", first, "1x20")], at: "3m", labels: memberLabels(first) },
  };
}
