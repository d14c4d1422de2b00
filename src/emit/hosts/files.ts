import { configFiles } from "./config.js";
import { conntrackdFiles } from "./conntrackd.js";
import type { HostFile } from "./context.js";
import { ctlFiles } from "./ctl.js";
import { keepalivedFiles } from "./keepalived.js";
import { metricsFiles } from "./metrics.js";
import { natlogFiles } from "./natlog.js";
import { nftablesFiles } from "./nftables.js";
import { sysctlFiles } from "./sysctl.js";
import { systemdFiles } from "./systemd.js";

/** Every file a member runs, by area; each area keeps its values in its own module. */
export const HOST_FILES: readonly HostFile[] = [...configFiles, ...ctlFiles, ...sysctlFiles, ...metricsFiles, ...nftablesFiles, ...systemdFiles, ...keepalivedFiles, ...conntrackdFiles, ...natlogFiles];
