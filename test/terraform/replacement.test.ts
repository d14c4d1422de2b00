import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileSources } from "../../src/compile.js";
import { emit } from "../../src/emit/emit.js";

// A config change (policy, route, ports) must reach the members over SSH and
// must not replace them: user_data forces replacement in the hcloud provider,
// so it is ignore_changes, and every other argument that forces replacement
// (image, location, ssh_keys, network, placement group) or restarts the server
// (name, server_type, public_net) stays as it was.

function stackOf(file: string, edit: (text: string) => string = (text) => text): Record<string, any> {
  const text = edit(readFileSync(file, "utf8"));
  const result = compileSources([{ path: file, text }]);
  expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const { artifacts } = emit(result.model!);
  const stack = artifacts.find((artifact) => artifact.path.startsWith("stacks/"))!;
  return JSON.parse(stack.content);
}

/** What a server keeps across a config change: everything but user_data, which Terraform ignores. */
function serversWithoutUserData(stack: Record<string, any>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries<Record<string, unknown>>(stack.resource.hcloud_server).map(([name, { user_data: _ignored, ...rest }]) => [name, rest]),
  );
}

function edited(original: string, from: string, to: string): string {
  expect(original).toContain(from);
  return original.replace(from, to);
}

const changes = [
  {
    what: "a policy's destination",
    file: "examples/policies.yaml",
    edit: (text: string) => edited(text, "destinations: [{ cidr: 203.0.113.0/25 }]", "destinations: [{ cidr: 203.0.113.0/26 }]"),
  },
  {
    what: "the routes",
    file: "examples/ha.yaml",
    edit: (text: string) => edited(text, "routes: [0.0.0.0/0]", "routes: [10.100.0.0/16, 192.168.0.0/16]"),
  },
  {
    what: "portsPerSource",
    file: "examples/ports.yaml",
    edit: (text: string) => edited(text, "portsPerSource: 1024", "portsPerSource: 512"),
  },
];

describe("a config change replaces no member", () => {
  for (const { what, file, edit } of changes) {
    it(`${what}: no server argument changes but user_data, which is ignore_changes; the push re-runs`, () => {
      const before = stackOf(file);
      const after = stackOf(file, edit);
      expect(serversWithoutUserData(after)).toEqual(serversWithoutUserData(before));
      for (const server of Object.values<Record<string, any>>(after.resource.hcloud_server)) {
        expect(server.lifecycle.ignore_changes).toContain("user_data");
      }
      expect(after.resource.hcloud_placement_group).toEqual(before.resource.hcloud_placement_group);
      expect(after.resource.hcloud_floating_ip).toEqual(before.resource.hcloud_floating_ip);
      // The pushed files changed, so each member's terraform_data is replaced and re-runs its provisioners.
      for (const [member, push] of Object.entries<Record<string, any>>(after.resource.terraform_data)) {
        expect(push.triggers_replace.host_files, member).not.toBe(before.resource.terraform_data[member].triggers_replace.host_files);
      }
    });
  }

  it("the server arguments that force replacement are the ones checked above", () => {
    const server = stackOf("examples/ha.yaml").resource.hcloud_server["prod-egress-1"];
    expect(Object.keys(server).sort()).toEqual([
      "image",
      "labels",
      "lifecycle",
      "location",
      "name",
      "network",
      "placement_group_id",
      "public_net",
      "server_type",
      "ssh_keys",
      "user_data",
    ]);
  });

  it("in HA, a failover shows no change: the floating IP assignment's server and the routes' gateway are ignore_changes", () => {
    const stack = stackOf("examples/ha.yaml");
    for (const assignment of Object.values<Record<string, any>>(stack.resource.hcloud_floating_ip_assignment)) {
      expect(assignment.lifecycle.ignore_changes).toEqual(["server_id"]);
    }
    for (const route of Object.values<Record<string, any>>(stack.resource.hcloud_network_route)) {
      expect(route.lifecycle.ignore_changes).toEqual(["gateway"]);
      expect(route.gateway).toBe("10.0.1.2");
    }
  });

  it("pushes member 2 only after member 1, so HA members never restart together", () => {
    const pushes = stackOf("examples/ha.yaml").resource.terraform_data;
    expect(pushes["prod-egress-2"].depends_on).toContain("terraform_data.prod-egress-1");
    expect(pushes["prod-egress-1"].depends_on).not.toContain("terraform_data.prod-egress-2");
  });

  it("pushes every host file, cloud.json and the token, then runs natgw-ctl reconcile; the token never in user_data", () => {
    const stack = stackOf("examples/ha.yaml");
    const push = stack.resource.terraform_data["prod-egress-1"];
    const staged = push.provisioner.flatMap((p: Record<string, any>) => (p.file ? [p.file.destination] : []));
    const pushed = ["/etc/natgw/config.json", "/usr/local/sbin/natgw-ctl", "/etc/natgw/cloud.json", "/etc/natgw/token"];
    expect(staged).toEqual(expect.arrayContaining(pushed.map((path) => `/var/lib/natgw/push${path}`)));
    expect(push.provisioner.find((p: Record<string, any>) => p.file?.destination === "/var/lib/natgw/push/etc/natgw/token").file.content).toBe(
      "${local.member_hcloud_token}",
    );
    const commands: string[] = push.provisioner.at(-1)["remote-exec"].inline;
    // Each file is renamed into place with its mode, never written where natgw-ctl reads it.
    const token = commands.indexOf("install -m 0600 /var/lib/natgw/push/etc/natgw/token /etc/natgw/token.natgw-new");
    expect(token).toBeGreaterThan(0);
    expect(commands[token + 1]).toBe("mv -f /etc/natgw/token.natgw-new /etc/natgw/token");
    const ctl = commands.indexOf("install -m 0755 /var/lib/natgw/push/usr/local/sbin/natgw-ctl /usr/local/sbin/natgw-ctl.natgw-new");
    expect(ctl).toBeGreaterThan(0);
    expect(commands[ctl + 1]).toBe("mv -f /usr/local/sbin/natgw-ctl.natgw-new /usr/local/sbin/natgw-ctl");
    expect(commands.at(-1)).toBe("/usr/local/sbin/natgw-ctl reconcile");
    expect(push.provisioner[0]["remote-exec"].inline).toEqual(
      expect.arrayContaining(["rm -rf /var/lib/natgw/push", "install -d -m 0700 /var/lib/natgw/push"]),
    );
    expect(push.connection).toEqual({
      type: "ssh",
      host: "${hcloud_server.prod-egress-1.ipv4_address}",
      user: "root",
      private_key: "${var.ssh_private_key}",
      host_key: "${tls_private_key.prod-egress-1.public_key_openssh}",
    });
    // user_data is made by Terraform from the cloud-config and the host key; the token is never in it.
    expect(stack.resource.hcloud_server["prod-egress-1"].user_data).toBe("${base64gzip(local.user_data_prod-egress-1)}");
    expect(stack.locals["user_data_prod-egress-1"]).not.toMatch(/hcloud_token/);
    expect(stack.variable.hcloud_token).toMatchObject({ sensitive: true, type: "string" });
    expect(stack.variable.hcloud_token.default).toBeUndefined();
  });
});
