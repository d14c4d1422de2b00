// A member whose health check is slow but passes, as a busy CPU or kernel makes it.
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab, Member } from "./lab.js";

const NFT = "/usr/sbin/nft";
/** What natgw-ctl health asks nft, and nothing else on a member does (the watchdog lists every family). */
const HEALTH_LISTING = "list chains inet";

/**
 * Makes every `nft list chains inet` on the member, natgw-ctl health's one nft
 * call, wait `seconds` before it runs, so each health check takes that much
 * longer and still passes; every other nft call runs at once. A wrapper is
 * bind-mounted over nft in the member's own mount namespace (the host's nft is
 * untouched) and counts the slowed calls, so a test can wait for a number of
 * slow checks rather than for a time. `undo` unmounts it.
 */
export function slowHealthChecks(lab: Lab, member: Member, seconds: number): { started: () => number; undo: () => void } {
  const real = join(lab.directory, `${member.name}-nft`);
  const wrapper = join(lab.directory, `${member.name}-slow-nft`);
  const count = join(lab.directory, `${member.name}-slow-nft.count`);
  copyFileSync(NFT, real);
  chmodSync(real, 0o755);
  writeFileSync(count, "");
  writeFileSync(wrapper, `#!/bin/sh\nif [ "$*" = "${HEALTH_LISTING}" ]; then echo started >>${count}; sleep ${seconds}; fi\nexec ${real} "$@"\n`);
  chmodSync(wrapper, 0o755);
  member.must(["mount", "--bind", wrapper, NFT]);
  return {
    started: () => readFileSync(count, "utf8").split("\n").filter(Boolean).length,
    // Lazily: a check may be running the wrapper right now.
    undo: () => void member.must(["umount", "--lazy", NFT]),
  };
}
