import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXAMPLE_MEMBERS, hostFiles } from "../support/artifacts.js";
import { missingTools } from "../support/tools.js";
import { parseExposition, runScript, scratch, scratchHost } from "./metrics-host.js";

const scripts = hostFiles("/usr/local/lib/natgw/metrics");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(missingTools("bash", "jq"))("the metrics script", () => {
  it("is shipped to every member with metrics enabled (programs.test.ts runs shellcheck on it)", () => {
    expect(scripts.map((script) => script.member)).toEqual(EXAMPLE_MEMBERS);
  });

  const ha = scripts.find((script) => script.member === "prod-egress-1")!;
  const single = scripts.find((script) => script.member === "dev-egress-1")!;

  it("writes every natgw metric in the exposition format from nft, conntrack and natgw-ctl's state", () => {
    const host = scratchHost("loaded", {
      rulesetLoaded: true,
      vrrpState: "MASTER\n",
      takeovers: [
        '{"time":"2026-11-23T10:00:00Z","result":"ok","durationSeconds":4.5,"attempts":1}',
        "not a JSON line",
        '{"time":"2026-11-23T11:00:00Z","result":"failed","durationSeconds":31,"attempts":5}',
        '{"time":"2026-11-23T12:00:00Z","result":"ok","durationSeconds":3.25,"attempts":2}',
        '{"time":"2026-11-23T13:00:00Z","result":"stopped","durationSeconds":60.5,"attempts":14,"changes":0,"reason":"prod-egress-1 is BACKUP now"}',
        '{"time":"2026-11-23T14:00:00Z","result":"ok","durationSeconds":2.75,"attempts":2,"changes":3,"reason":null}',
        "",
      ].join("\n"),
      takeoverRounds: "21\n",
    });
    const result = runScript(ha, host.env, host.root);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(readdirSync(host.textfile), "only the finished file remains").toEqual(["natgw.prom"]);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect(Object.fromEntries(samples)).toEqual({
      natgw_ruleset_loaded: 1,
      natgw_egress_packets_total: 42,
      natgw_egress_bytes_total: 4200,
      natgw_return_packets_total: 40,
      natgw_return_bytes_total: 64000,
      natgw_nat_packets_total: 7,
      natgw_nat_bytes_total: 700,
      'natgw_dropped_packets_total{reason="invalid"}': 5,
      'natgw_dropped_packets_total{reason="metadata"}': 3,
      'natgw_dropped_packets_total{reason="not_source"}': 1,
      'natgw_dropped_packets_total{reason="smtp"}': 2,
      'natgw_dropped_packets_total{reason="unnatted"}': 4,
      'natgw_dropped_bytes_total{reason="invalid"}': 200,
      'natgw_dropped_bytes_total{reason="metadata"}': 180,
      'natgw_dropped_bytes_total{reason="not_source"}': 60,
      'natgw_dropped_bytes_total{reason="smtp"}': 120,
      'natgw_dropped_bytes_total{reason="unnatted"}': 160,
      natgw_forwarding_enabled: 1,
      natgw_conntrack_entries: 1234,
      natgw_conntrack_limit: 262144,
      'natgw_conntrack_events_total{event="chaintoolong"}': 0,
      'natgw_conntrack_events_total{event="clash_resolve"}': 0,
      'natgw_conntrack_events_total{event="drop"}': 1,
      'natgw_conntrack_events_total{event="early_drop"}': 0,
      'natgw_conntrack_events_total{event="error"}': 0,
      'natgw_conntrack_events_total{event="found"}': 3,
      'natgw_conntrack_events_total{event="insert"}': 0,
      'natgw_conntrack_events_total{event="insert_failed"}': 5,
      'natgw_conntrack_events_total{event="invalid"}': 30,
      'natgw_conntrack_events_total{event="search_restart"}': 5,
      'natgw_vrrp_state{state="BACKUP"}': 0,
      'natgw_vrrp_state{state="FAULT"}': 0,
      'natgw_vrrp_state{state="MASTER"}': 1,
      'natgw_vrrp_state{state="STOP"}': 0,
      natgw_sync_up: 1,
      'natgw_sync_messages_total{direction="received"}': 407,
      'natgw_sync_messages_total{direction="sent"}': 812,
      'natgw_sync_errors_total{kind="lost"}': 3,
      'natgw_sync_errors_total{kind="malformed"}': 0,
      'natgw_sync_errors_total{kind="receive"}': 0,
      'natgw_sync_errors_total{kind="send"}': 2,
      'natgw_sync_peer_connections_total{result="created"}': 1095,
      'natgw_sync_peer_connections_total{result="failed"}': 3,
      'natgw_takeovers_total{result="failed"}': 1,
      'natgw_takeovers_total{result="ok"}': 3,
      'natgw_takeovers_total{result="stopped"}': 1,
      natgw_takeover_rounds_total: 21,
      natgw_takeover_last_duration_seconds: 2.75,
    });
  });

  it("reports sync down, and no sync series beside it, while conntrackd does not answer", () => {
    const host = scratchHost("sync-down", { rulesetLoaded: true, vrrpState: "BACKUP", sync: { running: false } });
    const result = runScript(ha, host.env, host.root);
    expect(result.status, result.stderr).toBe(0);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect([...samples].filter(([key]) => key.startsWith("natgw_sync"))).toEqual([["natgw_sync_up", 0]]);
  });

  it("reports an unloaded ruleset and no traffic when table inet natgw is missing", () => {
    const host = scratchHost("unloaded", { rulesetLoaded: false, vrrpState: "FAULT" });
    const result = runScript(ha, host.env, host.root);
    expect(result.status, result.stderr).toBe(0);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect(samples.get("natgw_ruleset_loaded")).toBe(0);
    expect(samples.get("natgw_forwarding_enabled")).toBe(0);
    expect([...samples.keys()].filter((key) => /egress|return|nat_|dropped/.test(key))).toEqual([]);
    expect(samples.get('natgw_vrrp_state{state="FAULT"}')).toBe(1);
    expect(samples.get('natgw_takeovers_total{result="ok"}')).toBe(0);
    expect(samples.get("natgw_takeover_rounds_total")).toBe(0);
    expect(samples.has("natgw_takeover_last_duration_seconds")).toBe(false);
  });

  it("sets no VRRP state while natgw-ctl cannot tell the role (keepalived crashed or not yet reported)", () => {
    for (const vrrpState of ["unknown", undefined]) {
      const host = scratchHost(`role-${vrrpState ?? "none"}`, { rulesetLoaded: true, vrrpState });
      const result = runScript(ha, host.env, host.root);
      expect(result.status, result.stderr).toBe(0);
      const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
      const states = [...samples].filter(([key]) => key.startsWith("natgw_vrrp_state"));
      expect(states.map(([key]) => key)).toEqual(["BACKUP", "FAULT", "MASTER", "STOP"].map((state) => `natgw_vrrp_state{state="${state}"}`));
      expect(states.every(([, value]) => value === 0)).toBe(true);
    }
  });

  it("has no VRRP state and no sync in Single mode, where neither keepalived nor conntrackd runs", () => {
    const host = scratchHost("single", { rulesetLoaded: true });
    const result = runScript(single, host.env, host.root);
    expect(result.status, result.stderr).toBe(0);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect([...samples.keys()].filter((key) => key.startsWith("natgw_vrrp") || key.startsWith("natgw_sync"))).toEqual([]);
    expect(samples.get("natgw_egress_packets_total")).toBe(42);
  });

  it("probes egress latency only when an operator names a URL", () => {
    expect(ha.content).toContain("probe_url=${NATGW_PROBE_URL:-}");
    const host = scratchHost("probe", { rulesetLoaded: true });
    // Port 9 on loopback refuses the connection: a failed probe, without leaving the host.
    const result = runScript(ha, { ...host.env, NATGW_PROBE_URL: "http://127.0.0.1:9/" }, host.root);
    expect(result.status, result.stderr).toBe(0);
    const samples = parseExposition(readFileSync(join(host.textfile, "natgw.prom"), "utf8"));
    expect(samples.get("natgw_egress_probe_success")).toBe(0);
    expect(samples.has("natgw_egress_probe_duration_seconds")).toBe(false);
  });
});

