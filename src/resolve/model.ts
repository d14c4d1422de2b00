/**
 * The resolved model: everything the emitters need, with defaults applied,
 * references followed, addresses and port blocks allocated. Plain JSON data in a
 * stable order (gateways and policies by name, networks numerically), so the
 * same spec always serialises to the same bytes.
 */
export interface Model {
  readonly apiVersion: "natgw.dev/v1alpha1";
  readonly gateways: readonly GatewayModel[];
}

export type Mode = "ha" | "single";

export interface GatewayModel {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly location: string;
  readonly mode: Mode;
  readonly network: NetworkModel;
  readonly members: readonly MemberModel[];
  /** The jump host Terraform's push reaches the members through; null when it connects to them directly. */
  readonly bastion: BastionModel | null;
  readonly egressIPs: readonly EgressIPModel[];
  readonly ipv6: { readonly enabled: boolean };
  /** Network route destinations pointed at the active member, in numeric order. */
  readonly routes: readonly string[];
  /** Networks allowed to egress, in numeric order. */
  readonly sources: readonly string[];
  readonly policies: readonly PolicyModel[];
  /** Fixed SNAT port blocks per source IP, when portsPerSource is set. */
  readonly portBlocks: PortBlocksModel | null;
  readonly security: SecurityModel;
  readonly metrics: { readonly enabled: boolean; readonly port: number };
  /** New translations and NAT failures to each member's journal; translations sampled and rate limited. */
  readonly natLogging: { readonly enabled: boolean; readonly sampleOneIn: number; readonly maxPerSecond: number };
  readonly cluster: { readonly apiAllowedNetworks: readonly string[] };
  /** VRRP between the two members; null in Single mode. */
  readonly vrrp: VrrpModel | null;
  /** Kernel sizing from the members' server type. */
  readonly host: HostModel;
}

export interface VrrpModel {
  /** 1-255, derived from the gateway's name, distinct among the gateways of one network. */
  readonly virtualRouterId: number;
  readonly advertIntervalSeconds: number;
  readonly preempt: boolean;
}

export interface HostModel {
  readonly memoryMiB: number;
  readonly conntrackMax: number;
  readonly conntrackBuckets: number;
}

export interface NetworkModel {
  /** Identifies the network across gateways: "id:4711", "name:k8s". */
  readonly key: string;
  readonly id: number | null;
  readonly name: string | null;
  readonly create: boolean;
  readonly ipRange: string;
  readonly subnet: string;
  readonly zone: string;
  /** The first address of the ip range: Hetzner's router, the workers' default gateway. */
  readonly routerIp: string;
}

export interface MemberModel {
  /** Host and server name, `<gateway>-<n>`. */
  readonly name: string;
  /** 1-based position; member 1 starts active. */
  readonly index: number;
  readonly initialRole: "active" | "standby";
  readonly privateIp: string;
  readonly serverType: string;
  readonly image: string;
  readonly sshKeys: readonly string[];
}

export interface BastionModel {
  /** A host name, IPv4 or IPv6 address, as Terraform's SSH connection reaches the bastion. */
  readonly host: string;
  readonly user: string;
  readonly port: number;
  /** The bastion's public host key in authorized_keys form; null: Terraform does not verify it. */
  readonly hostKey: string | null;
  /** Which address of each member the push goes to from the bastion: its private IP or its public IPv4. */
  readonly target: "private" | "public";
}

export interface EgressIPModel {
  readonly name: string;
  /** An existing floating IP to attach; null when natgw creates it. */
  readonly floatingIPId: number | null;
  /**
   * Whether the floating IP natgw creates is protected against deletion, in
   * Hetzner and in Terraform (`prevent_destroy`); null for an existing one,
   * which natgw only looks up.
   */
  readonly deleteProtection: boolean | null;
  /** The first egress IP: where traffic no policy names leaves. */
  readonly isDefault: boolean;
  /**
   * Carries default traffic: the first egress IP, and with portsPerSource every
   * egress IP no policy names (sources that do not fit on the first spill onto them).
   */
  readonly defaultPool: boolean;
  /** Policies that send traffic out of this egress IP, by name. */
  readonly policies: readonly string[];
}

export interface PolicyModel {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly action: "SNAT";
  readonly egressIP: string;
  readonly sources: readonly string[];
  readonly destinations: readonly string[];
}

export interface PortBlocksModel {
  readonly portsPerSource: number;
  readonly firstPort: number;
  readonly lastPort: number;
  /** How many sources one egress IP holds: floor(64,512 / portsPerSource). */
  readonly blocksPerEgressIP: number;
  /**
   * Consecutive source addresses with consecutive blocks on one egress IP: the
   * address `firstSource + k` owns ports `firstPort + k * portsPerSource` onwards.
   * Compact enough for a /16 of sources, and what a host expands into its SNAT map.
   */
  readonly segments: readonly PortSegmentModel[];
}

export interface PortSegmentModel {
  readonly egressIP: string;
  readonly firstSource: string;
  readonly lastSource: string;
  readonly firstPort: number;
  /** Whether these sources' default traffic leaves here (false: only their policy traffic does). */
  readonly defaultTraffic: boolean;
}

export interface SecurityModel {
  readonly blockSMTP25: boolean;
  readonly sshAllowedCIDRs: readonly string[];
  /** Forwarded traffic to link-local (the metadata service) is always dropped. */
  readonly blockedDestinations: readonly string[];
}
