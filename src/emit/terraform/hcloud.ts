import {
  Lazy,
  TerraformDataSource,
  TerraformProvider,
  TerraformResource,
  type IResolvable,
  type TerraformMetaArguments,
} from "cdktf";
import type { Construct } from "constructs";

/**
 * The part of the hetznercloud/hcloud provider (v1.68) that natgw uses, typed.
 * No bindings are published for it (`@cdktf/provider-hcloud` is not on npm), so
 * each class names its Terraform type and writes its arguments under the exact
 * names of the provider's schema; the contract test checks every emitted
 * attribute and block against that schema. Properties are camelCase, as in
 * cdktf's generated bindings; numbers that come from other resources are passed
 * as `Token.asNumber(...)`.
 */

export const HCLOUD_PROVIDER_SOURCE = "hetznercloud/hcloud";
export const HCLOUD_PROVIDER_VERSION = "~> 1.68";

/**
 * A map whose keys must reach the JSON unchanged. cdktf turns every key of a
 * synthesized attribute into snake_case (`natgw.dev/gateway` would become
 * `natgw_dev_gateway`) unless the value is resolvable, so labels and other
 * user-keyed maps are handed over as a lazy value.
 */
export function verbatim<T>(value: T): IResolvable {
  return Lazy.anyValue({ produce: () => value });
}

/** Drops unset arguments, so the JSON holds only what the stack chose. */
export function defined(attributes: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attributes).filter(([, value]) => value !== undefined));
}

type Labels = Readonly<Record<string, string>>;

export interface HcloudProviderConfig {
  readonly token?: string;
  readonly pollInterval?: string;
}

export class HcloudProvider extends TerraformProvider {
  constructor(scope: Construct, id: string, private readonly config: HcloudProviderConfig) {
    super(scope, id, {
      terraformResourceType: "hcloud",
      terraformProviderSource: HCLOUD_PROVIDER_SOURCE,
      terraformGeneratorMetadata: { providerName: "hcloud", providerVersionConstraint: HCLOUD_PROVIDER_VERSION },
    });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return defined({ token: this.config.token, poll_interval: this.config.pollInterval });
  }
}

/** A resource of the provider: its type, its arguments in schema names, and typed getters. */
abstract class HcloudResource extends TerraformResource {
  constructor(scope: Construct, id: string, type: string, private readonly attributes: Record<string, unknown>, meta: TerraformMetaArguments) {
    super(scope, id, { ...meta, terraformResourceType: type, terraformGeneratorMetadata: { providerName: "hcloud" } });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return defined(this.attributes);
  }

  /** The implicit `id`: a string holding a number for the SDKv2 resources natgw uses. */
  get id(): string {
    return this.getStringAttribute("id");
  }
}

abstract class HcloudDataSource extends TerraformDataSource {
  constructor(scope: Construct, id: string, type: string, private readonly attributes: Record<string, unknown>, meta: TerraformMetaArguments) {
    super(scope, id, { ...meta, terraformResourceType: type, terraformGeneratorMetadata: { providerName: "hcloud" } });
  }

  protected override synthesizeAttributes(): Record<string, unknown> {
    return defined(this.attributes);
  }

  get id(): number {
    return this.getNumberAttribute("id");
  }
}

export interface NetworkConfig extends TerraformMetaArguments {
  readonly name: string;
  readonly ipRange: string;
  readonly labels?: Labels;
}

export class Network extends HcloudResource {
  constructor(scope: Construct, id: string, config: NetworkConfig) {
    super(scope, id, "hcloud_network", { name: config.name, ip_range: config.ipRange, labels: config.labels && verbatim(config.labels) }, config);
  }
}

export interface NetworkSubnetConfig extends TerraformMetaArguments {
  readonly networkId: number;
  readonly type: "cloud" | "server" | "vswitch";
  readonly networkZone: string;
  readonly ipRange: string;
}

export class NetworkSubnet extends HcloudResource {
  constructor(scope: Construct, id: string, config: NetworkSubnetConfig) {
    super(
      scope,
      id,
      "hcloud_network_subnet",
      { network_id: config.networkId, type: config.type, network_zone: config.networkZone, ip_range: config.ipRange },
      config,
    );
  }
}

export interface NetworkRouteConfig extends TerraformMetaArguments {
  readonly networkId: number;
  readonly destination: string;
  readonly gateway: string;
}

export class NetworkRoute extends HcloudResource {
  constructor(scope: Construct, id: string, config: NetworkRouteConfig) {
    super(scope, id, "hcloud_network_route", { network_id: config.networkId, destination: config.destination, gateway: config.gateway }, config);
  }

  get gateway(): string {
    return this.getStringAttribute("gateway");
  }
}

export interface PlacementGroupConfig extends TerraformMetaArguments {
  readonly name: string;
  readonly type: "spread";
  readonly labels?: Labels;
}

export class PlacementGroup extends HcloudResource {
  constructor(scope: Construct, id: string, config: PlacementGroupConfig) {
    super(scope, id, "hcloud_placement_group", { name: config.name, type: config.type, labels: config.labels && verbatim(config.labels) }, config);
  }
}

/** Block `network` of hcloud_server (nesting set). */
export interface ServerNetwork {
  readonly networkId: number;
  readonly ip: string;
  readonly aliasIps: readonly string[];
}

/** Block `public_net` of hcloud_server (nesting set). */
export interface ServerPublicNet {
  readonly ipv4Enabled: boolean;
  readonly ipv6Enabled: boolean;
}

export interface ServerConfig extends TerraformMetaArguments {
  readonly name: string;
  readonly serverType: string;
  readonly image: string;
  readonly location: string;
  readonly labels?: Labels;
  readonly sshKeys?: readonly string[];
  readonly userData?: string;
  readonly placementGroupId?: number;
  readonly network?: readonly ServerNetwork[];
  readonly publicNet?: readonly ServerPublicNet[];
}

export class Server extends HcloudResource {
  constructor(scope: Construct, id: string, config: ServerConfig) {
    super(
      scope,
      id,
      "hcloud_server",
      {
        name: config.name,
        server_type: config.serverType,
        image: config.image,
        location: config.location,
        labels: config.labels && verbatim(config.labels),
        ssh_keys: config.sshKeys,
        user_data: config.userData,
        placement_group_id: config.placementGroupId,
        network: config.network?.map((network) => ({ network_id: network.networkId, ip: network.ip, alias_ips: network.aliasIps })),
        public_net: config.publicNet?.map((net) => ({ ipv4_enabled: net.ipv4Enabled, ipv6_enabled: net.ipv6Enabled })),
      },
      config,
    );
  }

  get ipv4Address(): string {
    return this.getStringAttribute("ipv4_address");
  }

  get ipv6Address(): string {
    return this.getStringAttribute("ipv6_address");
  }
}

export interface FloatingIpConfig extends TerraformMetaArguments {
  readonly type: "ipv4" | "ipv6";
  readonly name?: string;
  readonly description?: string;
  readonly homeLocation: string;
  readonly labels?: Labels;
  /** Hetzner refuses to delete the floating IP while this is true (provider default false). */
  readonly deleteProtection?: boolean;
}

export class FloatingIp extends HcloudResource {
  constructor(scope: Construct, id: string, config: FloatingIpConfig) {
    super(
      scope,
      id,
      "hcloud_floating_ip",
      {
        type: config.type,
        name: config.name,
        description: config.description,
        home_location: config.homeLocation,
        labels: config.labels && verbatim(config.labels),
        delete_protection: config.deleteProtection,
      },
      config,
    );
  }

  get ipAddress(): string {
    return this.getStringAttribute("ip_address");
  }
}

export interface FloatingIpAssignmentConfig extends TerraformMetaArguments {
  readonly floatingIpId: number;
  readonly serverId: number;
}

export class FloatingIpAssignment extends HcloudResource {
  constructor(scope: Construct, id: string, config: FloatingIpAssignmentConfig) {
    super(scope, id, "hcloud_floating_ip_assignment", { floating_ip_id: config.floatingIpId, server_id: config.serverId }, config);
  }
}

/** Data source hcloud_network: an existing network, by id or by name. */
export interface DataNetworkConfig extends TerraformMetaArguments {
  readonly id?: number;
  readonly name?: string;
}

export class DataNetwork extends HcloudDataSource {
  constructor(scope: Construct, id: string, config: DataNetworkConfig) {
    super(scope, id, "hcloud_network", { id: config.id, name: config.name }, config);
  }
}

/** Data source hcloud_floating_ip: an existing floating IP, by id. */
export interface DataFloatingIpConfig extends TerraformMetaArguments {
  readonly id: number;
}

export class DataFloatingIp extends HcloudDataSource {
  constructor(scope: Construct, id: string, config: DataFloatingIpConfig) {
    super(scope, id, "hcloud_floating_ip", { id: config.id }, config);
  }

  get ipAddress(): string {
    return this.getStringAttribute("ip_address");
  }
}
