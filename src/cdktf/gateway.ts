import { TerraformLocal, type TerraformDataSource, type TerraformResource } from "cdktf";
import { Construct } from "constructs";
import { ConfigurationBuilder, terraformName } from "../emit/terraform/configuration.js";
import { addGateway, type NetworkSource } from "../emit/terraform/gateway.js";
import type { MemberHost } from "../emit/terraform/push.js";
import type { GatewayModel } from "../resolve/model.js";
import { addConfiguration } from "./elements.js";
import { gatewayFromSpec, hostsOf, NatGatewaySpecError, type NatGatewaySpec } from "./spec.js";

export interface NatGatewayProps {
  /** The spec (files or documents), or a gateway model natgw resolved. */
  readonly spec: NatGatewaySpec | GatewayModel;
  /** Hetzner Cloud API token (Read & Write) the members use for takeover; e.g. a TerraformVariable's value. */
  readonly memberHcloudToken: string;
  /** Private SSH key (OpenSSH format) of one of the members' ssh_keys; omitted, Terraform asks the SSH agent at apply. */
  readonly sshPrivateKey?: string;
  /**
   * The user's own private network, for a gateway whose spec joins an existing
   * one: its id, or the resource (anything with an `id`). Omitted, the network
   * is looked up or created as the spec says.
   */
  readonly network?: number | string | { readonly id: string | number };
}

export interface NatGatewayEgressIp {
  readonly name: string;
  /** The floating IP's id (a token). */
  readonly id: string;
  /** Its public IPv4 address (a token): what partners allowlist. */
  readonly address: string;
}

export interface NatGatewayMember {
  readonly name: string;
  readonly privateIp: string;
  readonly serverId: string;
  readonly ipv4Address: string;
  readonly ipv6Address: string;
  /** The member's SSH host key, authorized_keys form (a token), for known_hosts. */
  readonly hostKey: string;
}

export interface NatGatewayRoute {
  readonly destination: string;
  /** The hcloud_network_route's id (a token). */
  readonly id: string;
}

/**
 * One NatGateway inside the user's own TerraformStack: the same servers,
 * floating IPs, routes and config push as natgw's stack, with names prefixed
 * by the construct's id, so two gateways (or the user's own resources) never
 * collide. The stack needs an hcloud and a tls provider (HcloudProvider,
 * TlsProvider, or the user's own). Its properties are tokens the user's other
 * resources and outputs can reference.
 */
export class NatGateway extends Construct {
  readonly gateway: GatewayModel;
  readonly egressIps: readonly NatGatewayEgressIp[];
  readonly members: readonly NatGatewayMember[];
  readonly routes: readonly NatGatewayRoute[];
  /** The private network's id (a token, or the id given). */
  readonly networkId: string;

  constructor(scope: Construct, id: string, props: NatGatewayProps) {
    super(scope, id);
    const { gateway, hosts } = resolveSpec(props.spec, id);
    this.gateway = gateway;
    const prefix = `${terraformName(id)}_`;
    const input = (name: string, value: unknown): string => {
      const local = new TerraformLocal(this, `input_${name}`, value);
      local.overrideLogicalId(`${prefix}${name}`);
      return `local.${prefix}${name}`;
    };

    const given = typeof props.network === "object" ? props.network.id : props.network;
    let network: NetworkSource = { from: "spec" };
    if (given !== undefined) {
      if (gateway.network.create) {
        throw new NatGatewaySpecError(
          `natgw: ${gateway.name}'s spec creates its network (network.create: true), so it takes no network; remove create, or the network prop`,
        );
      }
      network = { from: "given", id: `tonumber(${input("network_id", given)})` };
    }

    const config = new ConfigurationBuilder();
    const objects = addGateway(config, gateway, hosts, {
      prefix,
      memberToken: input("member_hcloud_token", props.memberHcloudToken),
      // No key: null, and Terraform's connection asks the SSH agent.
      sshPrivateKey: props.sshPrivateKey === undefined ? "null" : input("ssh_private_key", props.sshPrivateKey),
      network,
    });
    const elements = addConfiguration(this, config.configuration);
    const element = (address: string): TerraformResource | TerraformDataSource => {
      const found = elements.get(address);
      if (!found) throw new Error(`natgw bug: no element ${address}`);
      return found;
    };
    const attribute = (attributeAddress: string): string => {
      const dot = attributeAddress.lastIndexOf(".");
      return element(attributeAddress.slice(0, dot)).getStringAttribute(attributeAddress.slice(dot + 1));
    };

    this.networkId = given !== undefined ? String(given) : attribute(objects.networkId);
    this.egressIps = objects.egressIPs.map((egress) => ({ name: egress.name, id: attribute(egress.id), address: attribute(egress.address) }));
    this.members = objects.members.map(({ name, privateIp, server, hostKey }) => ({
      name,
      privateIp,
      serverId: attribute(server.attributeAddress("id")),
      ipv4Address: attribute(server.attributeAddress("ipv4_address")),
      ipv6Address: attribute(server.attributeAddress("ipv6_address")),
      hostKey: attribute(hostKey.attributeAddress("public_key_openssh")),
    }));
    this.routes = objects.routes.map(({ destination, route }) => ({ destination, id: attribute(route.attributeAddress("id")) }));
  }

  /** An egress IP by its name in the spec. */
  egressIp(name: string): NatGatewayEgressIp {
    const found = this.egressIps.find((egress) => egress.name === name);
    if (!found) throw new Error(`natgw: ${this.gateway.name} has no egress IP ${JSON.stringify(name)} (it has ${this.egressIps.map((e) => e.name).join(", ")})`);
    return found;
  }
}

export function resolveSpec(spec: NatGatewaySpec | GatewayModel, preferred: string): { gateway: GatewayModel; hosts: Map<string, MemberHost> } {
  if (isModel(spec)) return { gateway: spec, hosts: hostsOf(spec) };
  return gatewayFromSpec(spec, preferred);
}

function isModel(spec: NatGatewaySpec | GatewayModel): spec is GatewayModel {
  return "members" in spec && "egressIPs" in spec;
}
