import ipaddr from "ipaddr.js";

/**
 * IPv4 arithmetic on plain numbers. Parsing and formatting go through ipaddr.js;
 * a range is an inclusive pair of unsigned 32-bit integers, so overlap, containment
 * and counting are comparisons:
 *
 *     10.0.1.0/24  ->  first 167772416 (10.0.1.0) .. last 167772671 (10.0.1.255)
 *     a overlaps b  <=>  a.first <= b.last && b.first <= a.last
 *     a contains b  <=>  a.first <= b.first && b.last <= a.last
 */
export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
}

export interface Cidr extends Ipv4Range {
  readonly prefixLength: number;
  /** Canonical text, e.g. "10.0.1.0/24". */
  readonly text: string;
}

export type CidrParse =
  | { readonly ok: true; readonly cidr: Cidr }
  | { readonly ok: false; readonly reason: "invalid" }
  | { readonly ok: false; readonly reason: "host-bits"; readonly network: string };

/**
 * Parses are kept by text: a spec names the same team ranges in thousands of
 * policies, and resolve and every member's emit parse them again. Results are
 * immutable; the cache is emptied when it grows past a large spec's distinct CIDRs.
 */
const parsedCidrs = new Map<string, CidrParse>();
const PARSED_CIDRS_LIMIT = 200_000;

export function parseCidr(text: string): CidrParse {
  let parsed = parsedCidrs.get(text);
  if (parsed === undefined) {
    if (parsedCidrs.size >= PARSED_CIDRS_LIMIT) parsedCidrs.clear();
    parsed = parseCidrText(text);
    parsedCidrs.set(text, parsed);
  }
  return parsed;
}

function parseCidrText(text: string): CidrParse {
  const [address, prefix] = text.split("/");
  if (!address || prefix === undefined || !ipaddr.IPv4.isValidFourPartDecimal(address) || !/^\d{1,2}$/.test(prefix)) {
    return { ok: false, reason: "invalid" };
  }
  const prefixLength = Number(prefix);
  if (prefixLength > 32) return { ok: false, reason: "invalid" };
  const network = ipaddr.IPv4.networkAddressFromCIDR(text);
  const networkText = `${network.toString()}/${prefixLength}`;
  if (networkText !== `${ipaddr.IPv4.parse(address).toString()}/${prefixLength}`) {
    return { ok: false, reason: "host-bits", network: networkText };
  }
  const first = addressToNumber(network.toString());
  const size = 2 ** (32 - prefixLength);
  return { ok: true, cidr: { first, last: first + size - 1, prefixLength, text: networkText } };
}

/** Parses a CIDR already known to be canonical (from natgw's own tables or a checked spec). */
export function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`not a canonical IPv4 CIDR: ${text}`);
  return parsed.cidr;
}

export function isAddress(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function addressToNumber(text: string): number {
  const bytes = ipaddr.IPv4.parse(text).toByteArray();
  return ((bytes[0]! << 24) >>> 0) + (bytes[1]! << 16) + (bytes[2]! << 8) + bytes[3]!;
}

export function numberToAddress(value: number): string {
  return ipaddr.fromByteArray([(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]).toString();
}

export function contains(outer: Ipv4Range, inner: Ipv4Range): boolean {
  return outer.first <= inner.first && inner.last <= outer.last;
}

export function containsAddress(range: Ipv4Range, address: number): boolean {
  return range.first <= address && address <= range.last;
}

export function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function size(range: Ipv4Range): number {
  return range.last - range.first + 1;
}

export function totalSize(ranges: readonly Ipv4Range[]): number {
  return ranges.reduce((sum, range) => sum + size(range), 0);
}

/** Numeric order: by first address, then the wider network first. */
export function compareRanges(a: Ipv4Range, b: Ipv4Range): number {
  return a.first - b.first || b.last - a.last;
}

/** Sorted, with overlapping and adjacent ranges joined. */
export function mergeRanges(ranges: readonly Ipv4Range[]): Ipv4Range[] {
  const sorted = [...ranges].sort(compareRanges);
  const merged: { first: number; last: number }[] = [];
  for (const range of sorted) {
    const previous = merged[merged.length - 1];
    if (previous && range.first <= previous.last + 1) previous.last = Math.max(previous.last, range.last);
    else merged.push({ first: range.first, last: range.last });
  }
  return merged;
}

/** Every address of `ranges` that is not in `removed`; both merged and sorted. */
export function subtractRanges(ranges: readonly Ipv4Range[], removed: readonly Ipv4Range[]): Ipv4Range[] {
  const result: Ipv4Range[] = [];
  let r = 0;
  for (const range of ranges) {
    let first = range.first;
    while (r < removed.length && removed[r]!.last < first) r += 1;
    let k = r;
    while (k < removed.length && removed[k]!.first <= range.last) {
      if (removed[k]!.first > first) result.push({ first, last: removed[k]!.first - 1 });
      first = Math.max(first, removed[k]!.last + 1);
      k += 1;
    }
    if (first <= range.last) result.push({ first, last: range.last });
  }
  return result;
}

/** The lowest `count` addresses of sorted ranges, and the rest. */
export function takeAddresses(ranges: readonly Ipv4Range[], count: number): [Ipv4Range[], Ipv4Range[]] {
  const taken: Ipv4Range[] = [];
  const rest: Ipv4Range[] = [];
  let left = count;
  for (const range of ranges) {
    if (left <= 0) rest.push(range);
    else if (size(range) <= left) {
      taken.push(range);
      left -= size(range);
    } else {
      taken.push({ first: range.first, last: range.first + left - 1 });
      rest.push({ first: range.first + left, last: range.last });
      left = 0;
    }
  }
  return [taken, rest];
}

export function formatRange(range: Ipv4Range): string {
  const length = size(range);
  const prefixLength = 32 - Math.log2(length);
  if (Number.isInteger(prefixLength) && range.first % length === 0) return `${numberToAddress(range.first)}/${prefixLength}`;
  return `${numberToAddress(range.first)}-${numberToAddress(range.last)}`;
}
