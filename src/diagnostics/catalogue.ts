import { FIRST_SNAT_PORT, LAST_SNAT_PORT } from "../resolve/hetzner.js";
import type { HostKeyMistake, HostKeyProblem } from "../resolve/ssh.js";
import type { Diagnostic, Severity, SourceLocation } from "./diagnostic.js";
import { oneOf, quote } from "./quote.js";

/**
 * Every message natgw can say about a spec, with its code. A message says what was
 * found and what is allowed; the hint says how to fix it. Codes are stable: 0xx
 * files and syntax, 1xx schema, 2xx names and references, 3xx network and
 * addresses, 4xx routes, 5xx policies, 6xx port blocks, 7xx cluster requirements,
 * 8xx host artifacts.
 *
 * One file, longer than 300 lines: the catalogue is one table, so that every code
 * is assigned once, in order, and a reader finds every message natgw can print
 * in one place; split by area, the code ranges would scatter.
 */
interface Entry<A> {
  readonly code: string;
  readonly severity: Severity;
  readonly render: (args: A) => string | readonly [message: string, hint: string | undefined];
}

function entry<A = Record<string, never>>(
  code: string,
  severity: Severity,
  render: Entry<A>["render"],
): Entry<A> {
  return { code, severity, render };
}

export const catalogue = {
  // 0xx: files and syntax
  fileUnreadable: entry<{ reason: string }>("NATGW001", "error", (a) => [
    `cannot read the file: ${a.reason}`,
    "check the path and its permissions",
  ]),
  fileTooLarge: entry<{ bytes: string; limit: string }>("NATGW002", "error", (a) => [
    `the file has ${a.bytes} bytes; natgw reads spec files of at most ${a.limit} bytes`,
    "split the spec into several files",
  ]),
  fileEmpty: entry("NATGW003", "error", () => [
    "the file holds no document",
    "a spec file holds at least one NatGateway or EgressNATPolicy document",
  ]),
  yamlSyntax: entry<{ detail: string }>("NATGW004", "error", (a) => `YAML syntax error: ${a.detail}`),
  jsonSyntax: entry<{ detail: string }>("NATGW005", "error", (a) => `JSON syntax error: ${a.detail}`),
  duplicateKey: entry<{ key: string }>("NATGW006", "error", (a) => [
    `the key ${a.key} appears twice in the same mapping`,
    "remove one of them: YAML keeps only one and natgw will not guess which",
  ]),
  aliasBomb: entry<{ limit: number }>("NATGW007", "error", (a) => [
    `the document expands more than ${a.limit} aliases, which is how an alias bomb exhausts memory`,
    "write the values out, or use fewer `*alias` references",
  ]),
  notAMapping: entry<{ found: string }>("NATGW008", "error", (a) => [
    `a document must be a mapping with apiVersion, kind, metadata and spec; found ${a.found}`,
    "start the document with `apiVersion: natgw.dev/v1alpha1`",
  ]),
  missingApiVersion: entry("NATGW009", "error", () => [
    "the document has no apiVersion",
    "add `apiVersion: natgw.dev/v1alpha1`",
  ]),
  unknownApiVersion: entry<{ found: string }>("NATGW010", "error", (a) => [
    `unknown apiVersion ${a.found}; natgw reads natgw.dev/v1alpha1`,
    "set `apiVersion: natgw.dev/v1alpha1`",
  ]),
  missingKind: entry("NATGW011", "error", () => [
    "the document has no kind",
    "add `kind: NatGateway` or `kind: EgressNATPolicy`",
  ]),
  unknownKind: entry<{ found: string; suggestion?: string }>("NATGW012", "error", (a) => [
    `unknown kind ${a.found}; natgw knows NatGateway and EgressNATPolicy`,
    a.suggestion ? `did you mean \`${a.suggestion}\`?` : undefined,
  ]),
  yamlWarning: entry<{ detail: string }>("NATGW013", "warning", (a) => `YAML: ${a.detail}`),
  nestingTooDeep: entry<{ limit: number }>("NATGW014", "error", (a) => [
    `the document nests lists and mappings more than ${a.limit} levels deep here; a natgw spec needs about 6, and natgw refuses deeper documents before reading them`,
    "close the brackets or remove the indentation that opens this level; a generated file may have gone wrong",
  ]),

  // 1xx: schema
  missingField: entry<{ field: string; parent: string; example?: string }>("NATGW101", "error", (a) => [
    `${a.parent} is missing the required field \`${a.field}\``,
    a.example ? `add it, for example \`${a.field}: ${a.example}\`` : `add \`${a.field}\``,
  ]),
  unknownField: entry<{ field: string; parent: string; suggestion?: string; allowed: string }>(
    "NATGW102",
    "error",
    (a) => [
      `unknown field ${a.field} in ${a.parent}`,
      a.suggestion ? `did you mean \`${a.suggestion}\`?` : `allowed fields: ${a.allowed}`,
    ],
  ),
  wrongType: entry<{ field: string; expected: string; found: string; example?: string }>("NATGW103", "error", (a) => [
    `${a.field} must be ${a.expected}; found ${a.found}`,
    a.example ? `for example ${a.example}` : undefined,
  ]),
  notAllowedValue: entry<{ field: string; allowed: string; found: string; suggestion?: string }>(
    "NATGW104",
    "error",
    (a) => [
      `${a.field} must be one of ${a.allowed}; found ${a.found}`,
      a.suggestion ? `did you mean \`${a.suggestion}\`?` : undefined,
    ],
  ),
  badCidr: entry<{ field: string; found: string; suggestion?: string }>("NATGW105", "error", (a) => [
    `${a.field} must be an IPv4 network in CIDR notation (address/prefix length); found ${a.found}`,
    a.suggestion ? `did you mean \`${a.suggestion}\`?` : "for example `10.0.0.0/16`",
  ]),
  badAddress: entry<{ field: string; found: string; suggestion?: string }>("NATGW106", "error", (a) => [
    `${a.field} must be an IPv4 address; found ${a.found}`,
    a.suggestion ? `did you mean \`${a.suggestion}\`?` : "for example `10.0.1.2`",
  ]),
  ipv6NotSupported: entry<{ field: string; found: string }>("NATGW107", "error", (a) => [
    `${a.field} is the IPv6 network ${a.found}, but Hetzner Cloud private networks are IPv4-only, so workloads cannot egress over IPv6 through a gateway`,
    "use an IPv4 network; `ipv6.enabled` gives the members themselves public IPv6",
  ]),
  badName: entry<{ field: string; found: string; rule: string; suggestion?: string }>("NATGW108", "error", (a) => [
    `${a.field} must be ${a.rule}; found ${a.found}`,
    a.suggestion ? `did you mean \`${a.suggestion}\`?` : undefined,
  ]),
  badLabelKey: entry<{ found: string }>("NATGW109", "error", (a) => [
    `label key ${a.found} breaks Hetzner's label rules: an optional DNS-subdomain prefix and \`/\`, then 1 to 63 letters, digits, \`-\`, \`_\` or \`.\`, beginning and ending with a letter or digit`,
    "for example `team` or `example.com/team`",
  ]),
  badLabelValue: entry<{ key: string; found: string }>("NATGW110", "error", (a) => [
    `the value of label ${a.key} breaks Hetzner's label rules: at most 63 letters, digits, \`-\`, \`_\` or \`.\`, beginning and ending with a letter or digit; found ${a.found}`,
    "for example `platform`",
  ]),
  outOfRange: entry<{ field: string; rule: string; found: string }>("NATGW111", "error", (a) => [
    `${a.field} must be ${a.rule}; found ${a.found}`,
    undefined,
  ]),
  badPortsPerSource: entry<{ found: string; suggestion?: string }>("NATGW112", "error", (a) => [
    `spec.portsPerSource must be a power of two from 8 to 32,768, so that port blocks tile the range ${FIRST_SNAT_PORT}-${LAST_SNAT_PORT}; found ${a.found}`,
    a.suggestion ? `did you mean \`${a.suggestion}\`?` : undefined,
  ]),
  listLength: entry<{ field: string; rule: string; found: number }>("NATGW113", "error", (a) => [
    `${a.field} must have ${a.rule}; found ${a.found}`,
    undefined,
  ]),
  duplicateItem: entry<{ field: string; found: string }>("NATGW114", "error", (a) => [
    `${a.field} lists ${a.found} twice`,
    "remove the repeated entry",
  ]),
  advertIntervalPrecision: entry<{ found: number }>("NATGW115", "error", (a) => [
    `spec.highAvailability.advertIntervalSeconds is counted in hundredths of a second (VRRPv3); found ${a.found}`,
    `use ${Math.round(a.found * 100) / 100}`,
  ]),
  noSshKey: entry<{ found: string }>("NATGW116", "error", (a) => [
    `spec.members.sshKeys must name at least one Hetzner Cloud SSH key; found ${a.found}. Terraform pushes the configuration and the API token to the members over SSH as root with one of these keys, so without one the members can never be configured`,
    "add the name of an SSH key of the project, for example `members: { sshKeys: [ops] }`, and give Terraform its private key",
  ]),
  idTooLarge: entry<{ field: string; found: string; limit: string }>("NATGW117", "error", (a) => [
    `${a.field} is ${a.found}, too large for a Hetzner Cloud ID: IDs are integers of at most ${a.limit} (2^53-1), the largest that JSON readers such as JavaScript hold exactly; a larger number would reach Terraform as a different ID`,
    "copy the ID again from the Hetzner Cloud console or `hcloud` (`hcloud network list`, `hcloud floating-ip list`)",
  ]),
  badBastionHost: entry<{ found: string; host?: string; user?: string; port?: number }>("NATGW118", "error", (a) => [
    `spec.members.bastion.host must be a host name (RFC 1123: labels of letters, digits and \`-\` joined by dots, the last not all digits) or an IPv4 or IPv6 address, written without brackets, user or port, as Terraform's SSH connection takes it; found ${a.found}`,
    a.host !== undefined
      ? `did you mean \`host: ${a.host}\`${withFields({ user: a.user, port: a.port })}?`
      : "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`",
  ]),
  badHostKey: entry<{ found: string; types: string; mistake?: HostKeyMistake }>("NATGW119", "error", (a) => [
    `spec.members.bastion.hostKey must be an SSH public key as authorized_keys writes it: the key type (${a.types}), a space, the base64 key, and optionally a space and a comment of letters, digits and \`-_.@:+=/,()\`; found ${a.found}`,
    a.mistake?.kind === "knownHosts"
      ? `remove the first word, ${quote(a.mistake.hostName)}: a line from known_hosts or ssh-keyscan names the host before the key`
      : a.mistake?.kind === "space"
        ? "write the key on one line, with one space between its parts and none around it (in YAML, `hostKey: ssh-ed25519 AAAA…` rather than a block with `|`)"
        : a.mistake?.kind === "comment"
          ? "leave out the comment after the key; it only names the key"
          : "copy the line from the bastion's /etc/ssh/ssh_host_ed25519_key.pub, or from `ssh-keyscan -t ed25519 <host>` without the host name at its start",
  ]),
  hostKeyData: entry<{ type: string; found: string; problem: HostKeyProblem }>("NATGW120", "error", (a) =>
    a.problem.kind === "type"
      ? [
          `the base64 key of spec.members.bastion.hostKey holds a key of type ${quote(a.problem.inner)}, but the line says ${a.type}; found ${a.found}`,
          "copy the whole line again from the bastion's /etc/ssh/ssh_host_*_key.pub, type and key together",
        ]
      : [
          a.problem.kind === "base64"
            ? `the key of spec.members.bastion.hostKey is not valid base64 (letters, digits, \`+\` and \`/\`, padded with \`=\` to a multiple of 4 characters); found ${a.found}`
            : `the base64 key of spec.members.bastion.hostKey does not hold a whole ${a.type} key: it is cut short or has bytes too many; found ${a.found}`,
          "copy the whole line again from the bastion's /etc/ssh/ssh_host_*_key.pub",
        ],
  ),
  schemaOther: entry<{ field: string; detail: string }>("NATGW199", "error", (a) => `${a.field} ${a.detail}`),

  // 2xx: names and references
  duplicateName: entry<{ kind: string; name: string; first: string }>("NATGW201", "error", (a) => [
    `${a.kind} ${a.name} is declared twice; the first is at ${a.first}`,
    "give each one its own metadata.name",
  ]),
  unknownGateway: entry<{ name: string; known: string; suggestion?: string }>("NATGW202", "error", (a) => [
    `gatewayRef names the NatGateway ${a.name}, which no document declares (declared: ${a.known})`,
    a.suggestion ? `did you mean \`${a.suggestion}\`?` : "declare the gateway, or fix the name",
  ]),
  unknownEgressIP: entry<{ name: string; gateway: string; known: string; suggestion?: string }>(
    "NATGW203",
    "error",
    (a) => [
      `egressIP ${a.name} is not one of the egressIPs of gateway ${a.gateway} (${a.known})`,
      a.suggestion ? `did you mean \`${a.suggestion}\`?` : "add it to the gateway's egressIPs, or fix the name",
    ],
  ),
  duplicateEgressIPName: entry<{ name: string }>("NATGW204", "error", (a) => [
    `two egressIPs are named ${a.name}`,
    "policies refer to egress IPs by name: give each its own",
  ]),
  floatingIPReused: entry<{ id: number; other: string }>("NATGW205", "error", (a) => [
    `floating IP ${a.id} is already used by ${a.other}; a floating IP is routed to one server, so it can serve one gateway`,
    "use another floating IP, or remove it from one gateway",
  ]),
  reservedLabel: entry<{ key: string }>("NATGW206", "error", (a) => [
    `label key ${a.key} uses the prefix natgw.dev/, which natgw reserves for its own labels`,
    "choose another prefix",
  ]),
  unusedEgressIP: entry<{ name: string }>("NATGW207", "warning", (a) => [
    `egress IP ${a.name} carries no traffic: it is not the first egress IP, no EgressNATPolicy names it, and there is no portsPerSource to spread sources onto it`,
    "name it in a policy, or remove it to save its cost",
  ]),
  deleteProtectionOff: entry<{ name: string }>("NATGW208", "warning", (a) => [
    `egress IP ${a.name} turns off delete protection of the floating IP natgw creates for it: renaming it, or \`terraform destroy\`, gives its address back to Hetzner's pool, and partners that allowlisted it lose it; a new floating IP gets another address`,
    "remove `deleteProtection: false` unless this gateway is a throwaway",
  ]),
  deleteProtectionOfExisting: entry<{ name: string; id: string }>("NATGW209", "error", (a) => [
    `egress IP ${a.name} sets deleteProtection, but it uses the existing floating IP ${a.id}, which natgw only looks up and does not manage; the protection of an existing floating IP is set in Hetzner`,
    `remove deleteProtection here, and protect the floating IP in the Hetzner Cloud console, through the API, or with \`hcloud floating-ip enable-protection ${a.id} delete\``,
  ]),

  // 3xx: network and addresses
  hostBitsSet: entry<{ field: string; found: string; network: string }>("NATGW301", "error", (a) => [
    `${a.field} ${a.found} has host bits set, so it is not the address of a network`,
    `did you mean \`${a.network}\`?`,
  ]),
  networkNotPrivate: entry<{ found: string }>("NATGW302", "error", (a) => [
    `spec.network.ipRange ${a.found} is not inside the private ranges Hetzner Cloud networks use (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)`,
    "for example `10.0.0.0/16`",
  ]),
  subnetOutsideRange: entry<{ subnet: string; ipRange: string }>("NATGW303", "error", (a) => [
    `spec.network.subnet ${a.subnet} is not inside spec.network.ipRange ${a.ipRange}`,
    "choose a subnet inside the range",
  ]),
  zoneMismatch: entry<{ zone: string; location: string; expected: string }>("NATGW304", "error", (a) => [
    `spec.network.zone ${a.zone} does not contain location ${a.location}, which is in ${a.expected}`,
    `set \`zone: ${a.expected}\` or leave it out`,
  ]),
  networkIdentity: entry<{ found: string }>("NATGW305", "error", (a) => [
    `network ${a.found}: name an existing network by \`id\` or by \`name\`, or set \`create: true\` (optionally with a \`name\`)`,
    undefined,
  ]),
  networkMismatch: entry<{ network: string; field: string; other: string; value: string; otherValue: string }>(
    "NATGW306",
    "error",
    (a) => [
      `gateway ${a.other} uses the same network ${a.network} with ${a.field} ${a.otherValue}, but this gateway says ${a.value}`,
      "one network has one ip range: make them agree",
    ],
  ),
  networkCreatedTwice: entry<{ network: string; other: string }>("NATGW307", "error", (a) => [
    `network ${a.network} is also created by gateway ${a.other}; a network can be created once`,
    "let one gateway create it and the other refer to it by `name`",
  ]),
  privateIPCount: entry<{ mode: string; expected: number; found: number }>("NATGW308", "error", (a) => [
    `spec.members.privateIPs lists ${a.found} address${a.found === 1 ? "" : "es"}, but ${a.mode} runs ${a.expected} member${a.expected === 1 ? "" : "s"}`,
    `give ${a.expected} address${a.expected === 1 ? "" : "es"}, or leave privateIPs out to have them allocated`,
  ]),
  memberIPOutsideSubnet: entry<{ address: string; subnet: string }>("NATGW309", "error", (a) => [
    `member address ${a.address} is not inside spec.network.subnet ${a.subnet}`,
    "choose an address inside the subnet",
  ]),
  memberIPReserved: entry<{ address: string; reason: string }>("NATGW310", "error", (a) => [
    `member address ${a.address} ${a.reason}`,
    "choose another address in the subnet",
  ]),
  memberIPTaken: entry<{ address: string; other: string }>("NATGW311", "error", (a) => [
    `member address ${a.address} is already given to ${a.other}`,
    "every member on a network needs its own address",
  ]),
  subnetFull: entry<{ subnet: string; needed: number }>("NATGW312", "error", (a) => [
    `spec.network.subnet ${a.subnet} has no room for ${a.needed} more member address${a.needed === 1 ? "" : "es"}`,
    "use a larger subnet, or give members.privateIPs",
  ]),
  sourceOutsideNetwork: entry<{ source: string; ipRange: string }>("NATGW313", "error", (a) => [
    `source ${a.source} is not inside spec.network.ipRange ${a.ipRange}; only hosts on the private network can reach the gateway`,
    "list networks inside the ip range",
  ]),
  subnetOverlap: entry<{ subnet: string; other: string; otherSubnet: string }>("NATGW314", "error", (a) => [
    `spec.network.subnet ${a.subnet} overlaps ${a.otherSubnet}, the subnet of gateway ${a.other} on the same network`,
    "subnets of one network must not overlap: use the same subnet, or one beside it",
  ]),

  // 4xx: routes
  routeNotAllowed: entry<{ route: string }>("NATGW401", "error", (a) => [
    `route ${a.route} is neither 0.0.0.0/0 nor inside RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16); Hetzner Cloud accepts only those as route destinations`,
    "use 0.0.0.0/0 to send all egress through the gateway",
  ]),
  routeOverlapsSubnet: entry<{ route: string; subnet: string; gateway: string }>("NATGW402", "error", (a) => [
    `route ${a.route} overlaps subnet ${a.subnet} (of gateway ${a.gateway}); Hetzner Cloud rejects routes that overlap a subnet`,
    "choose a destination outside the network's subnets",
  ]),
  routeOverlap: entry<{ route: string; other: string; gateway: string; sameGateway: boolean }>("NATGW403", "error", (a) =>
    a.sameGateway
      ? [
          `route ${a.route} overlaps this gateway's route ${a.other}; Hetzner Cloud refuses overlapping routes in one network`,
          "keep the wider route and remove the other",
        ]
      : [
          `route ${a.route} overlaps route ${a.other} of gateway ${a.gateway} on the same network; a network route has one gateway`,
          "give each destination to one gateway",
        ],
  ),
  routeCoversRouter: entry<{ route: string; router: string }>("NATGW405", "error", (a) => [
    `route ${a.route} covers ${a.router}, the network's first address, where Hetzner's router answers; every packet of the network goes through it`,
    "choose a destination that leaves out the router's address",
  ]),
  routePublicGateway: entry<{ route: string }>("NATGW404", "error", (a) => [
    `route ${a.route} covers 172.31.1.1, Hetzner's public gateway, which Hetzner Cloud refuses as a route destination`,
    "choose a destination that leaves out 172.31.1.1",
  ]),

  // 5xx: policies
  policySourceOutside: entry<{ source: string; gateway: string; sources: string }>("NATGW501", "error", (a) => [
    `policy source ${a.source} is not inside the sources of gateway ${a.gateway} (${a.sources}), so its traffic is never forwarded`,
    "narrow the policy source, or widen the gateway's sources",
  ]),
  policyDestinationUnrouted: entry<{ destination: string; gateway: string; routes: string }>(
    "NATGW502",
    "error",
    (a) => [
      `policy destination ${a.destination} is not covered by a route of gateway ${a.gateway} (${a.routes}), so its traffic never reaches the gateway`,
      "add a route that covers it, for example 0.0.0.0/0",
    ],
  ),
  policyDestinationPrivate: entry<{ destination: string; ipRange: string }>("NATGW503", "error", (a) => [
    `policy destination ${a.destination} lies inside the private network ${a.ipRange}; Hetzner delivers that traffic directly and it never reaches the gateway`,
    "use public destinations",
  ]),
  policyConflict: entry<{ policy: string; egressIP: string; other: string; otherEgressIP: string; example: string }>(
    "NATGW504",
    "error",
    (a) => [
      `policy ${a.policy} (egress IP ${a.egressIP}) overlaps policy ${a.other} (egress IP ${a.otherEgressIP}) in both sources and destinations, e.g. ${a.example}: that traffic cannot leave from two egress IPs`,
      "make their sources or destinations disjoint, or name the same egress IP",
    ],
  ),
  policyDestinationLinkLocal: entry<{ destination: string }>("NATGW505", "error", (a) => [
    `policy destination ${a.destination} lies inside 169.254.0.0/16; the gateway always drops forwarded link-local traffic (it would reach the member's own metadata service)`,
    "remove it from the policy",
  ]),

  // 6xx: port blocks
  portsDoNotFit: entry<{ detail: string; fix: string }>("NATGW601", "error", (a) => [a.detail, a.fix]),

  // 7xx: cluster requirements
  privateNetworkingOff: entry("NATGW701", "error", () => [
    "spec.cluster.privateNetworking is false, but workers reach the gateway over the private network; without it nothing can egress through natgw",
    "attach the workers to the network and set `privateNetworking: true`",
  ]),
  hostFirewallOn: entry("NATGW702", "error", () => [
    "spec.cluster.hostFirewall is true; a host firewall and a NAT gateway are separate operating modes and the firewall would drop forwarded egress",
    "turn the host firewall off and set `hostFirewall: false`",
  ]),
  controlPlanePrivateOnly: entry("NATGW703", "error", () => [
    "spec.cluster.controlPlane.privateOnly is true, which natgw does not support: the gateway's routes would also carry the workers' traffic to a control plane reachable only privately",
    "make the control plane reachable publicly and restrict it with apiAllowedNetworks",
  ]),
  egressNotAllowed: entry<{ egressIP: string; networks: string; reason: string }>("NATGW704", "warning", (a) => [
    `egress IP ${a.egressIP} ${a.reason}; natgw cannot show that it lies in spec.cluster.apiAllowedNetworks (${a.networks}), and workers reach the cluster API from it`,
    "after `terraform apply`, add its address (the egressIPs output) to apiAllowedNetworks",
  ]),
  unknownServerType: entry<{ serverType: string; memory: string; conntrackMax: string }>("NATGW706", "warning", (a) => [
    `server type ${a.serverType} is not in natgw's table of Hetzner server types, so its memory is unknown; connection tracking is sized for ${a.memory} (${a.conntrackMax} entries)`,
    "check the type's name; a newer type works, with a table sized for the smallest server",
  ]),
  sshClosed: entry("NATGW705", "error", () => [
    "spec.security.sshAllowedCIDRs is empty, so SSH to the members is closed from their first boot on (the baseline firewall admits SSH only from these networks): `terraform apply` could never push the configuration and the API token, and the members would never forward",
    "add the address your pipeline runs from, for example `sshAllowedCIDRs: [198.51.100.7/32]`",
  ]),
  bastionHostKeyMissing: entry<{ host: string; port: number }>("NATGW707", "warning", (a) => [
    `spec.members.bastion has no hostKey, so Terraform does not verify the bastion's SSH host key and takes whatever answers at ${a.host} port ${a.port} for the bastion; the push still checks each member's own host key through it`,
    "pin the bastion: set `hostKey` to its public host key, the line in the bastion's /etc/ssh/ssh_host_ed25519_key.pub, for example `hostKey: ssh-ed25519 AAAA…`",
  ]),
  bastionPrivateRefused: entry<{ ipRange: string; allowed: string }>("NATGW708", "warning", (a) => [
    `the push reaches the members' private IPs through the bastion (spec.members.bastion.target private, the default), so the members see it come from the bastion's address in ${a.ipRange}, but no entry of spec.security.sshAllowedCIDRs (${a.allowed}) overlaps ${a.ipRange}: the members would refuse it, and the push would end in Terraform's SSH timeout`,
    `add the bastion's private address as a /32, or \`${a.ipRange}\`, to sshAllowedCIDRs; or set \`target: public\` if the bastion is not attached to the network`,
  ]),
  bastionPublicRefused: entry<{ host: string; allowed: string }>("NATGW709", "warning", (a) => [
    `spec.members.bastion.host ${a.host} is not inside spec.security.sshAllowedCIDRs (${a.allowed}); with \`target: public\` the push reaches the members' public IPv4 addresses from the bastion, and the members refuse SSH from anywhere else`,
    `add \`${a.host}/32\` to sshAllowedCIDRs, or the address the bastion connects from if that is another`,
  ]),

  // 8xx: host artifacts
  userDataTooLarge: entry<{ member: string; bytes: string; limit: string; largest: string }>("NATGW801", "error", (a) => [
    `the cloud-init user-data of member ${a.member} is ${a.bytes} bytes even gzipped and base64-encoded as it is sent; Hetzner Cloud accepts at most ${a.limit} bytes (32 KiB) of user_data`,
    `its largest files are ${a.largest}; the user-data holds only natgw's own scripts and units (config.json and the ruleset arrive with Terraform's push), so no spec should get here: please report it`,
  ]),
} as const;

/** " with `user: root` and `port: 2222`": the other fields a suggestion moves a value to. */
function withFields(fields: Readonly<Record<string, string | number | undefined>>): string {
  const given = Object.entries(fields).filter(([, value]) => value !== undefined);
  return given.length === 0 ? "" : ` with ${oneOf(given.map(([name, value]) => `\`${name}: ${value}\``), "and")}`;
}

export type CatalogueEntry = keyof typeof catalogue;
type ArgsOf<K extends CatalogueEntry> = (typeof catalogue)[K] extends Entry<infer A> ? A : never;

export function diagnose<K extends CatalogueEntry>(
  key: K,
  args: ArgsOf<K>,
  location: SourceLocation,
): Diagnostic {
  const item = catalogue[key] as unknown as Entry<ArgsOf<K>>;
  const rendered = item.render(args);
  const [message, hint] = typeof rendered === "string" ? [rendered, undefined] : rendered;
  return {
    code: item.code,
    severity: item.severity,
    message,
    ...(hint ? { hint } : {}),
    file: location.file,
    line: location.line,
    column: location.column,
    pointer: location.pointer,
  };
}
