import { describe, expect, it } from "vitest";
import {
  addressToNumber,
  formatRange,
  mergeRanges,
  numberToAddress,
  parseCidr,
  subtractRanges,
  takeAddresses,
} from "../src/resolve/ip.js";

const range = (first: string, last: string) => ({ first: addressToNumber(first), last: addressToNumber(last) });

describe("parseCidr", () => {
  it.each([
    ["10.0.0.0/16", "10.0.0.0", "10.0.255.255"],
    ["0.0.0.0/0", "0.0.0.0", "255.255.255.255"],
    ["203.0.113.7/32", "203.0.113.7", "203.0.113.7"],
    ["192.168.0.0/31", "192.168.0.0", "192.168.0.1"],
  ])("%s spans %s to %s", (text, first, last) => {
    const parsed = parseCidr(text);
    expect(parsed.ok && [numberToAddress(parsed.cidr.first), numberToAddress(parsed.cidr.last)]).toEqual([first, last]);
  });

  it.each([
    ["10.0.1.5/24", "10.0.1.0/24"],
    ["10.0.0.1/8", "10.0.0.0/8"],
  ])("%s has host bits set and means %s", (text, network) => {
    expect(parseCidr(text)).toEqual({ ok: false, reason: "host-bits", network });
  });

  it.each(["10.0.0.0", "10.0.0.0/33", "10.0.0/8", "fd00::/8", "010.0.0.0/8"])("%s is not an IPv4 CIDR", (text) => {
    expect(parseCidr(text)).toEqual({ ok: false, reason: "invalid" });
  });
});

describe("range arithmetic", () => {
  it("merges overlapping and adjacent ranges and keeps gaps", () => {
    const merged = mergeRanges([range("10.0.2.0", "10.0.2.255"), range("10.0.0.0", "10.0.1.255"), range("10.0.4.0", "10.0.4.9")]);
    expect(merged.map(formatRange)).toEqual(["10.0.0.0-10.0.2.255", "10.0.4.0-10.0.4.9"]);
  });

  it("subtracts ranges, splitting around holes", () => {
    const rest = subtractRanges([range("10.0.0.0", "10.0.0.255")], [range("10.0.0.16", "10.0.0.31"), range("10.0.0.200", "10.0.1.10")]);
    expect(rest.map(formatRange)).toEqual(["10.0.0.0/28", "10.0.0.32-10.0.0.199"]);
  });

  it("takes the lowest addresses first", () => {
    const [taken, rest] = takeAddresses([range("10.0.0.0", "10.0.0.3"), range("10.0.0.8", "10.0.0.15")], 6);
    expect(taken.map(formatRange)).toEqual(["10.0.0.0/30", "10.0.0.8/31"]);
    expect(rest.map(formatRange)).toEqual(["10.0.0.10-10.0.0.15"]);
  });

  it("round-trips the highest address without sign trouble", () => {
    expect(numberToAddress(addressToNumber("255.255.255.254"))).toBe("255.255.255.254");
    expect(addressToNumber("128.0.0.0")).toBe(2 ** 31);
  });
});
