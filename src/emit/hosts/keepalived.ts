import type { HostFile, MemberContext } from "./context.js";
import { fileHeader, HOST_PATHS, isHA } from "./context.js";
import { address, identifier, integer, label } from "./safe.js";
import { BINARIES, KEEPALIVED_INTERFACE_DEFINITION, KEEPALIVED_INTERFACE_FILE } from "./systemd.js";

/**
 * Member 1 starts active: with both members starting as BACKUP, the higher
 * priority has the shorter skew (VRRPv3 skew is (256 - priority) / 256 adverts),
 * so member 1 wins a simultaneous start; with preempt it also takes the active
 * role back when it returns.
 */
const PRIORITY_BY_INDEX: Readonly<Record<number, number>> = { 1: 150, 2: 100 };

/**
 * Consecutive failed (fall) and passed (rise) health checks before keepalived
 * changes state. One failed check is not enough to fail over, since every
 * failover moves the floating IPs and routes through the Hetzner API (seconds
 * without egress); two in a row are. Two passes before returning avoid flapping.
 */
const HEALTH_FALL = 2;
const HEALTH_RISE = 2;

/**
 * VRRPv3 requires at least one virtual address in every instance (keepalived
 * 2.2.7 refuses the configuration otherwise). natgw needs none: floating IPs move
 * through the Hetzner Cloud API, and natgw-ctl configures them on the public
 * interface of both members. So the instance carries a marker address on the
 * loopback interface, inside 127.0.0.0/8 which is already local there: adding and
 * removing it changes no routing and nothing reaches the network, and
 * `ip address show dev lo` shows which member keepalived made MASTER.
 */
const MARKER_NETWORK_PREFIX = "127.1.0";

/**
 * Seconds between health checks. keepalived takes whole seconds for a
 * vrrp_script interval, so: the smallest whole number of seconds that is at
 * least one advert interval (1 s, two adverts, at the default 0.5 s). A failing
 * member then gives up the active role after fall x interval (2 s by default),
 * close to the 3 adverts plus skew (under 2 s at 0.5 s) in which the peer
 * notices a dead one; and `natgw-ctl health` starts a process every time, so
 * not more often than that.
 */
export function healthIntervalSeconds(advertIntervalSeconds: number): number {
  return Math.max(1, Math.ceil(advertIntervalSeconds - 1e-9));
}

/**
 * The advert interval as keepalived reads it (a decimal number of seconds). The
 * model holds hundredths of a second, 0.1 to 40.95 (VRRPv3's 12-bit centisecond field).
 */
function advertInterval(seconds: number): string {
  const centiseconds = integer(Math.round(seconds * 100), 10, 4095);
  return String(centiseconds / 100);
}

function keepalivedValues(context: MemberContext) {
  const { gateway, member, peer } = context;
  const vrrp = gateway.vrrp;
  if (!vrrp || !peer) throw new Error(`natgw bug: keepalived.conf for ${gateway.name} outside HA`);
  const virtualRouterId = integer(vrrp.virtualRouterId, 1, 255);
  const healthInterval = integer(healthIntervalSeconds(vrrp.advertIntervalSeconds), 1, 41);
  const ctl = HOST_PATHS.ctl;
  return {
    ...fileHeader(context),
    peer: label(peer.name),
    interfaceFile: KEEPALIVED_INTERFACE_FILE,
    interfaceDefinition: KEEPALIVED_INTERFACE_DEFINITION,
    instance: identifier(gateway.name),
    virtualRouterId,
    priority: integer(PRIORITY_BY_INDEX[member.index] ?? 0, 1, 254),
    preempt: vrrp.preempt === true,
    advertInterval: advertInterval(vrrp.advertIntervalSeconds),
    unicastSourceIp: address(member.privateIp),
    unicastPeerIp: address(peer.privateIp),
    markerAddress: address(`${MARKER_NETWORK_PREFIX}.${virtualRouterId}`),
    health: {
      script: `${ctl} health`,
      intervalSeconds: healthInterval,
      // A check that hangs for a whole interval counts as failed.
      timeoutSeconds: healthInterval,
      fall: HEALTH_FALL,
      rise: HEALTH_RISE,
    },
    // keepalived takes one notify_master script: record the state first (quick),
    // then run the takeover (seconds, with retries against the API).
    notifyMaster: `${BINARIES.shell} -c '${ctl} notify MASTER; exec ${ctl} takeover'`,
    notifyBackup: `${ctl} notify BACKUP`,
    notifyFault: `${ctl} notify FAULT`,
    notifyStop: `${ctl} notify STOP`,
  };
}

/** VRRP between the two members of an HA gateway; Single mode has no keepalived. */
export const keepalivedFiles: HostFile[] = [
  {
    hostPath: "/etc/keepalived/keepalived.conf",
    role: "keepalived",
    fileMode: "0644",
    when: isHA,
    values: keepalivedValues,
  },
];
