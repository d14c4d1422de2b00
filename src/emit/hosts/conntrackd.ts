import type { HostFile, MemberContext } from "./context.js";
import { fileHeader, HOST_PATHS, isHA } from "./context.js";
import { SYNC_PORT } from "./nftables.js";
import { address, label } from "./safe.js";
import { conntrackSizing } from "./sysctl.js";
import { BINARIES, UNITS } from "./systemd.js";

/**
 * Connection-state sync between the two members of an HA gateway: conntrackd in
 * FTFW mode (reliable, acknowledged) over unicast UDP on the private network,
 * since Hetzner networks carry no multicast.
 *
 * Every connection the active member tracks is written, with its NAT mapping,
 * straight into the standby's kernel table (DisableExternalCache), as it is
 * created, changes state and ends. So the member that takes over already holds
 * every connection when the first packet of one reaches it: the replies that
 * the cloud routes to it by the floating IP before the network's route has
 * moved, and the workers' packets after. Measured in the lab
 * (test/lab/failover-connections.test.ts, 1,000 TCP connections and 100 UDP
 * flows): without sync, a keepalived crash on a gateway with port blocks
 * (examples/ports.yaml) reset 987 of the 1,000 TCP connections, since the new
 * member picked other ports of each source's block for them; with it, none. The
 * alternative, an external cache committed on becoming MASTER, would leave out
 * every connection opened on the old member between the commit and the route's
 * move, which a takeover takes about a second for.
 *
 * Sync is not health: a member whose sync is broken still takes over, and only
 * the connections it did not hear about start anew.
 */

/** Where natgw keeps conntrackd's configuration: not Debian's conffile, /etc/conntrackd/conntrackd.conf. */
export const CONNTRACKD_CONFIG = "/etc/natgw/conntrackd.conf";

/**
 * conntrackd needs the private NIC's name (its UDP channel binds to the device),
 * which depends on the server type (enp7s0, ens10), and its configuration has no
 * include and no variables. The drop-in writes the configuration conntrackd
 * runs with, this file with the name `interfaces` finds in place of
 * INTERFACE_TOKEN, just before conntrackd starts.
 */
export const CONNTRACKD_RUNTIME_CONFIG = `${HOST_PATHS.runtimeDir}/conntrackd.conf`;
export const INTERFACE_TOKEN = "@PRIVATE_INTERFACE@";

/**
 * conntrackd refuses to start while its lock file exists, which a crash leaves
 * behind. Directly in /run, which exists before any unit starts (natgw's own
 * runtime directory comes with the ruleset).
 */
const LOCK_FILE = "/run/conntrackd.lock";
/** Where `conntrackd -s` and the other client commands reach the daemon. */
export const CONNTRACKD_SOCKET = "/run/conntrackd.ctl";

/** conntrackd comes back this many seconds after it crashed, and asks the peer for its whole table. */
const RESTART_SECONDS = 1;

/**
 * The kernel's event buffer: a burst of new connections larger than it loses
 * events, and conntrackd then resyncs its whole table. 2 MiB, allowed to grow
 * to 8 MiB, as conntrackd's own example sets it.
 */
const NETLINK_BUFFER_BYTES = 2 * 1024 * 1024;
const NETLINK_BUFFER_MAX_BYTES = 8 * 1024 * 1024;

function conntrackdValues(context: MemberContext) {
  const { gateway, member, peer } = context;
  if (!peer) throw new Error(`natgw bug: conntrackd.conf for ${gateway.name} outside HA`);
  const { conntrackMax, conntrackBuckets } = conntrackSizing(gateway);
  return {
    ...fileHeader(context),
    peer: label(peer.name),
    port: SYNC_PORT,
    interfaceToken: INTERFACE_TOKEN,
    ownAddress: address(member.privateIp),
    peerAddress: address(peer.privateIp),
    hashSize: conntrackBuckets,
    // conntrackd's cache holds the peer's connections as well as this member's.
    hashLimit: 2 * conntrackMax,
    netlinkBufferBytes: NETLINK_BUFFER_BYTES,
    netlinkBufferMaxBytes: NETLINK_BUFFER_MAX_BYTES,
    lockFile: LOCK_FILE,
    socket: CONNTRACKD_SOCKET,
  };
}

export const conntrackdFiles: HostFile[] = [
  { hostPath: CONNTRACKD_CONFIG, role: "conntrackd", fileMode: "0644", when: isHA, values: conntrackdValues },
  {
    hostPath: `/etc/systemd/system/${UNITS.conntrackd}.d/natgw.conf`,
    role: "systemd",
    fileMode: "0644",
    when: isHA,
    values: (context) => ({
      ...fileHeader(context),
      baselineUnit: UNITS.baseline,
      conntrackd: BINARIES.conntrackd,
      rm: BINARIES.rm,
      shell: BINARIES.shell,
      interfaces: HOST_PATHS.interfaces,
      runtimeDir: HOST_PATHS.runtimeDir,
      token: INTERFACE_TOKEN,
      config: CONNTRACKD_CONFIG,
      runtimeConfig: CONNTRACKD_RUNTIME_CONFIG,
      lockFile: LOCK_FILE,
      restartSeconds: RESTART_SECONDS,
    }),
  },
];
