import { LocalBackend, TerraformLocal, TerraformOutput, TerraformStack, TerraformVariable, Token } from "cdktf";
import type { Construct } from "constructs";
import { compile } from "../../compile.js";
import { formatText } from "../../diagnostics/format.js";
import type { SourceText } from "../../load/document.js";
import type { GatewayModel } from "../../resolve/model.js";
import { emitHosts } from "../hosts/hosts.js";
import { address, cidr, hetznerId, hetznerLabel, integer, label, networkName, sshKeyName, token as hetznerToken } from "../hosts/safe.js";
import {
  DataFloatingIp,
  DataNetwork,
  FloatingIp,
  FloatingIpAssignment,
  HcloudProvider,
  Network,
  NetworkRoute,
  NetworkSubnet,
  PlacementGroup,
  Server,
} from "./hcloud.js";
import { memberBoot } from "./host-key.js";
import { configPush, type MemberHost } from "./push.js";
import { TlsProvider } from "./tls.js";

/** A spec to compile, and which of its gateways this stack is (default: the one named like the stack, or the only one). */
export interface NatGatewaySpec {
  readonly files: readonly (string | SourceText)[];
  readonly gateway?: string;
}

export interface NatGatewayStackOptions {
  /** false: no local backend, so a composing app can add its own (a stack has one). Default true. */
  readonly localBackend?: boolean;
}

const TOKEN_LENGTH_MESSAGE = "A Hetzner Cloud API token has exactly 64 characters.";

/** Terraform names may not hold `.` or `/`: `0.0.0.0/0` becomes `0_0_0_0_0`. */
export function terraformName(text: string): string {
  const name = text.replace(/[^A-Za-z0-9_-]/g, "_");
  // A Terraform name starts with a letter or an underscore.
  return /^[A-Za-z_]/.test(name) ? name : `_${name}`;
}

/** `"${address}"`: a reference to another object of the stack, written as Terraform reads it. */
function ref(address: string): string {
  return `\${${address}}`;
}

/**
 * One NatGateway as a Terraform stack: the network (looked up or created), the
 * members, the floating IPs and their assignment, the routes, the config push
 * over SSH, and the outputs. natgw builds one per gateway; a cdktf app can add
 * it to its own tree with `new NatGatewayStack(app, name, gatewayModelOrSpec)`.
 */
export class NatGatewayStack extends TerraformStack {
  readonly gateway: GatewayModel;

  constructor(scope: Construct, id: string, source: GatewayModel | NatGatewaySpec, options: NatGatewayStackOptions = {}) {
    super(scope, id);
    const gateway = "files" in source ? gatewayFromSpec(id, source) : source;
    checkGateway(gateway);
    this.gateway = gateway;
    const hosts = memberHosts(gateway);

    // A relative state path: cdktf's default is an absolute path from the
    // directory synth ran in, which would differ between machines.
    if (options.localBackend !== false) new LocalBackend(this, { path: `terraform.${id}.tfstate` });

    const token = new TerraformVariable(this, "hcloud_token", {
      type: "string",
      sensitive: true,
      description: "Hetzner Cloud API token (Read & Write) of the project; also pushed to the members for takeover unless member_hcloud_token is set.",
      validation: [{ condition: "${length(var.hcloud_token) == 64}", errorMessage: TOKEN_LENGTH_MESSAGE }],
    });
    token.overrideLogicalId("hcloud_token");
    // A token of the members' own can be revoked without breaking the pipeline's.
    const memberToken = new TerraformVariable(this, "member_hcloud_token", {
      type: "string",
      sensitive: true,
      description: "Hetzner Cloud API token (Read & Write) pushed to the members for takeover, in place of hcloud_token; rotate it with terraform apply -replace=terraform_data.<member>.",
      // HCL evaluates both branches of a conditional but reports errors of the chosen one only, so length() never sees null.
      validation: [{ condition: "${var.member_hcloud_token == null ? true : length(var.member_hcloud_token) == 64}", errorMessage: TOKEN_LENGTH_MESSAGE }],
    });
    memberToken.overrideLogicalId("member_hcloud_token");
    // Unset means hcloud_token. cdktf cannot write a null default from the config (it
    // walks the value as an object), so the override puts `default = null` in place.
    memberToken.addOverride("default", null);
    const pushedToken = new TerraformLocal(this, "pushed_token", "${coalesce(var.member_hcloud_token, var.hcloud_token)}");
    pushedToken.overrideLogicalId("member_hcloud_token");
    const sshKey = new TerraformVariable(this, "ssh_private_key", {
      type: "string",
      sensitive: true,
      description: "Private SSH key (OpenSSH format) matching one of the members' ssh_keys; Terraform pushes config and the token with it.",
    });
    sshKey.overrideLogicalId("ssh_private_key");
    new HcloudProvider(this, "hcloud", { token: token.stringValue });
    new TlsProvider(this, "tls");

    const labels = { ...gateway.labels, "natgw.dev/gateway": gateway.name };
    const network = gateway.network;
    let networkId: string;
    let subnet: NetworkSubnet | null = null;
    if (network.create) {
      const created = new Network(this, "network_created", { name: network.name ?? `${gateway.name}-network`, ipRange: network.ipRange, labels });
      created.overrideLogicalId("network");
      subnet = new NetworkSubnet(this, "subnet", {
        networkId: Token.asNumber(created.id),
        type: "cloud",
        networkZone: network.zone,
        ipRange: network.subnet,
      });
      subnet.overrideLogicalId("subnet");
      networkId = "hcloud_network.network.id";
    } else {
      const existing = new DataNetwork(this, "network_existing", network.id !== null ? { id: network.id } : { name: network.name! });
      existing.overrideLogicalId("network");
      networkId = "data.hcloud_network.network.id";
    }

    let placementGroupId: number | undefined;
    if (gateway.mode === "ha") {
      // Spread: the two members never share a physical host.
      const group = new PlacementGroup(this, "placement_group", { name: gateway.name, type: "spread", labels });
      group.overrideLogicalId("members");
      placementGroupId = Token.asNumber(group.id);
    }

    const servers = gateway.members.map((member) => {
      const host = hosts.get(member.name)!;
      const boot = memberBoot(this, member.name, host.cloudInit);
      const server = new Server(this, `server_${terraformName(member.name)}`, {
        name: member.name,
        serverType: member.serverType,
        image: member.image,
        location: gateway.location,
        labels: { ...labels, "natgw.dev/member": member.name },
        sshKeys: member.sshKeys,
        userData: boot.userData,
        ...(placementGroupId !== undefined ? { placementGroupId } : {}),
        // alias_ips = [] keeps Terraform >= 1.4 from detaching and re-attaching the network.
        network: [{ networkId: Token.asNumber(ref(networkId)), ip: member.privateIp, aliasIps: [] }],
        // IPv4 stays on: it carries the egress traffic and the config push over SSH.
        publicNet: [{ ipv4Enabled: true, ipv6Enabled: gateway.ipv6.enabled }],
        ...(subnet ? { dependsOn: [subnet] } : {}),
        // user_data forces replacement in the provider; it only matters at first
        // boot, and later config arrives over SSH (push.ts). A new host key
        // reaches a server only through user_data, so it replaces the server.
        lifecycle: { ignoreChanges: ["user_data"], replaceTriggeredBy: [boot.hostKey.address] },
      });
      server.overrideLogicalId(terraformName(member.name));
      return { member, server, host, hostKey: boot.hostKey };
    });
    const first = servers[0]!;
    // In HA keepalived's takeover moves the floating IPs and routes to whichever
    // member is active; Terraform must not move them back on the next apply.
    const liveValues = (attribute: string) => (gateway.mode === "ha" ? { lifecycle: { ignoreChanges: [attribute] } } : {});

    const egress = gateway.egressIPs.map((egressIP) => {
      const name = terraformName(egressIP.name);
      let id: string;
      let address: string;
      if (egressIP.floatingIPId === null) {
        // Partners allowlist this address, and a deleted floating IP goes back to
        // Hetzner's pool: Hetzner refuses to delete a protected one, and Terraform
        // refuses a plan that would destroy it (a rename, `terraform destroy`).
        const kept = egressIP.deleteProtection === true;
        const created = new FloatingIp(this, `floating_ip_${name}`, {
          type: "ipv4",
          name: `${gateway.name}-${egressIP.name}`,
          homeLocation: gateway.location,
          labels: { ...labels, "natgw.dev/egress-ip": egressIP.name },
          ...(kept ? { deleteProtection: true, lifecycle: { preventDestroy: true } } : {}),
        });
        created.overrideLogicalId(name);
        id = `hcloud_floating_ip.${name}.id`;
        address = `hcloud_floating_ip.${name}.ip_address`;
      } else {
        const existing = new DataFloatingIp(this, `floating_ip_${name}`, { id: egressIP.floatingIPId });
        existing.overrideLogicalId(name);
        id = `data.hcloud_floating_ip.${name}.id`;
        address = `data.hcloud_floating_ip.${name}.ip_address`;
      }
      const assignment = new FloatingIpAssignment(this, `assignment_${name}`, {
        floatingIpId: Token.asNumber(ref(id)),
        serverId: Token.asNumber(first.server.id),
        ...liveValues("server_id"),
      });
      assignment.overrideLogicalId(name);
      return { name: egressIP.name, id, address, assignment };
    });

    // Routes point at member 1's own private IP; on takeover natgw-ctl deletes
    // and re-adds them with the new active member as gateway (see natgw-ctl).
    const routes = gateway.routes.map((destination) => {
      const name = `route_${destination.replace(/[./]/g, "_")}`;
      const route = new NetworkRoute(this, name, {
        networkId: Token.asNumber(ref(networkId)),
        destination,
        gateway: first.member.privateIp,
        ...liveValues("gateway"),
      });
      route.overrideLogicalId(name);
      return { destination, route };
    });

    configPush(this, {
      networkId,
      members: servers,
      egress,
      token: "local.member_hcloud_token",
      sshPrivateKey: sshKey.stringValue,
      after: [...egress.map((e) => e.assignment), ...routes.map((r) => r.route)],
    });

    const output = (name: string, value: unknown, description: string) =>
      new TerraformOutput(this, name, { value, description, staticId: true });
    output("egress_ips", Object.fromEntries(egress.map((e) => [e.name, ref(e.address)])), "Egress IP name -> public IPv4 address.");
    output(
      "members",
      servers.map(({ member, server }) => ({
        name: member.name,
        id: server.id,
        private_ip: member.privateIp,
        ipv4_address: server.ipv4Address,
        ipv6_address: server.ipv6Address,
      })),
      "The gateway members: server id, private IP and public IPs.",
    );
    output(
      "routes",
      routes.map(({ destination, route }) => ({ destination, gateway: route.gateway })),
      "Network routes sent to the gateway, with the gateway Terraform last saw.",
    );
    output("network_id", ref(networkId), "The id of the private network.");
    output(
      "ssh_host_keys",
      Object.fromEntries(servers.map(({ member, hostKey }) => [member.name, hostKey.publicKeyOpenssh])),
      "Member name -> its SSH host key (authorized_keys form), for known_hosts.",
    );
    output(
      "metrics_targets",
      gateway.metrics.enabled ? gateway.members.map((member) => `${member.privateIp}:${gateway.metrics.port}`) : [],
      "Scrape targets of the members' metrics endpoints (private IPs).",
    );
    output(
      "status",
      { ips: egress.map((e) => ({ name: e.name, ip: ref(e.address) })) },
      "The gateway's egress IPs, shaped like Ironcore's NATGateway status.ips.",
    );
  }
}

/**
 * Terraform JSON strings are templates: a `${` in a value would run as an
 * expression. The model is validated already, so every value the stack shows is
 * checked once more, as the host templates' values are, and a failure is a bug.
 */
function checkGateway(gateway: GatewayModel): void {
  label(gateway.name);
  hetznerToken(gateway.location);
  hetznerToken(gateway.network.zone);
  for (const [key, value] of Object.entries(gateway.labels)) hetznerLabel(key, value);
  if (gateway.network.name !== null) networkName(gateway.network.name);
  if (gateway.network.id !== null) hetznerId(gateway.network.id);
  cidr(gateway.network.ipRange);
  cidr(gateway.network.subnet);
  for (const member of gateway.members) {
    label(member.name);
    address(member.privateIp);
    hetznerToken(member.serverType);
    hetznerToken(member.image);
    member.sshKeys.forEach(sshKeyName);
  }
  for (const egressIP of gateway.egressIPs) {
    label(egressIP.name);
    if (egressIP.floatingIPId !== null) hetznerId(egressIP.floatingIPId);
  }
  gateway.routes.forEach(cidr);
  integer(gateway.metrics.port, 1, 65535);
}

/** Each member's host files (as pushed) and cloud-init (as first-boot user_data). */
function memberHosts(gateway: GatewayModel): Map<string, MemberHost> {
  // Host files depend only on their own gateway, so a one-gateway model gives the
  // same files as the whole spec.
  const emitted = emitHosts({ apiVersion: "natgw.dev/v1alpha1", gateways: [gateway] });
  if (emitted.diagnostics.length > 0) throw new Error(formatText(emitted.diagnostics));
  const hosts = new Map<string, MemberHost>();
  for (const member of gateway.members) {
    const mine = emitted.artifacts.filter((artifact) => artifact.member === member.name);
    const cloudInit = mine.find((artifact) => artifact.role === "cloud-init");
    if (!cloudInit) throw new Error(`natgw bug: no cloud-init for ${member.name}`);
    const prefix = `hosts/${member.name}`;
    hosts.set(member.name, {
      cloudInit: cloudInit.content,
      files: mine
        .filter((artifact) => artifact.role !== "cloud-init")
        .map((artifact) => ({ hostPath: artifact.path.slice(prefix.length), fileMode: artifact.fileMode, content: artifact.content })),
    });
  }
  return hosts;
}

function gatewayFromSpec(id: string, spec: NatGatewaySpec): GatewayModel {
  const result = compile(spec.files);
  if (!result.model) throw new Error(`natgw: the spec does not compile:\n${formatText(result.diagnostics)}`);
  const gateways = result.model.gateways;
  const wanted = spec.gateway ?? (gateways.length === 1 ? gateways[0]!.name : id);
  const gateway = gateways.find((candidate) => candidate.name === wanted);
  if (!gateway) {
    throw new Error(`natgw: the spec has no NatGateway named ${JSON.stringify(wanted)} (it has ${gateways.map((g) => g.name).join(", ")})`);
  }
  return gateway;
}
