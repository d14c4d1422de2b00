import type { HostFile, MemberContext } from "./context.js";
import { fileHeader, HOST_PATHS } from "./context.js";
import { integer } from "./safe.js";
import { UNITS } from "./systemd.js";

/** The NAT log program and its unit: on a member only while spec.natLogging is on. */
export const NATLOG_PROGRAM = "/usr/local/lib/natgw/natlog";
export const NATLOG_UNIT = "natgw-natlog.service";
export const NATLOG_UNIT_FILE = `/etc/systemd/system/${NATLOG_UNIT}`;

/** Seconds between the summaries that count the translations sampling and the rate limit left out. */
export const NATLOG_SUMMARY_SECONDS = 10;

/** journald's rate-limit window for the unit (its default), over which the burst below is counted. */
const JOURNAL_WINDOW_SECONDS = 30;
/**
 * Lines a second the program writes beside translations: a failure line for each
 * of its two kinds once a second, and the summary.
 */
const OTHER_LINES_PER_SECOND = 3;

function natLoggingEnabled({ gateway }: MemberContext): boolean {
  return gateway.natLogging.enabled;
}

/** What the program reads from config.json's natLogging. */
export function natLoggingValues({ gateway }: MemberContext) {
  const logging = gateway.natLogging;
  return {
    enabled: logging.enabled,
    sampleOneIn: integer(logging.sampleOneIn, 1, 1_000_000),
    maxPerSecond: integer(logging.maxPerSecond, 1, 1000),
    summarySeconds: NATLOG_SUMMARY_SECONDS,
    unit: NATLOG_UNIT,
    unitFile: NATLOG_UNIT_FILE,
  };
}

/**
 * Both files arrive with Terraform's push (PUSHED_ONLY): the program needs
 * config.json and cloud.json, which come the same way, and natgw-ctl reconcile
 * enables and restarts the unit then, and stops it when logging is turned off.
 */
export const natlogFiles: HostFile[] = [
  { hostPath: NATLOG_PROGRAM, role: "script", fileMode: "0755", when: natLoggingEnabled, program: true },
  {
    hostPath: NATLOG_UNIT_FILE,
    role: "systemd",
    fileMode: "0644",
    when: natLoggingEnabled,
    values: (context) => {
      const logging = natLoggingValues(context);
      return {
        ...fileHeader(context),
        ...logging,
        program: NATLOG_PROGRAM,
        rulesetUnit: UNITS.ruleset,
        cloudFile: HOST_PATHS.cloud,
        config: HOST_PATHS.config,
        // journald's own limit stays above natgw's, so every line natgw lets through arrives.
        journalWindowSeconds: JOURNAL_WINDOW_SECONDS,
        journalBurst: (logging.maxPerSecond + OTHER_LINES_PER_SECOND) * (JOURNAL_WINDOW_SECONDS + 1),
      };
    },
  },
];
