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
 * Health check intervals a check may run before keepalived kills it and counts a
 * failure. A slow check is not a failed one: with every CPU busy, `natgw-ctl
 * health` (a handful of short processes, ~0.15 s on an idle member) took up to
 * 0.8 s in the lab, more with other work on the machine, and with the timeout at
 * one interval two such checks in a row put a healthy MASTER in FAULT, so the
 * roles flapped and egress moved for nothing. A real failure (no carrier, no
 * route, no table) makes the check exit at once with a failure, so detection
 * stays fall x interval (2 s); only a check that hangs is noticed later.
 *
 * keepalived 2.2.7 (Debian 12's) starts the next run of a script that is still
 * running anyway (it logs "skipping run" but runs it: the `return` was lost in
 * 2020 and restored in 2.3.3, commit 94d40e3b), so a slow check overlaps the next
 * one and each reports its own result. A hung check is killed after the timeout
 * (3 s) and the one started a second later after 4 s: FAULT about 4 s after the
 * hang, instead of 2 s. keepalived versions with the fix skip the run instead:
 * about 3 s + 1 s + 3 s.
 */
const HEALTH_TIMEOUT_INTERVALS = 3;

/**
 * The health check and the takeover run at nice -10 (nice(1) at the start of the
 * script line). keepalived's VRRP process keeps its adverts on time with
 * real-time priority (max_auto_priority raises it once it sees its timers run
 * late), but every script it starts is reset to SCHED_OTHER, and once that
 * process is real-time (SCHED_RR | SCHED_RESET_ON_FORK) a negative nice value it
 * had (a Nice= in the unit) is reset to 0 in its children too (keepalived 2.2.7
 * lib/process.c, system_call_script in lib/notify.c; sched(7)). So
 * the script itself asks for the priority: with the member's CPUs busy, the
 * takeover still gets most of one, and every moment of a takeover is a moment
 * without egress. -10, not real-time: a script that loops must not starve the
 * rest of the member, sshd included. Scripts run as root (script_user), so
 * raising their priority is allowed.
 */
const SCRIPT_NICENESS = -10;

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
  const nice = `${BINARIES.nice} -n ${SCRIPT_NICENESS}`;
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
      script: `${nice} ${ctl} health`,
      intervalSeconds: healthInterval,
      timeoutSeconds: healthInterval * HEALTH_TIMEOUT_INTERVALS,
      fall: HEALTH_FALL,
      rise: HEALTH_RISE,
    },
    // keepalived takes one notify_master script: record the state first (quick),
    // then run the takeover (seconds, with retries against the API). The state
    // comes first because the takeover goes on only while `natgw-ctl role` says
    // MASTER. The takeover program is run itself, not through `natgw-ctl
    // takeover` (which only execs it): that would add a bash and a jq over
    // config.json between the failure and the first API request.
    notifyMaster: `${nice} ${BINARIES.shell} -c '${ctl} notify MASTER; exec ${HOST_PATHS.takeover} run'`,
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
