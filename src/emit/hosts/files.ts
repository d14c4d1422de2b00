import { configFiles } from "./config.js";
import type { HostFile } from "./context.js";
import { sysctlFiles } from "./sysctl.js";

/** Every file a member runs, by area; each area keeps its values in its own module. */
export const HOST_FILES: readonly HostFile[] = [...configFiles, ...sysctlFiles];
