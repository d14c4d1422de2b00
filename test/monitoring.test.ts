import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { emit } from "../src/emit/emit.js";
import { buildExample, EXAMPLES } from "./support/artifacts.js";
import { compileText, gateway } from "./support/spec.js";

describe("monitoring", () => {
  const builds = [
    ...EXAMPLES.map((example) => buildExample(example)),
    emit(compileText(gateway({ name: "quiet-egress", spec: "  metrics: { enabled: false }\n" })).model!).artifacts,
  ];

  it("lists every member's private IP and metrics port, labelled with gateway and member, for Prometheus and the VictoriaMetrics operator", () => {
    let gateways = 0;
    for (const artifacts of builds) {
      const configs = artifacts.filter((artifact) => artifact.path.endsWith("/etc/natgw/config.json")).map((a) => JSON.parse(a.content));
      for (const name of [...new Set(configs.map((config) => config.gateway as string))]) {
        const members = configs.filter((config) => config.gateway === name);
        const scrape = artifacts.find((artifact) => artifact.path === `monitoring/${name}-scrape.yaml`);
        const vmStaticScrape = artifacts.find((artifact) => artifact.path === `monitoring/${name}-vmstaticscrape.yaml`);
        if (!members[0].metrics.enabled) {
          expect([scrape, vmStaticScrape], "nothing to scrape without metrics").toEqual([undefined, undefined]);
          continue;
        }
        gateways++;
        const endpoints = members.map((config) => ({
          targets: [`${config.member.privateIp}:${config.metrics.port}`],
          labels: { gateway: name, member: config.member.name },
        }));
        expect([scrape!.role, vmStaticScrape!.role, scrape!.member, scrape!.gateway]).toEqual(["scrape-config", "scrape-config", null, name]);
        expect(parse(scrape!.content)).toEqual({
          scrape_configs: [{ job_name: `natgw-${name}`, scrape_interval: "15s", metrics_path: "/metrics", static_configs: endpoints }],
        });
        expect(parse(vmStaticScrape!.content)).toEqual({
          apiVersion: "operator.victoriametrics.com/v1beta1",
          kind: "VMStaticScrape",
          metadata: { name: `natgw-${name}`, labels: { "app.kubernetes.io/name": "natgw", "app.kubernetes.io/instance": name } },
          spec: {
            jobName: `natgw-${name}`,
            targetEndpoints: endpoints.map((endpoint) => ({ ...endpoint, path: "/metrics", interval: "15s" })),
          },
        });
      }
    }
    expect(gateways).toBe(4);
  });
});
