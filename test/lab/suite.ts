import { expect } from "vitest";
import type { Lab } from "./lab.js";

/**
 * Ends a suite's lab and checks what it leaves: the internet never saw a private
 * source address during the suite, and nothing of the lab (namespace, process,
 * file) outlives it.
 */
export function stopAndCheck(lab: Lab | undefined): void {
  if (!lab) return;
  const seen = lab.privateSourcesSeen();
  lab.stop();
  expect(lab.leftovers()).toEqual([]);
  expect(seen, "the internet never saw a private source address").toEqual([]);
}
