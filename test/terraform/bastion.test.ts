import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../src/compile.js";
import { emitHosts } from "../../src/emit/hosts/hosts.js";
import { configurationText } from "../../src/emit/terraform/configuration.js";
import { memberHosts } from "../../src/emit/terraform/gateway.js";
import { stackConfiguration } from "../../src/emit/terraform/stack.js";
import type { BastionModel, GatewayModel } from "../../src/resolve/model.js";
import { missingTools } from "../support/tools.js";
import { missingShared, VALIDATE_SCRIPT } from "../support/terraform.js";

// The push from a CI runner whose address changes: through a bastion with a
// fixed one. Terraform's SSH connection goes to the bastion first, then to the
// member, pinned to each one's host key where the spec gives it.
const skip = missingShared(VALIDATE_SCRIPT) ?? missingTools("terraform", "openssl");
const scratch = mkdtempSync(join(tmpdir(), "natgw-bastion-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const gateway = compile(["examples/ha.yaml"]).model!.gateways[0]!;
const hosts = memberHosts(gateway, emitHosts({ apiVersion: "natgw.dev/v1alpha1", gateways: [gateway] }).artifacts);
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq1C0bIlV3hHq1T8Xb4NhC0p8PmK0ZlUZyT3U9jVZ2X bastion";

function connections(bastion: BastionModel | null): Record<string, any>[] {
  const stack = stackConfiguration({ ...gateway, bastion } satisfies GatewayModel, hosts);
  return Object.values(stack.resource!.terraform_data!).map((push: any) => push.connection);
}

describe("the push through a bastion", () => {
  it("without one, goes straight to each member's public IPv4", () => {
    for (const connection of connections(null)) {
      expect(connection.host).toMatch(/^\$\{hcloud_server\.prod-egress-\d\.ipv4_address\}$/);
      expect(Object.keys(connection).filter((key) => key.startsWith("bastion_"))).toEqual([]);
    }
  });

  it("to the members' private IPs through a bastion in the network, with its host key pinned and the same private key", () => {
    const [first, second] = connections({ host: "203.0.113.7", user: "jump", port: 2222, hostKey: HOST_KEY, target: "private" });
    expect(first).toMatchObject({
      host: "10.0.1.2",
      bastion_host: "203.0.113.7",
      bastion_user: "jump",
      bastion_port: 2222,
      bastion_host_key: HOST_KEY,
      bastion_private_key: "${var.ssh_private_key}",
      host_key: "${tls_private_key.prod-egress-1.public_key_openssh}",
    });
    expect(second.host).toBe("10.0.1.3");
  });

  it("to the members' public IPv4 when the spec says public, and without a bastion host key when it gives none", () => {
    const [first] = connections({ host: "bastion.example.com", user: "root", port: 22, hostKey: null, target: "public" });
    expect(first!.host).toBe("${hcloud_server.prod-egress-1.ipv4_address}");
    expect(first!.bastion_host).toBe("bastion.example.com");
    expect(first).not.toHaveProperty("bastion_host_key");
  });

  it("comes from the spec: the README's example pushes through its bastion", () => {
    const readme = readFileSync("README.md", "utf8");
    const example = /```yaml\n(apiVersion[^`]*?bastion:[^`]*?)```/.exec(readme)![1]!;
    const result = compile([{ path: "README.md", text: example }]);
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const model = result.model!.gateways[0]!;
    const stack = stackConfiguration(model, memberHosts(model, emitHosts({ apiVersion: "natgw.dev/v1alpha1", gateways: [model] }).artifacts));
    const connection = (stack.resource!.terraform_data!["ci-egress-1"] as any).connection;
    expect(connection).toMatchObject({ host: model.members[0]!.privateIp, bastion_host: "bastion.example.com", bastion_user: "root", bastion_port: 22 });
    expect(connection.bastion_host_key).toMatch(/^ssh-ed25519 /);
  });

  it.skipIf(skip)("is valid Terraform", () => {
    const dir = join(scratch, "stack");
    mkdirSync(dir, { recursive: true });
    const stack = stackConfiguration({ ...gateway, bastion: { host: "203.0.113.7", user: "jump", port: 2222, hostKey: HOST_KEY, target: "private" } }, hosts);
    writeFileSync(join(dir, "cdk.tf.json"), configurationText(stack));
    const run = spawnSync(VALIDATE_SCRIPT, ["--human", dir], { encoding: "utf8" });
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});
