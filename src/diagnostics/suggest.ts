import { distance } from "fastest-levenshtein";

/**
 * The closest candidate to a misspelling, or undefined when nothing is close
 * enough to be a plausible typo (a wrong case always is: `egressIps`).
 */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  const lowered = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate.toLowerCase() === lowered) return candidate;
    const d = distance(lowered, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const allowed = Math.max(2, Math.floor(input.length / 3));
  if (bestDistance <= allowed) return best;
  // A name cut short (`partner` for `partner-api`) is a typo too, if only one fits.
  const extended = candidates.filter((candidate) => lowered.length >= 3 && candidate.toLowerCase().startsWith(lowered));
  return extended.length === 1 ? extended[0] : undefined;
}
