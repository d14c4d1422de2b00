import type { HostFile } from "./context.js";
import { fileHeader, HOST_PATHS, isHA } from "./context.js";
import { BASELINE_TABLE, NFT_TABLE, RULESET_RUNTIME_PATH } from "./nftables.js";

/**
 * The boot order that keeps a member fail closed:
 *
 *   natgw-baseline.service     `table inet natgw_baseline` before the network: SSH
 *                              from sshAllowedCIDRs, VRRP, metrics; forwards only
 *                              what the main table marked
 *   natgw-ruleset.service      loads `table inet natgw` in one `nft -f` transaction
 *        ^ Requires, After, BindsTo
 *   natgw-forwarding.service   net.ipv4.ip_forward=1 at start, 0 at stop
 *        ^ Requires, After, BindsTo (drop-in, HA only)
 *   keepalived.service         VRRP: only a member that forwards can become MASTER
 *
 * sysctl.d never turns forwarding on, so a ruleset that fails to load leaves the
 * member not forwarding at all, and keepalived (which then cannot start) leaves
 * the active role to the peer. natgw-watchdog.service covers what no unit sees:
 * a table removed by hand or by a flush.
 */
export const UNITS = {
  baseline: "natgw-baseline.service",
  watchdog: "natgw-watchdog.service",
  ruleset: "natgw-ruleset.service",
  forwarding: "natgw-forwarding.service",
  keepalived: "keepalived.service",
  /** Debian's conntrackd, with natgw's drop-in (HA only). */
  conntrackd: "conntrackd.service",
  /** Debian's OpenSSH server. */
  ssh: "ssh.service",
} as const;

/** Debian 12 paths of the tools the units run (merged /usr: /sbin is /usr/sbin). */
export const BINARIES = { nft: "/usr/sbin/nft", sysctl: "/usr/sbin/sysctl", shell: "/bin/sh", nice: "/usr/bin/nice", rm: "/bin/rm", conntrackd: "/usr/sbin/conntrackd" } as const;


export const WATCHDOG_PATH = "/usr/local/lib/natgw/watchdog";

/** How often the watchdog looks at the tables: forwarding is off within two of these. */
export const WATCHDOG_INTERVAL_SECONDS = 1;

/** keepalived comes back this many seconds after it crashed, as BACKUP. */
export const KEEPALIVED_RESTART_SECONDS = 1;

/**
 * keepalived 2.2.7 reads the private interface's name from this file, which the
 * keepalived drop-in writes just before keepalived starts: the name depends on the
 * server type (enp7s0, ens10) and keepalived expands no environment variables in
 * `interface`, only its own `$NAME=value` definitions, which an included file
 * may carry.
 */
export const KEEPALIVED_INTERFACE_FILE = `${HOST_PATHS.runtimeDir}/keepalived-interface.conf`;
export const KEEPALIVED_INTERFACE_DEFINITION = "NATGW_PRIVATE_INTERFACE";


export const systemdFiles: HostFile[] = [
  {
    hostPath: `/etc/systemd/system/${UNITS.baseline}`,
    role: "systemd",
    fileMode: "0644",
    values: (context) => ({
      ...fileHeader(context),
      nft: BINARIES.nft,
      baseline: HOST_PATHS.baseline,
      table: BASELINE_TABLE,
      rulesetUnit: UNITS.ruleset,
      sshUnit: UNITS.ssh,
    }),
  },
  {
    hostPath: `/etc/systemd/system/${UNITS.watchdog}`,
    role: "systemd",
    fileMode: "0644",
    values: (context) => ({
      ...fileHeader(context),
      program: WATCHDOG_PATH,
      table: NFT_TABLE,
      baselineTable: BASELINE_TABLE,
      baseline: HOST_PATHS.baseline,
      baselineUnit: UNITS.baseline,
      rulesetUnit: UNITS.ruleset,
      intervalSeconds: WATCHDOG_INTERVAL_SECONDS,
    }),
  },
  { hostPath: WATCHDOG_PATH, role: "script", fileMode: "0755", program: true },
  { hostPath: HOST_PATHS.interfaces, role: "script", fileMode: "0755", program: true },
  {
    hostPath: `/etc/systemd/system/${UNITS.ruleset}`,
    role: "systemd",
    fileMode: "0644",
    values: (context) => ({
      ...fileHeader(context),
      rulesetRuntime: RULESET_RUNTIME_PATH,
      baselineUnit: UNITS.baseline,
      nft: BINARIES.nft,
      ruleset: HOST_PATHS.ruleset,
      table: NFT_TABLE,
      forwardingUnit: UNITS.forwarding,
      sshUnit: UNITS.ssh,
    }),
  },
  {
    hostPath: `/etc/systemd/system/${UNITS.forwarding}`,
    role: "systemd",
    fileMode: "0644",
    values: (context) => ({
      ...fileHeader(context),
      sysctl: BINARIES.sysctl,
      rulesetUnit: UNITS.ruleset,
    }),
  },
  {
    hostPath: `/etc/systemd/system/${UNITS.keepalived}.d/natgw.conf`,
    role: "systemd",
    fileMode: "0644",
    when: isHA,
    values: (context) => ({
      ...fileHeader(context),
      forwardingUnit: UNITS.forwarding,
      shell: BINARIES.shell,
      interfaces: HOST_PATHS.interfaces,
      runtimeDir: HOST_PATHS.runtimeDir,
      interfaceFile: KEEPALIVED_INTERFACE_FILE,
      interfaceDefinition: KEEPALIVED_INTERFACE_DEFINITION,
      restartSeconds: KEEPALIVED_RESTART_SECONDS,
    }),
  },
];
