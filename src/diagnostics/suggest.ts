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
  return bestDistance <= allowed ? best : undefined;
}
