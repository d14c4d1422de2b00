// Generated from schema/natgw.schema.json by `npm run generate`. Do not edit: change the schema.
// Over 300 lines as the schema is: one type per definition, each with the schema's own description.

/**
 * One document of a natgw spec: a NatGateway (the gateway hosts, their network, egress IPs and routes) or an EgressNATPolicy (which sources reach which destinations through which egress IP).
 */
export type SpecDocument = {
  apiVersion: ApiVersion;
  /**
   * What this document declares.
   */
  kind: "NatGateway" | "EgressNATPolicy";
};
/**
 * The version of the natgw spec this document is written against.
 */
export type ApiVersion = "natgw.dev/v1alpha1";
/**
 * A DNS label as RFC 1035 writes host names: 1 to 63 lowercase letters, digits and `-`, beginning with a letter and ending with a letter or digit.
 */
export type DnsLabel = string;
/**
 * The ID of a Hetzner Cloud resource: a positive integer of at most 2^53-1 (9007199254740991), the largest that JSON readers such as JavaScript hold exactly. Hetzner Cloud IDs use at most 52 bits (announced in the API changelog for September 2023), so every real ID fits; a larger number is a typo, and would reach Terraform as a different ID.
 */
export type HetznerID = number;
/**
 * An IPv4 network in CIDR notation, address/prefix length.
 */
export type IPv4CIDR = string;
/**
 * An IPv4 address in dotted-quad notation.
 */
export type IPv4Address = string;

/**
 * An egress NAT gateway: one member (Single) or two (HA) on a Hetzner Cloud private network, with floating egress IPs and the network routes that send workers' traffic to the active member.
 */
export interface NatGateway {
  apiVersion: ApiVersion;
  /**
   * Declares a NAT gateway.
   */
  kind: "NatGateway";
  metadata: GatewayMetadata;
  spec: NatGatewaySpec;
}
/**
 * The gateway's name and labels.
 */
export interface GatewayMetadata {
  name: DnsLabel;
  labels?: Labels;
}
/**
 * Labels copied to every Hetzner resource of the gateway. Keys and values follow Hetzner's label rules: a key is an optional DNS-subdomain prefix and `/`, then a name of 1 to 63 characters; a value has 0 to 63 characters; names and values use letters, digits, `-`, `_` and `.` and begin and end with a letter or digit. The prefix `natgw.dev/` is reserved for natgw's own labels.
 */
export interface Labels {
  [k: string]: string;
}
/**
 * What the gateway is, where it runs and what it forwards.
 */
export interface NatGatewaySpec {
  /**
   * The Hetzner Cloud location of the members and floating IPs. It must lie in the network zone of `network.zone`.
   */
  location: "fsn1" | "nbg1" | "hel1" | "ash" | "hil" | "sin";
  network: Network;
  cluster?: Cluster;
  highAvailability?: HighAvailability;
  members: Members;
  /**
   * Floating IPv4 addresses the gateway SNATs to, in order. The first is the default egress IP for all sources; EgressNATPolicies send chosen traffic out of the others. With `portsPerSource`, egress IPs that no policy names also take the sources that no longer fit on the first. Each is created, or an existing one is attached by `floatingIPId`.
   *
   * @minItems 1
   * @maxItems 256
   */
  egressIPs?: [EgressIP, ...EgressIP[]];
  ipv6?: IPv6;
  /**
   * Destinations of the network routes pointed at the active member. Hetzner accepts `0.0.0.0/0` or RFC 1918 destinations that overlap no subnet; routes of all gateways on one network must not overlap.
   *
   * @minItems 1
   */
  routes?: [IPv4CIDR, ...IPv4CIDR[]];
  /**
   * Private networks allowed to egress through the gateway; traffic from elsewhere is not forwarded. Each must lie inside `network.ipRange`. Default: `network.ipRange`.
   *
   * @minItems 1
   */
  sources?: [IPv4CIDR, ...IPv4CIDR[]];
  /**
   * Gives every source IP a fixed, non-overlapping block of this many SNAT ports on each egress IP that serves it, from the range 1024-65535 (64,512 ports, so one egress IP holds 64,512 / portsPerSource sources). A power of two from 8 to 32,768, so blocks tile the range. Without it, ports are shared by all sources.
   */
  portsPerSource?: 8 | 16 | 32 | 64 | 128 | 256 | 512 | 1024 | 2048 | 4096 | 8192 | 16384 | 32768;
  security?: Security;
  metrics?: Metrics;
  natLogging?: NatLogging;
}
/**
 * The Hetzner Cloud private network the members attach to: an existing one by `id` or `name`, or one natgw creates (`create: true`, optionally named by `name`).
 */
export interface Network {
  id?: HetznerID;
  /**
   * The name of an existing network, or with `create: true` the name of the network to create (default: `<gateway>-network`).
   */
  name?: string;
  /**
   * Create the network and its subnet instead of using an existing one.
   */
  create?: boolean;
  ipRange: IPv4CIDR;
  subnet: IPv4CIDR;
  /**
   * The network zone of the subnet. Default: the zone of `location` (eu-central for fsn1, nbg1 and hel1; us-east for ash; us-west for hil; ap-southeast for sin).
   */
  zone?: "eu-central" | "us-east" | "us-west" | "ap-southeast";
}
/**
 * What the cluster behind the gateway must satisfy. natgw checks these and changes nothing in the cluster.
 */
export interface Cluster {
  /**
   * The workers are attached to the private network. Must be true: the gateway only forwards traffic that arrives over the private network.
   */
  privateNetworking?: boolean;
  /**
   * The cluster runs its own host firewall on the workers. Must be false: a host firewall and a NAT gateway are separate operating modes.
   */
  hostFirewall?: boolean;
  /**
   * How the cluster's API is reached.
   */
  controlPlane?: {
    /**
     * The cluster API is reachable only over the private network. Must be false: not supported with a NAT gateway.
     */
    privateOnly?: boolean;
  };
  /**
   * Networks allowed to reach the cluster API. Workers reach it from the egress IPs, so these must include them; natgw warns about each egress IP whose address it cannot show to be inside. Empty means the API is open to all.
   */
  apiAllowedNetworks?: IPv4CIDR[];
}
/**
 * HA runs two members: the active one owns the routes and floating IPs, the standby takes over on failure (keepalived VRRP over the private network). Single runs one member.
 */
export interface HighAvailability {
  /**
   * Two members with failover (true) or one member (false).
   */
  enabled?: boolean;
  /**
   * Seconds between VRRP adverts of the active member, in hundredths (VRRPv3). The standby takes over after about 3 adverts are missed, so 0.5 s detects a dead member in about 1.6 s; longer intervals ride out short network hiccups at the cost of slower failover.
   */
  advertIntervalSeconds?: number;
  /**
   * Let member 1 take the active role back when it returns. Off by default: every takeover moves the floating IPs and routes, so one failover is better than two.
   */
  preempt?: boolean;
}
/**
 * The gateway hosts (two in HA, one in Single) and how Terraform's push reaches them over SSH.
 */
export interface Members {
  /**
   * The Hetzner Cloud server type of each member.
   */
  serverType?: string;
  /**
   * The operating system image of each member. natgw's host files target Debian (systemd, nftables, keepalived from Debian's packages).
   */
  image?: "debian-12" | "debian-13";
  /**
   * The members' addresses in `network.subnet`, one per member, in member order. Default: the highest free addresses of the subnet, which Hetzner hands out last when it assigns addresses itself.
   *
   * @minItems 1
   * @maxItems 2
   */
  privateIPs?: [IPv4Address] | [IPv4Address, IPv4Address];
  /**
   * Names of Hetzner Cloud SSH keys installed for root on each member; at least one. Terraform pushes the configuration and the API token to the members over SSH as root with one of these keys, so without one the members can never be configured.
   *
   * @minItems 1
   */
  sshKeys: [string, ...string[]];
  bastion?: Bastion;
}
/**
 * A jump host that Terraform's push goes through to reach the members over SSH, for pipelines whose address changes (CI runners) and so cannot be listed in `security.sshAllowedCIDRs`. The bastion's own address is listed there instead: its private address with `target: private`, its public one with `target: public`. Terraform logs in to the bastion and only forwards the SSH connection to each member through it, so the members' host keys are checked as without a bastion.
 */
export interface Bastion {
  /**
   * The bastion's address as Terraform's SSH connection reaches it: a host name (RFC 1123: labels of letters, digits and `-` joined by dots, the last label not all digits, at most 253 characters) or an IPv4 or IPv6 address, written without brackets, user or port.
   */
  host: string;
  /**
   * The Unix user Terraform logs in as on the bastion: 1 to 32 lowercase letters, digits, `_` and `-`, beginning with a letter or `_`.
   */
  user?: string;
  /**
   * The TCP port of the bastion's SSH server.
   */
  port?: number;
  /**
   * The bastion's SSH public host key, as in authorized_keys or the bastion's `/etc/ssh/ssh_host_ed25519_key.pub`: the key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ecdsa-sha2-nistp384`, `ecdsa-sha2-nistp521` or `ssh-rsa`), a space, the base64 key, and optionally a space and a comment of letters, digits and `-_.@:+=/,()`. Terraform then connects only to a bastion that holds this key. Without it, Terraform does not verify the bastion's host key, and natgw warns.
   */
  hostKey?: string;
  /**
   * Which address of each member the push reaches through the bastion: `private`, the member's private IP, for a bastion attached to the same Hetzner network (its private address must be in `security.sshAllowedCIDRs`); or `public`, the member's public IPv4 (the bastion's public address must be in `security.sshAllowedCIDRs`).
   */
  target?: "private" | "public";
}
/**
 * A floating IPv4 the gateway SNATs to.
 */
export interface EgressIP {
  name: DnsLabel;
  floatingIPId?: HetznerID;
  /**
   * Protect the floating IP natgw creates: Hetzner refuses to delete it, and Terraform refuses to destroy it (`prevent_destroy`). On by default because partners allowlist the address, and a deleted floating IP goes back to Hetzner's pool: a rename or `terraform destroy` would lose it, and a new one has another address. Set false only for a throwaway gateway. Not for an existing floating IP (`floatingIPId`), whose protection is set in Hetzner.
   */
  deleteProtection?: boolean;
}
/**
 * Public IPv6 on the members themselves. Workload egress stays IPv4: Hetzner private networks are IPv4-only.
 */
export interface IPv6 {
  /**
   * Give each member a public IPv6 address.
   */
  enabled?: boolean;
}
/**
 * Security defaults. Forwarded traffic to 169.254.169.254 is always dropped, and the metrics endpoint always listens on the private IP only.
 */
export interface Security {
  /**
   * Drop forwarded outbound TCP to port 25.
   */
  blockSMTP25?: boolean;
  /**
   * Networks allowed to reach SSH on the members, from their first boot on. Terraform pushes the configuration and the API token over SSH, so include the address your pipeline runs from, or with `members.bastion` the bastion's address; an empty list is an error, since the members could never be configured.
   */
  sshAllowedCIDRs?: IPv4CIDR[];
}
/**
 * The members' metrics endpoint, on their private IP only.
 */
export interface Metrics {
  /**
   * Serve metrics on the private IP.
   */
  enabled?: boolean;
  /**
   * The TCP port of the metrics endpoint.
   */
  port?: number;
}
/**
 * Each member logs new translations (source, destination, egress IP and port, policy) and NAT failures (no free port on an egress IP, a full conntrack table) to the journal, as `natgw-natlog.service`. Off by default. Translations are sampled and rate limited; a summary line counts what was left out.
 */
export interface NatLogging {
  /**
   * Log new translations and NAT failures to the journal.
   */
  enabled?: boolean;
  /**
   * Log one new translation in this many (1: every one). Failures are always logged.
   */
  sampleOneIn?: number;
  /**
   * At most this many translation lines a second on each member, with a burst of one second's worth; a summary every 10 seconds counts the rest.
   */
  maxPerSecond?: number;
}
/**
 * The policy's name and labels.
 */
export interface PolicyMetadata {
  name: DnsLabel;
  labels?: Labels;
}
/**
 * Traffic from `sources` to `destinations` leaves through the named egress IP of the referenced gateway, for example so that a partner can allowlist it.
 */
export interface EgressNATPolicy {
  apiVersion: ApiVersion;
  /**
   * Declares an egress NAT policy.
   */
  kind: "EgressNATPolicy";
  metadata: PolicyMetadata;
  spec: EgressNATPolicySpec;
}
/**
 * Which traffic the policy matches and where it leaves.
 */
export interface EgressNATPolicySpec {
  /**
   * Private networks the policy applies to; each must lie inside the gateway's `sources`.
   *
   * @minItems 1
   */
  sources: [CIDRSelector, ...CIDRSelector[]];
  /**
   * Public destinations the policy applies to; a route of the gateway must cover each.
   *
   * @minItems 1
   */
  destinations: [CIDRSelector, ...CIDRSelector[]];
  /**
   * What to do with matching traffic: SNAT it to `egressIP`.
   */
  action?: "SNAT";
  /**
   * The NatGateway this policy applies to.
   */
  gatewayRef: {
    name: DnsLabel;
  };
  egressIP?: DnsLabel;
}
/**
 * An IPv4 network.
 */
export interface CIDRSelector {
  cidr: IPv4CIDR;
}
