/** Every IPv4 address of a CIDR, in order. */
export function addressesOf(cidr: string): string[] {
  const [base = "", length = "32"] = cidr.split("/");
  const first = base.split(".").reduce((value, octet) => value * 256 + Number(octet), 0);
  return Array.from({ length: 2 ** (32 - Number(length)) }, (_, offset) => [24, 16, 8, 0].map((shift) => ((first + offset) >>> shift) & 255).join("."));
}
