import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/wait.js";
import { ctl, FLOATING_IP_ID, prodEgress1BeforeFailover, startKeepalived, takeoverLog, TOKEN, toolsMissing } from "./ctl-host.js";

describe.skipIf(toolsMissing)("natgw-ctl takeover and reconcile against a fake Hetzner Cloud API", () => {
  const at = prodEgress1BeforeFailover();

  it("takeover assigns the floating IP and re-points the route to this member, verifies and logs it", async () => {
    const { api, host } = at;
    const result = await ctl(host, ["takeover", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    const output = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(output).toMatchObject({ result: "ok", changes: 3 });
    const log = takeoverLog(host);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ result: "ok", attempts: 2 });
    expect(log[0]).toMatchObject({ changes: 3, reason: null });
    expect(Object.keys(log[0]!).sort()).toEqual(["attempts", "changes", "durationSeconds", "reason", "result", "time"]);
    expect(log[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(typeof log[0]!.durationSeconds).toBe("number");
    // Every POST's action was polled to success before the next change.
    expect(api.count("GET", "/actions/1000")).toBeGreaterThan(0);
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it("takeover on a member that already owns everything changes nothing", async () => {
    const { api, host } = at;
    api.floatingIPs.get(FLOATING_IP_ID)!.server = 111;
    api.networks.set(4711, [{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    const result = await ctl(host, ["takeover", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.count("POST")).toBe(0);
    expect(takeoverLog(host)[0]).toMatchObject({ result: "ok", attempts: 1 });
  });

  it("takeover retries `locked`, `conflict`, 429 and 500 answers with backoff", async () => {
    const { api, host } = at;
    api.failNext("POST", "/actions/assign", 423, "locked");
    api.failNext("POST", "/actions/delete_route", 500, "server_error");
    api.failNext("POST", "/actions/add_route", 429, "rate_limit_exceeded");
    api.failNext("POST", "/actions/add_route", 409, "conflict");
    const result = await ctl(host, ["takeover"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.count("POST", "/actions/assign")).toBe(2);
    expect(api.count("POST", "/actions/delete_route")).toBe(2);
    expect(api.count("POST", "/actions/add_route")).toBe(3);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    expect(result.stderr).toMatch(/HTTP 423 locked; retrying/);
  });

  it("a takeover the API's outage interrupts goes on once the API answers again, without a reconcile", async () => {
    const { api, host } = at;
    api.outage = "unavailable";
    let exited = false;
    const running = ctl(host, ["takeover", "--json"]).finally(() => (exited = true));
    // Longer than a bounded takeover lasts: six attempts a request, three rounds.
    await waitFor("60 requests turned away by the outage, or the takeover to end", 30_000, () => exited || api.outageAnswers >= 60);
    api.outage = null;
    const result = await running;
    expect(result.status, result.stderr).toBe(0);
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    expect(takeoverLog(host)).toMatchObject([{ result: "ok" }]);
    // Before every round after the first it asked whether this member is still MASTER.
    expect(readFileSync(join(host.fake, "calls"), "utf8")).toMatch(/^natgw-ctl role$/m);
  });

  it("a retry in the floating IP lane never holds the route lane", async () => {
    const { api, host } = at;
    host.env.NATGW_BACKOFF_INITIAL_SECONDS = "0.2";
    host.env.NATGW_BACKOFF_MAX_SECONDS = "0.4";
    api.failNext("POST", "/actions/assign", 423, "locked", 3);
    const result = await ctl(host, ["takeover"]);
    expect(result.status, result.stderr).toBe(0);
    const posts = api.requests.filter((request) => request.method === "POST").map((request) => request.path.replace(/^.*\/actions\//, ""));
    // The route was re-pointed while the floating IP's assign waited out its backoff.
    expect(posts.indexOf("add_route")).toBeGreaterThan(posts.indexOf("assign"));
    expect(posts.indexOf("add_route")).toBeLessThan(posts.lastIndexOf("assign"));
    expect(posts.filter((post) => post === "assign")).toHaveLength(4);
  });

  it("takeover does not repeat a 422 answer, fails and logs the failure", async () => {
    const { api, host } = at;
    api.failNext("POST", "/actions/assign", 422, "invalid_input", 10);
    const result = await ctl(host, ["takeover"]);
    expect(result.status).not.toBe(0);
    expect(api.count("POST", "/actions/assign")).toBe(1);
    // One round: the route lane finished its own changes (never a route deleted and not added), then it stopped.
    expect(api.count("GET", "/floating_ips/123456")).toBe(1);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    expect(takeoverLog(host)).toMatchObject([{ result: "failed", attempts: 1, reason: expect.stringMatching(/HTTP 422 invalid_input/) }]);
  });

  it("reconcile's takeover gives up after its rounds when the API keeps failing, and says so", async () => {
    const { api, host } = at;
    const keepalived = startKeepalived(host);
    await keepalived.notify("MASTER");
    api.failNext("GET", "/networks/4711", 503, "unavailable", 1000);
    const result = await ctl(host, ["reconcile", "--json"]).finally(() => keepalived.stop());
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/giving up after 6 attempts/);
    expect(JSON.parse(result.stdout).steps.find((step: { name: string }) => step.name === "api")).toMatchObject({ ok: false });
    expect(JSON.parse(result.stdout).ok).toBe(false);
    expect(takeoverLog(host)).toMatchObject([{ result: "failed", attempts: 3 }]);
    // The other lane did not wait for it: the floating IP moved in the first round.
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
  });

  it("a takeover killed between delete_route and add_route is completed by the next reconcile", async () => {
    const { api, host } = at;
    const deleted = api.holdAfter("delete_route");
    let pid = 0;
    const killed = ctl(host, ["takeover"], (started) => (pid = started));
    await deleted;
    process.kill(-pid, "SIGKILL");
    await killed;
    // Stranded: the route is gone, nothing points 0.0.0.0/0 anywhere.
    expect(api.networks.get(4711)).toEqual([]);
    const keepalived = startKeepalived(host);
    const result = await keepalived.notify("MASTER").then(() => ctl(host, ["reconcile", "--json"])).finally(() => keepalived.stop());
    expect(result.status, result.stderr).toBe(0);
    expect(api.networks.get(4711)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.0.1.2" }]);
    expect(api.floatingIPs.get(FLOATING_IP_ID)!.server).toBe(111);
    // The killed takeover logged nothing; the reconcile that finished it did.
    expect(takeoverLog(host)).toMatchObject([{ result: "ok" }]);
    const report = JSON.parse(result.stdout) as { ok: boolean; steps: Array<{ name: string; ok: boolean }> };
    expect(report.steps.map((step) => [step.name, step.ok])).toEqual([
      ["sysctl", true],
      ["baseline", true],
      ["watchdog", true],
      ["ruleset", true],
      ["vrrp", true],
      ["sync", true],
      ["addresses", true],
      ["api", true],
    ]);
    const calls = readFileSync(join(host.fake, "calls"), "utf8");
    expect(calls).toContain("sysctl --system");
    expect(calls).toContain("systemctl restart natgw-baseline.service");
    expect(calls).toContain("systemctl start natgw-watchdog.service");
    expect(calls).toContain("systemctl reload natgw-ruleset.service");
    // keepalived failed with the data plane at first boot, and conntrackd without
    // config.json; reconcile brings both back.
    expect(calls).toContain("systemctl start keepalived.service");
    expect(calls).toContain("systemctl start conntrackd.service");
    expect(calls).toContain("ip address replace 203.0.113.10/32 dev eth0");
  });

  it("reconcile while a takeover runs leaves the API to it and says so", async () => {
    const { api, host } = at;
    api.outage = "unavailable";
    const running = ctl(host, ["takeover"]);
    await waitFor("a request turned away by the outage", 30_000, () => api.outageAnswers > 0);
    const keepalived = startKeepalived(host);
    await keepalived.notify("MASTER");
    const result = await ctl(host, ["reconcile", "--json"]).finally(() => keepalived.stop());
    api.outage = null;
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).ok).toBe(true);
    expect(JSON.parse(result.stdout).steps.find((step: { name: string }) => step.name === "api")).toMatchObject({ ok: true, detail: expect.stringMatching(/^takeover in progress \(pid \d+, run\)/) });
    expect((await running).status).toBe(0);
    expect(takeoverLog(host)).toMatchObject([{ result: "ok" }]);
  });

  it("reconcile on the standby re-applies the host but leaves the API to the active member", async () => {
    const { api, host } = at;
    writeFileSync(join(host.fake, "ip_forward"), "1\n");
    const keepalived = startKeepalived(host);
    const result = await keepalived.notify("BACKUP").then(() => ctl(host, ["reconcile", "--json"])).finally(() => keepalived.stop());
    expect(result.status, result.stderr).toBe(0);
    expect(api.requests).toHaveLength(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: true,
      steps: [{}, {}, {}, {}, { name: "vrrp" }, { name: "sync" }, {}, { name: "api", ok: true, detail: "skipped: prod-egress-1 is BACKUP; the active member owns the API end state" }],
    });
  });


  it("takeover refuses a token file others can read, before any request", async () => {
    const { api, host } = at;
    chmodSync(host.env.NATGW_TOKEN_FILE!, 0o640);
    const result = await ctl(host, ["takeover"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/refusing .*token: mode 640/);
    expect(api.requests).toHaveLength(0);
  });
});
