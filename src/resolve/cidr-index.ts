import type { Cidr } from "./ip.js";

interface TrieNode {
  /** The two halves of this node's prefix: next bit 0, next bit 1. */
  readonly children: [TrieNode | undefined, TrieNode | undefined];
  /** Items whose CIDR is exactly this prefix, by group. */
  readonly here: Map<string, Set<number>>;
  /** How many items lie at or below this node, by group and in all. */
  readonly below: Map<string, number>;
  total: number;
}

function trieNode(): TrieNode {
  return { children: [undefined, undefined], here: new Map(), below: new Map(), total: 0 };
}

/** Bit `depth` of an address, counted from the most significant (depth 0). */
function bitAt(address: number, depth: number): 0 | 1 {
  return ((address >>> (31 - depth)) & 1) as 0 | 1;
}

/**
 * Numbered items keyed by an IPv4 CIDR and labelled with a group, answering:
 * which items overlap this CIDR, outside this group?
 *
 * Two CIDRs either nest or are disjoint, so the items overlapping a query are those
 * on the path from the root to the query's prefix (wider) and those below it
 * (narrower): a binary trie on the address bits finds both in at most 32 steps plus
 * the items found. Each node counts what lies beneath it per group, so a walk never
 * descends where only the query's own group is, and the cost follows the answer,
 * not the number of items held.
 *
 *     query 203.0.113.0/25, group "a":  path 0/0 … 203.0.113.0/24 (wider), then
 *                                       the subtree of 203.0.113.0/25 (it and narrower)
 */
export class CidrIndex {
  private readonly root = trieNode();

  add(cidr: Cidr, group: string, item: number): void {
    let node = this.root;
    for (let depth = 0; ; depth += 1) {
      node.total += 1;
      node.below.set(group, (node.below.get(group) ?? 0) + 1);
      if (depth === cidr.prefixLength) break;
      const bit = bitAt(cidr.first, depth);
      node = node.children[bit] ??= trieNode();
    }
    const items = node.here.get(group) ?? new Set<number>();
    items.add(item);
    node.here.set(group, items);
  }

  /** Removes an item added with the same CIDR and group. */
  delete(cidr: Cidr, group: string, item: number): void {
    let node = this.root;
    for (let depth = 0; ; depth += 1) {
      node.total -= 1;
      const left = node.below.get(group)! - 1;
      if (left === 0) node.below.delete(group);
      else node.below.set(group, left);
      if (depth === cidr.prefixLength) break;
      node = node.children[bitAt(cidr.first, depth)]!;
    }
    const items = node.here.get(group)!;
    items.delete(item);
    if (items.size === 0) node.here.delete(group);
  }

  /** The items whose CIDR overlaps `cidr` and whose group is not `exceptGroup`, in no particular order. */
  overlapping(cidr: Cidr, exceptGroup: string): number[] {
    const found: number[] = [];
    const collectHere = (node: TrieNode) => {
      for (const [group, items] of node.here) {
        if (group !== exceptGroup) for (const item of items) found.push(item);
      }
    };
    const collectBelow = (node: TrieNode | undefined) => {
      if (!node || node.total === (node.below.get(exceptGroup) ?? 0)) return;
      collectHere(node);
      collectBelow(node.children[0]);
      collectBelow(node.children[1]);
    };
    let node: TrieNode | undefined = this.root;
    for (let depth = 0; node && depth < cidr.prefixLength; depth += 1) {
      collectHere(node);
      node = node.children[bitAt(cidr.first, depth)];
    }
    collectBelow(node);
    return found;
  }
}
