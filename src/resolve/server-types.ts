/**
 * Memory of Hetzner Cloud server types, in MiB, from Hetzner's price list
 * (shared vCPU x86 cx/cpx, Arm cax, dedicated vCPU ccx). The gateway sizes its
 * connection tracking table from it; a type missing here gets a warning and the
 * smallest size.
 */
export const SERVER_TYPE_MEMORY_MIB: Readonly<Record<string, number>> = {
  cx22: 4096,
  cx23: 4096,
  cx32: 8192,
  cx33: 8192,
  cx42: 16384,
  cx43: 16384,
  cx52: 32768,
  cx53: 32768,
  cpx11: 2048,
  cpx12: 2048,
  cpx21: 4096,
  cpx22: 4096,
  cpx31: 8192,
  cpx32: 8192,
  cpx41: 16384,
  cpx42: 16384,
  cpx51: 32768,
  cpx52: 32768,
  cpx62: 65536,
  cax11: 4096,
  cax21: 8192,
  cax31: 16384,
  cax41: 32768,
  ccx13: 8192,
  ccx23: 16384,
  ccx33: 32768,
  ccx43: 65536,
  ccx53: 131072,
  ccx63: 196608,
};

/** What an unknown server type is assumed to have: the smallest current type. */
export const UNKNOWN_SERVER_TYPE_MEMORY_MIB = 2048;

/** A conntrack entry costs about 300 bytes of unswappable kernel memory. */
export const BYTES_PER_CONNTRACK_ENTRY = 300;
/** The share of memory the table may take; the rest is for the kernel, keepalived and the exporter. */
const CONNTRACK_MEMORY_SHARE = 0.25;

export interface ConntrackSizing {
  readonly memoryMiB: number;
  /** nf_conntrack_max: a power of two, so the hash table divides it evenly. */
  readonly conntrackMax: number;
  /** nf_conntrack_buckets: a quarter of the entries, the kernel's own ratio of old. */
  readonly conntrackBuckets: number;
}

/**
 *     memory     entries (25 % / 300 B, power of two)     buckets
 *     2 GiB      1,048,576                               262,144
 *     4 GiB      2,097,152                               524,288
 *    16 GiB      8,388,608                             2,097,152
 */
export function conntrackSizing(memoryMiB: number): ConntrackSizing {
  const entries = (memoryMiB * 1024 * 1024 * CONNTRACK_MEMORY_SHARE) / BYTES_PER_CONNTRACK_ENTRY;
  const conntrackMax = 2 ** Math.floor(Math.log2(entries));
  return { memoryMiB, conntrackMax, conntrackBuckets: conntrackMax / 4 };
}
