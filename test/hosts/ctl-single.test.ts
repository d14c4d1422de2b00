import { rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FakeHetznerApi } from "../support/hetzner-api.js";
import { ctl, hostWithApi, makeHost, SERVERS, TOKEN, toolsMissing } from "./ctl-host.js";

describe.skipIf(toolsMissing)("natgw-ctl in Single mode", () => {
  // natgw created the network, so its id is known only from cloud.json.
  const at = hostWithApi(
    () => FakeHetznerApi.start({ token: TOKEN, floatingIPs: { 777: { address: "203.0.113.77", server: null } }, networks: { 9001: [] }, pollsPerAction: 3 }),
    (api) => makeHost("single", "dev-egress-1", api.endpoint, { networkId: 9001, servers: SERVERS, floatingIPs: { primary: { id: 777, address: "203.0.113.77" } } }),
  );


  it("the only member is always active: reconcile converges the API end state", async () => {
    const { api, host } = at;
    const result = await ctl(host, ["reconcile"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.floatingIPs.get(777)!.server).toBe(333);
    expect(api.networks.get(9001)).toEqual([{ destination: "0.0.0.0/0", gateway: "10.1.0.254" }]);
    expect(result.stdout).toMatch(/^steps\.5\.name = api$/m);
    const status = JSON.parse((await ctl(host, ["status", "--json"])).stdout) as { member: { role: string }; peer: unknown };
    expect(status.member.role).toBe("active");
    expect(status.peer).toBeNull();
    expect(status).toMatchObject({ sync: null });
    const sync = await ctl(host, ["sync"]);
    expect(sync.status).toBe(1);
    expect(sync.stderr).toMatch(/connection-state sync runs only on the members of an HA gateway/);
  });

  it("without its server in cloud.json, the member asks the metadata service for its id", async () => {
    // An API that serves the metadata, and cloud.json without the servers; afterEach ends these instead.
    await at.api.stop();
    rmSync(at.host.directory, { recursive: true, force: true });
    at.api = await FakeHetznerApi.start({ token: TOKEN, floatingIPs: { 777: { address: "203.0.113.77", server: 1 } }, networks: { 9001: [] }, instanceId: 4242 });
    at.host = makeHost("single", "dev-egress-1", at.api.endpoint, { networkId: 9001, servers: {}, floatingIPs: { primary: { id: 777, address: "203.0.113.77" } } });
    const { api, host } = at;
    const result = await ctl(host, ["takeover"]);
    expect(result.status, result.stderr).toBe(0);
    expect(api.count("GET", "/hetzner/v1/metadata/instance-id")).toBe(1);
    expect(api.floatingIPs.get(777)!.server).toBe(4242);
  });

  it("status reports the address a probe URL observed", async () => {
    const { api, host } = at;
    host.env.NATGW_PROBE_URL = api.endpoint.replace(/\/v1$/, "/probe");
    const status = JSON.parse((await ctl(host, ["status", "--json"])).stdout) as { connectivity: unknown };
    // dev-egress-1's private IP is one of its sources: the probe leaves from it to be SNATed.
    expect(status.connectivity).toMatchObject({ probe: host.env.NATGW_PROBE_URL, path: "snat" });
    // batch-egress-1's is not (its sources are 10.30.8.0/26): the probe shows the member's own address.
    const batch = makeHost("ports", "batch-egress-1", api.endpoint, {});
    try {
      batch.env.NATGW_PROBE_URL = host.env.NATGW_PROBE_URL;
      const batchStatus = JSON.parse((await ctl(batch, ["status", "--json"])).stdout) as { connectivity: unknown };
      expect(batchStatus.connectivity).toEqual({ probe: host.env.NATGW_PROBE_URL, path: "member", ok: true, egressIp: "127.0.0.1" });
    } finally {
      rmSync(batch.directory, { recursive: true, force: true });
    }
  });

  it("role is always active: the only member runs no keepalived", async () => {
    const { host } = at;
    const result = await ctl(host, ["role"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe("active\n");
  });

  it("failover refuses: there is no standby", async () => {
    const { host } = at;
    const result = await ctl(host, ["failover"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Single mode has no standby/);
  });
});
