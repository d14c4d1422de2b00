import { afterEach, expect } from "vitest";
import type { Lab } from "./lab.js";

/**
 * Ends a suite's lab and checks what it leaves: the internet never saw a private
 * source address during the suite, no lab program failed, and nothing of the lab
 * (namespace, process, file) outlives it.
 */
export function stopAndCheck(lab: Lab | undefined): void {
  if (!lab) return;
  const seen = lab.privateSourcesSeen();
  const failures = [...lab.programFailures];
  lab.stop();
  expect(lab.leftovers()).toEqual([]);
  expect(failures, "no lab program failed while the lab ran").toEqual([]);
  expect(seen, "the internet never saw a private source address").toEqual([]);
}

/**
 * After each failed test of the suite, prints every member's evidence (role,
 * keepalived, service logs): an intermittent failure in CI can then be
 * diagnosed from its output alone.
 */
export function reportFailures(lab: () => Lab | undefined): void {
  afterEach(({ task }) => {
    const current = lab();
    if (task.result?.state !== "fail" || !current) return;
    for (const member of current.members) console.log(member.evidence());
    for (const failure of current.programFailures) console.log(`--- a lab program failed: ${failure}`);
  });
}
