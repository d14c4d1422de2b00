import type { GatewayModel } from "../../resolve/model.js";
import { fileHeader, HOST_PATHS, isHA, type HostFile } from "./context.js";
import { integer } from "./safe.js";

/** The kernel's connection table, as resolve sized it from the server type's memory: entries and hash buckets. */
export function conntrackSizing(gateway: GatewayModel): { conntrackMax: number; conntrackBuckets: number } {
  return {
    conntrackMax: integer(gateway.host.conntrackMax, 65536, 2 ** 30),
    conntrackBuckets: integer(gateway.host.conntrackBuckets, 16384, 2 ** 28),
  };
}

/**
 * Kernel settings of a member. Forwarding is not among them: it is off at boot and
 * only natgw-forwarding.service turns it on, after the ruleset loaded.
 */
export const sysctlFiles: HostFile[] = [
  {
    hostPath: "/etc/modules-load.d/natgw.conf",
    role: "sysctl",
    fileMode: "0644",
    values: fileHeader,
  },
  {
    hostPath: HOST_PATHS.sysctl,
    role: "sysctl",
    fileMode: "0644",
    values: (context) => ({
      ...fileHeader(context),
      ...conntrackSizing(context.gateway),
      memoryMiB: integer(context.gateway.host.memoryMiB, 512, 2 ** 22),
      // Managed NATs drop idle TCP after 240-1200 s (AWS 350 s, GCP 1200 s); the
      // kernel's own 5 days would let dead flows fill the table.
      tcpEstablishedTimeoutSeconds: 1200,
      tcpTimeWaitTimeoutSeconds: 30,
      udpTimeoutSeconds: 30,
      udpStreamTimeoutSeconds: 120,
      haPair: isHA(context),
    }),
  },
];
