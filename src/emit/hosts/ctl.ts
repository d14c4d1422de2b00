import type { HostFile } from "./context.js";
import { fileHeader, HOST_PATHS } from "./context.js";

/**
 * natgw-ctl, the operations script of a member, and the takeover program it runs
 * for `takeover`, `reconcile` and `status`. Both are the same on every member:
 * everything that varies is read at run time from config.json and cloud.json, so
 * a pushed config takes effect without a new script. natgw-ctl's template only
 * names where config.json is; the member's name is in its header comment.
 */
export const ctlFiles: HostFile[] = [
  {
    hostPath: HOST_PATHS.ctl,
    role: "script",
    fileMode: "0755",
    values: (context) => ({
      ...fileHeader(context),
      configPath: HOST_PATHS.config,
    }),
  },
  { hostPath: HOST_PATHS.takeover, role: "script", fileMode: "0755", program: true },
];
