import { HOST_PATHS } from "../hosts/context.js";

/**
 * The shell the config push runs on a member, as remote-exec `inline` lines.
 * Terraform joins the lines into one script and runs it without errexit, so a
 * failed command would be hidden by the next one that succeeds, and the push
 * recorded as done. Each script therefore names its shell and starts with
 * `set -eu`; no line is a pipeline or an `a && b` list, where errexit ignores a
 * failure of every command but the last.
 */

/** Where pushed files wait, root-only, until they are moved into place. */
export const PUSH_STAGING_DIR = `${HOST_PATHS.stateDir}/push`;

/** The sha256 check list of every pushed file, at its path on the host, for `sha256sum -c`. */
export const PUSH_CHECK_LIST = `${PUSH_STAGING_DIR}/SHA256SUMS`;

/**
 * How long the first push waits for the member's first boot. cloud-init runs
 * apt-get update and installs a handful of packages, one to three minutes on a
 * small server; 15 minutes allows a slow mirror and still ends a stuck boot
 * well within a pipeline's job limit, where `cloud-init status --wait` alone
 * would wait for ever.
 */
export const CLOUD_INIT_WAIT_SECONDS = 900;

/** remote-exec runs the first line as the interpreter when it is a `#!` line. */
const ERREXIT = ["#!/bin/sh", "set -eu"];

/** `echo` to stderr, for messages that end in a failed apply. */
function fail(message: string): string {
  return `echo ${JSON.stringify(`natgw: ${message}`)} >&2; exit 1`;
}

/**
 * Waits for the member's first boot, then makes an empty, root-only staging
 * directory (the token passes through it) and every directory a file goes to.
 * `cloud-init status --wait` exits 0 when done, 1 on an error, and (cloud-init
 * 23.4 and later) 2 when it finished with recoverable errors ("degraded", e.g.
 * a deprecated key or a warning from a module). 2 only warns: that state lasts
 * as long as the instance, so failing on it would block every later push, and
 * the push checks what it depends on itself (every file's sha256, then
 * natgw-ctl reconcile). An error fails: the packages or files of the first boot
 * may be missing, and replacing the member is the fix.
 */
export function prepareScript(member: string, directories: readonly string[]): string[] {
  const seconds = CLOUD_INIT_WAIT_SECONDS;
  const see = "see cloud-init status --long and journalctl -u cloud-init";
  return [
    ...ERREXIT,
    // The first push can start while cloud-init still writes the same files.
    "cloud_init=0",
    `timeout ${seconds} cloud-init status --wait >/dev/null 2>&1 || cloud_init=$?`,
    `if [ "$cloud_init" -eq 124 ]; then ${fail(`cloud-init did not finish within ${seconds} s on ${member}; ${see}`)}; fi`,
    `if [ "$cloud_init" -eq 2 ]; then echo ${JSON.stringify(`natgw: warning: cloud-init finished with recoverable errors on ${member}; ${see}`)} >&2; fi`,
    `if [ "$cloud_init" -ne 0 ] && [ "$cloud_init" -ne 2 ]; then cloud-init status --long >&2 || true; ${fail(
      `cloud-init reported an error on ${member} (cloud-init status exited $cloud_init): its first boot did not complete; ${see}, then replace the member`,
    )}; fi`,
    `rm -rf ${PUSH_STAGING_DIR}`,
    `install -d -m 0700 ${PUSH_STAGING_DIR}`,
    `mkdir -p ${directories.map((directory) => `${PUSH_STAGING_DIR}${directory}`).join(" ")} ${directories.join(" ")}`,
  ];
}

/**
 * Moves every staged file into place, checks each by sha256 where it now is,
 * and only then reloads systemd and runs natgw-ctl reconcile. A file is copied
 * with its mode and renamed over the old one: scp writes in place, and
 * keepalived runs natgw-ctl every few seconds, so a file must never be seen
 * half written or without its mode. sha256sum names a file that differs or is
 * missing (`/etc/natgw/token: FAILED`) and prints nothing when all match.
 */
export function applyScript(member: string, files: readonly { hostPath: string; fileMode: string }[]): string[] {
  return [
    ...ERREXIT,
    ...files.flatMap(({ hostPath, fileMode }) => {
      const next = `${hostPath}.natgw-new`;
      return [`install -m ${fileMode} ${PUSH_STAGING_DIR}${hostPath} ${next}`, `mv -f ${next} ${hostPath}`];
    }),
    `if ! sha256sum --check --quiet --strict ${PUSH_CHECK_LIST}; then ${fail(
      `a pushed file on ${member} is not what Terraform sent (sha256sum names it above); natgw-ctl reconcile did not run`,
    )}; fi`,
    `rm -rf ${PUSH_STAGING_DIR}`,
    "systemctl daemon-reload",
    `${HOST_PATHS.ctl} reconcile`,
  ];
}

/**
 * The check list, as `sha256sum -c` reads it: `<sha256>  <path>` per line. A
 * hash is either known at synth time (hex) or a Terraform expression, so the
 * list is a Terraform template whose paths are natgw's own (no `${`).
 */
export function checkList(entries: readonly { sha256: string; hostPath: string }[]): string {
  return entries.map(({ sha256, hostPath }) => `${sha256}  ${hostPath}\n`).join("");
}
