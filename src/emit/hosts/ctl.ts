import type { HostFile } from "./context.js";
import { HOST_PATHS } from "./context.js";

/**
 * natgw-ctl, the operations script of a member, and the takeover program it runs
 * for `takeover`, `reconcile` and `status`. Both are the same on every member:
 * everything that varies is read at run time from config.json and cloud.json, so
 * a pushed config takes effect without a new script.
 */
export const ctlFiles: HostFile[] = [
  { hostPath: HOST_PATHS.ctl, role: "script", fileMode: "0755", program: true },
  { hostPath: HOST_PATHS.takeover, role: "script", fileMode: "0755", program: true },
];
