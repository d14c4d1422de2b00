import type { GatewayModel } from "../../resolve/model.js";
import type { Artifact } from "../artifact.js";
import { address, cidr, hetznerId, hetznerLabel, integer, label, metricsPort, networkName, sshKeyName, token as hetznerToken } from "../hosts/safe.js";
import { ref, terraformName, type Block, type ConfigurationBuilder, type Expression, type Lifecycle } from "./configuration.js";
import {
  dataFloatingIp,
  dataNetwork,
  floatingIp,
  floatingIpAssignment,
  network as createNetwork,
  networkRoute,
  networkSubnet,
  placementGroup,
  server as createServer,
} from "./hcloud.js";
import { memberBoot } from "./host-key.js";
import { configPush, type MemberHost } from "./push.js";

/** Where the network's id comes from. */
export type NetworkSource =
  /** As the spec says: looked up by id or name, or created. */
  | { readonly from: "spec" }
  /** Looked up by the id at this address (a module's input), or as the spec says when that is null. */
  | { readonly from: "input"; readonly id: string }
  /** The id this expression gives, as it is: the user's own network (a construct's argument). */
  | { readonly from: "given"; readonly id: string };

/** What a gateway's objects take from the configuration around them. */
export interface GatewaySurroundings {
  /** Put before every Terraform name: "" in the gateway's own stack or module, `<id>_` in a user's stack. */
  readonly prefix: string;
  /** Address of the token pushed to the members, e.g. `local.member_hcloud_token`. */
  readonly memberToken: string;
  /** Expression of the SSH private key of the push (an address, or `null`: the SSH agent). */
  readonly sshPrivateKey: string;
  readonly network: NetworkSource;
}

/** A gateway's objects, for outputs and for a construct's typed properties. */
export interface GatewayObjects {
  /** Expression of the network's id (an address, in natgw's own stack and module). */
  readonly networkId: string;
  readonly members: readonly { readonly name: string; readonly privateIp: string; readonly server: Block; readonly hostKey: Block }[];
  readonly egressIPs: readonly { readonly name: string; readonly id: string; readonly address: string }[];
  readonly routes: readonly { readonly destination: string; readonly route: Block }[];
}

/**
 * One NatGateway's objects: the network (looked up, created or given), the
 * members, the floating IPs and their assignment, the routes and the config
 * push over SSH. The same objects make its stack, its module and the cdktf
 * construct; only what surrounds them differs.
 */
export function addGateway(config: ConfigurationBuilder, gateway: GatewayModel, hosts: ReadonlyMap<string, MemberHost>, around: GatewaySurroundings): GatewayObjects {
  checkGateway(gateway);
  const name = (text: string) => terraformName(`${around.prefix}${text}`);
  const labels = { ...gateway.labels, "natgw.dev/gateway": gateway.name };
  const { networkId, subnet } = addNetwork(config, gateway, around.network, name, labels);

  // Spread: the two members never share a physical host.
  const group = gateway.mode === "ha" ? placementGroup(config, name("members"), { name: gateway.name, type: "spread", labels }) : null;

  const members = gateway.members.map((member) => {
    const host = hosts.get(member.name);
    if (!host) throw new Error(`natgw bug: no host files for ${member.name}`);
    const boot = memberBoot(config, name, member.name, host.cloudInit);
    const server = createServer(
      config,
      name(member.name),
      {
        name: member.name,
        serverType: member.serverType,
        image: member.image,
        location: gateway.location,
        labels: { ...labels, "natgw.dev/member": member.name },
        sshKeys: member.sshKeys,
        userData: boot.userData,
        ...(group ? { placementGroupId: group.attribute("id") } : {}),
        // alias_ips = [] keeps Terraform >= 1.4 from detaching and re-attaching the network.
        network: [{ networkId: ref(networkId), ip: member.privateIp, aliasIps: [] }],
        // IPv4 stays on: it carries the egress traffic and the config push over SSH.
        publicNet: [{ ipv4Enabled: true, ipv6Enabled: gateway.ipv6.enabled }],
      },
      {
        ...(subnet ? { depends_on: [subnet.address] } : {}),
        // user_data forces replacement in the provider; it only matters at first
        // boot, and later config arrives over SSH (push.ts). A new host key
        // reaches a server only through user_data, so it replaces the server.
        lifecycle: { ignore_changes: ["user_data"], replace_triggered_by: [boot.hostKey.address] },
      },
    );
    return { member, name: member.name, privateIp: member.privateIp, server, host, hostKey: boot.hostKey };
  });
  const first = members[0]!;
  // In HA keepalived's takeover moves the floating IPs and routes to whichever
  // member is active; Terraform must not move them back on the next apply.
  const live = (attribute: string): { lifecycle?: Lifecycle } => (gateway.mode === "ha" ? { lifecycle: { ignore_changes: [attribute] } } : {});

  const egressIPs = gateway.egressIPs.map((egressIP) => {
    let floating: Block;
    if (egressIP.floatingIPId === null) {
      // Partners allowlist this address, and a deleted floating IP goes back to
      // Hetzner's pool: Hetzner refuses to delete a protected one, and Terraform
      // refuses a plan that would destroy it (a rename, `terraform destroy`).
      const kept = egressIP.deleteProtection === true;
      floating = floatingIp(
        config,
        name(egressIP.name),
        {
          type: "ipv4",
          name: `${gateway.name}-${egressIP.name}`,
          homeLocation: gateway.location,
          labels: { ...labels, "natgw.dev/egress-ip": egressIP.name },
          ...(kept ? { deleteProtection: true } : {}),
        },
        kept ? { lifecycle: { prevent_destroy: true } } : {},
      );
    } else {
      floating = dataFloatingIp(config, name(egressIP.name), { id: egressIP.floatingIPId });
    }
    const assignment = floatingIpAssignment(config, name(egressIP.name), { floatingIpId: floating.attribute("id"), serverId: first.server.attribute("id") }, live("server_id"));
    return { name: egressIP.name, id: floating.attributeAddress("id"), address: floating.attributeAddress("ip_address"), assignment };
  });

  // Routes point at member 1's own private IP; on takeover natgw-ctl deletes
  // and re-adds them with the new active member as gateway (see natgw-ctl).
  const routes = gateway.routes.map((destination) => ({
    destination,
    route: networkRoute(config, name(`route_${destination}`), { networkId: ref(networkId), destination, gateway: first.privateIp }, live("gateway")),
  }));

  configPush(config, {
    networkId,
    members,
    egress: egressIPs,
    token: around.memberToken,
    sshPrivateKey: around.sshPrivateKey,
    bastion: gateway.bastion,
    after: [...egressIPs.map((e) => e.assignment), ...routes.map((r) => r.route)],
    name,
  });
  return { networkId, members, egressIPs, routes };
}

/** Adds the network's lookup or creation, as `source` says: the address of its id, and the subnet natgw created. */
function addNetwork(
  config: ConfigurationBuilder,
  gateway: GatewayModel,
  source: NetworkSource,
  name: (text: string) => string,
  labels: Readonly<Record<string, string>>,
): { networkId: string; subnet: Block | null } {
  const network = gateway.network;
  if (source.from === "given") return { networkId: source.id, subnet: null };
  if (network.create) {
    if (source.from === "input") throw new Error(`natgw bug: ${gateway.name} creates its network, so it takes no network id`);
    // resolve names every network it creates (the spec's name, else the default).
    if (network.name === null) throw new Error(`natgw bug: ${gateway.name} creates a network without a name`);
    const created = createNetwork(config, name("network"), { name: network.name, ipRange: network.ipRange, labels });
    const subnet = networkSubnet(config, name("subnet"), { networkId: created.attribute("id"), type: "cloud", networkZone: network.zone, ipRange: network.subnet });
    return { networkId: created.attributeAddress("id"), subnet };
  }
  if (source.from === "input") {
    // The input's default is the spec's id; a spec that names its network looks it up by name unless the input is set.
    const byName: { name?: Expression } = network.id === null ? { name: `\${${source.id} == null ? ${JSON.stringify(network.name)} : null}` } : {};
    return { networkId: dataNetwork(config, name("network"), { id: ref(source.id), ...byName }).attributeAddress("id"), subnet: null };
  }
  const existing = dataNetwork(config, name("network"), network.id !== null ? { id: network.id } : { name: network.name! });
  return { networkId: existing.attributeAddress("id"), subnet: null };
}

/** The outputs of a gateway's own stack and module. */
export function addGatewayOutputs(config: ConfigurationBuilder, gateway: GatewayModel, objects: GatewayObjects): void {
  const output = (outputName: string, value: unknown, description: string) => config.output(outputName, { value, description });
  output("egress_ips", Object.fromEntries(objects.egressIPs.map((e) => [e.name, ref(e.address)])), "Egress IP name -> public IPv4 address.");
  output(
    "members",
    objects.members.map(({ name, privateIp, server }) => ({
      name,
      id: server.attribute("id"),
      private_ip: privateIp,
      ipv4_address: server.attribute("ipv4_address"),
      ipv6_address: server.attribute("ipv6_address"),
    })),
    "The gateway members: server id, private IP and public IPs.",
  );
  output(
    "routes",
    objects.routes.map(({ destination, route }) => ({ destination, id: route.attribute("id"), gateway: route.attribute("gateway") })),
    "Network routes sent to the gateway: destination, route id, and the gateway Terraform last saw.",
  );
  output("network_id", ref(objects.networkId), "The id of the private network.");
  output(
    "ssh_host_keys",
    Object.fromEntries(objects.members.map(({ name, hostKey }) => [name, hostKey.attribute("public_key_openssh")])),
    "Member name -> its SSH host key (authorized_keys form), for known_hosts.",
  );
  output(
    "metrics_targets",
    gateway.metrics.enabled ? gateway.members.map((member) => `${member.privateIp}:${gateway.metrics.port}`) : [],
    "Scrape targets of the members' metrics endpoints (private IPs).",
  );
  output(
    "status",
    { ips: objects.egressIPs.map((e) => ({ name: e.name, ip: ref(e.address) })) },
    "The gateway's egress IPs, shaped like Ironcore's NATGateway status.ips.",
  );
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
  metricsPort(gateway.metrics.port);
}

/** Each member's host files (as pushed) and cloud-init (as first-boot user_data), from the emitted host artifacts. */
export function memberHosts(gateway: GatewayModel, artifacts: readonly Artifact[]): Map<string, MemberHost> {
  const hosts = new Map<string, MemberHost>();
  for (const member of gateway.members) {
    const mine = artifacts.filter((artifact) => artifact.gateway === gateway.name && artifact.member === member.name);
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
