import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import type { Artifact } from "../src/emit/artifact.js";
import { emit } from "../src/emit/emit.js";
import { buildExample, EXAMPLES } from "./support/artifacts.js";
import { compileText, gateway } from "./support/spec.js";
import { isRoot, missingTools, Namespace, run } from "./support/tools.js";
import { cloudInitSchema, decodeUserData } from "./support/user-data.js";

const scratch = mkdtempSync(join(tmpdir(), "natgw-nodes-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const nodes = EXAMPLES.flatMap((example) => buildExample(example)).filter((artifact) => artifact.path.startsWith("nodes/"));
const cloudInit = nodes.filter((artifact) => artifact.path.endsWith(".cloud-init.yaml"));
const networkFiles = nodes.filter((artifact) => artifact.path.endsWith(".network"));

/** The router of each example network: the first address of its ip range. */
const ROUTERS: Record<string, string> = {
  "nodes/name-dev-default-route": "10.1.0.1",
  "nodes/id-4711-default-route": "10.0.0.1",
  "nodes/name-edge-default-route": "10.20.0.1",
  "nodes/id-5150-default-route": "10.30.0.1",
};

function routerOf(artifact: Artifact): string {
  return ROUTERS[artifact.path.replace(/\.(cloud-init\.yaml|network)$/, "")]!;
}

describe("worker default-route snippets", () => {
  it("come as a cloud-init and a systemd-networkd form per network, role config, about no member", () => {
    expect(nodes.map((artifact) => artifact.path)).toEqual(
      Object.keys(ROUTERS).flatMap((stem) => [`${stem}.cloud-init.yaml`, `${stem}.network`]),
    );
    for (const artifact of nodes) expect([artifact.role, artifact.member, artifact.gateway]).toEqual(["config", null, null]);
  });

  it("are emitted once for two gateways sharing a network", () => {
    const shared = compileText(
      gateway({ name: "blue-egress", spec: "  routes: [10.8.0.0/16]\n" }),
      gateway({
        name: "green-egress",
        network: "  network:\n    id: 4711\n    ipRange: 10.0.0.0/16\n    subnet: 10.0.2.0/24",
        spec: "  routes: [10.9.0.0/16]\n",
      }),
    );
    expect(shared.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const paths = emit(shared.model!).artifacts.filter((artifact) => artifact.path.startsWith("nodes/"));
    expect(paths.map((artifact) => artifact.path)).toEqual(["nodes/id-4711-default-route.cloud-init.yaml", "nodes/id-4711-default-route.network"]);
    expect(paths[0]!.content).toContain("used by blue-egress, green-egress.");
  });

  describe.skipIf(missingTools("cloud-init"))("cloud-init form", () => {
    for (const artifact of cloudInit) {
      it(`${artifact.path} passes cloud-init schema and enables a unit that adds the route at every boot`, () => {
        const schema = cloudInitSchema(artifact.content, scratch, artifact.path.replace(/\//g, "_"));
        expect(schema.valid, schema.stdout + schema.stderr).toBe(true);
        const document = decodeUserData(artifact.content, scratch, `decoded-${artifact.path.replace(/\//g, "_")}`);
        expect(document.write_files.map((file) => [file.path, file.permissions, file.owner])).toEqual([
          ["/usr/local/sbin/natgw-default-route", "0755", "root:root"],
          ["/etc/systemd/system/natgw-default-route.service", "0644", "root:root"],
        ]);
        expect(document.write_files[0]!.content).toContain(`ip route replace default via ${routerOf(artifact)} dev "$private" onlink\n`);
        expect(document.runcmd).toEqual([
          ["systemctl", "daemon-reload"],
          ["systemctl", "enable", "--now", "natgw-default-route.service"],
        ]);
      });
    }

    const sample = cloudInit.find((artifact) => artifact.path.includes("id-4711"))!;
    const files = () => decodeUserData(sample.content, scratch, "sample.yaml").write_files;

    it.skipIf(missingTools("shellcheck"))("has a route script that passes shellcheck", () => {
      const result = run("shellcheck", ["--shell=sh", "-"], files()[0]!.content);
      expect(result.stdout + result.stderr).toBe("");
      expect(result.status).toBe(0);
    });

    it.skipIf(missingTools("systemd-analyze"))("has a unit that passes systemd-analyze verify", () => {
      const root = join(scratch, "verify-root");
      for (const file of files()) {
        const path = join(root, file.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, file.content);
        chmodSync(path, Number.parseInt(file.permissions, 8));
      }
      mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
      execFileSync("cp", ["-a", "/usr/lib/systemd/system", join(root, "usr/lib/systemd/")]);
      const result = run("systemd-analyze", ["verify", `--root=${root}`, "natgw-default-route.service"]);
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    });

    describe.skipIf(missingTools("ip") ?? (isRoot() ? undefined : "needs root for a network namespace"))("route script", () => {
      // Hetzner's MAC prefixes: 86:00:00 on the private interface, 96:00:00 on the public one.
      function withWorker(publicMac: string, check: (namespace: Namespace, script: string) => void) {
        const namespace = new Namespace();
        try {
          const script = join(scratch, `route-${publicMac.replace(/:/g, "")}`);
          writeFileSync(script, files()[0]!.content);
          chmodSync(script, 0o755);
          expect(namespace.exec("ip", ["link", "set", "enp7s0", "address", "86:00:00:4a:00:01"]).status).toBe(0);
          expect(namespace.exec("ip", ["link", "set", "eth0", "address", publicMac]).status).toBe(0);
          expect(namespace.exec("ip", ["address", "add", "10.0.1.5/32", "dev", "enp7s0"]).status).toBe(0);
          check(namespace, script);
        } finally {
          namespace.remove();
        }
      }

      it("adds the default route via the network's router on the private interface", () => {
        withWorker("02:00:00:00:00:01", (namespace, script) => {
          const result = namespace.exec(script, []);
          expect(result.status, result.stderr).toBe(0);
          expect(namespace.exec("ip", ["route", "show", "default"]).stdout.trim()).toBe("default via 10.0.0.1 dev enp7s0 onlink");
          // A second run at the next boot leaves the same single route.
          expect(namespace.exec(script, []).status).toBe(0);
          expect(namespace.exec("ip", ["route", "show", "default"]).stdout.trim()).toBe("default via 10.0.0.1 dev enp7s0 onlink");
        });
      });

      it("leaves a server with a public interface alone", () => {
        withWorker("96:00:00:4a:00:02", (namespace, script) => {
          const result = namespace.exec(script, []);
          expect(result.status, result.stderr).toBe(0);
          expect(result.stdout).toContain("eth0 is a public interface");
          expect(namespace.exec("ip", ["route", "show", "default"]).stdout).toBe("");
        });
      });
    });
  });

  describe("systemd-networkd form", () => {
    /** The .network file as sections of key/value pairs; comments and blank lines dropped. */
    function parseNetworkFile(text: string): Record<string, Record<string, string>> {
      const sections: Record<string, Record<string, string>> = {};
      let section = "";
      for (const line of text.split("\n")) {
        if (line === "" || line.startsWith("#")) continue;
        const header = /^\[([A-Za-z0-9]+)\]$/.exec(line);
        if (header) {
          section = header[1]!;
          expect(sections[section], `one [${section}]`).toBeUndefined();
          sections[section] = {};
          continue;
        }
        const setting = /^([A-Za-z0-9]+)=(\S.*)$/.exec(line);
        expect(setting, line).not.toBeNull();
        expect(section, `${line} inside a section`).not.toBe("");
        sections[section]![setting![1]!] = setting![2]!;
      }
      return sections;
    }

    /** fnmatch as systemd's Property= applies it, for the globs used here (* only). */
    function globMatches(glob: string, value: string): boolean {
      return new RegExp(`^${glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(value);
    }

    for (const artifact of networkFiles) {
      it(`${artifact.path} matches only the private interface and persists default via the router`, () => {
        const sections = parseNetworkFile(artifact.content);
        expect(sections).toEqual({
          Match: { Property: "ID_NET_NAME_MAC=enx860000*" },
          Network: { DHCP: "ipv4" },
          Route: { Destination: "0.0.0.0/0", Gateway: routerOf(artifact), GatewayOnLink: "yes" },
        });
        // udev names a MAC enx + its 12 hex digits (systemd.net-naming-scheme(7)).
        const [, glob] = sections.Match!.Property!.split("=");
        expect(globMatches(glob!, "enx8600004a0001"), "Hetzner private NIC").toBe(true);
        expect(globMatches(glob!, "enx9600004a0001"), "Hetzner public NIC").toBe(false);
      });
    }

    it.skipIf(missingTools("zcat") ?? (run("test", ["-e", "/usr/share/man/man5/systemd.network.5.gz"]).status === 0 ? undefined : "needs systemd.network(5)"))(
      "uses only settings this systemd documents",
      () => {
        const manual = run("zcat", ["/usr/share/man/man5/systemd.network.5.gz"]).stdout;
        for (const key of ["Property", "DHCP", "Destination", "Gateway", "GatewayOnLink"]) {
          expect(manual, key).toContain(`\\fI${key}=\\fR`);
        }
      },
    );
  });
});
