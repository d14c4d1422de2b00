import { describe, expect, it } from "vitest";
import { quote } from "../src/diagnostics/quote.js";
import { HOST_KEY_TYPES, hostKeyProblem, isHostKeyForm } from "../src/resolve/ssh.js";
import { schemaDefault } from "../src/spec/schema.js";
import { codes, compileText, errors, gateway } from "./support/spec.js";

/** Public host keys as ssh-keygen writes them, one of each type the spec takes. */
const KEYS: Readonly<Record<string, string>> = {
  "ssh-ed25519": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGjjdA6miTttHN227WnMEOcSdunktKBBRpOvxuyOcCsN",
  "ecdsa-sha2-nistp256":
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFtYlUIsMKkjBoWyKP2bZyURjAKTIRuyVfylk5MYKFb+oqyjTx/NiswQY4ilMjFjmzpuZRebVWBEWHgT6T4wFhA=",
  "ecdsa-sha2-nistp384":
    "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBCNnvAW0yWhd+oiS5DB6GI1MZoaQa/cpqOtPPG/n0NW6AK6TxajZTa1pKGsa1tcylSaxDMAqW5kkFZ82WY8bFUR3CRk7iQPfm+qC8QMHeCZEj1lHIXYW13tUnimoaY7VLg==",
  "ecdsa-sha2-nistp521":
    "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBACbL1KVQb3mBdLpg283eUTTQ5u0oEj1+c9+vdj1/FM8YeHdHHr7WglaNL0wSozdqfFZ2PQm9LUxm5VSAX8NXKeXYwAtPRjLAIiKsBmxdqWstejKinV9Hvn2qFqrn1px4XyWuz7L66wZXbKa/YBrIYTkR7dwEz5SFd+j7g+tJFhbqsw26Q==",
  "ssh-rsa":
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDBgnEatcmt7KjG/P/LxBaT6k+hvgMnxo3Ep62ewDP8FlZsN6sqSKkRill71KTuTrkjrf3fpvLhdfANMvctsuLCvA4KCvGygGNBhb4zRElGCjRgJo0Ql8FienLWBHdVZUUdHSQsH94f8W/bf3WowJ63LRyNFZ2WI6i+O45iz8tvjb06LSn485Lfas2JAxsTeJub/HfRRfAmYzjX+vXaLgSq8ISEJCw842LRcQv/sao5v3LJfc7Ewidu341aoHrDk9KgkwF7tGaeho8nvmwt5QO79FYGUhYIQQ3pwn/5UYfLwDc0Mi94eTi+LWBu76lyQ5eAMAdBnMgMI50Wiqk/FpyB",
};
const KEY = KEYS["ssh-ed25519"]!;

/**
 * A gateway whose members have the given bastion (written as JSON, which YAML
 * reads as a flow mapping) and SSH allowed from `allowed`.
 */
function withBastion(bastion: Record<string, unknown>, options: { allowed?: string; single?: boolean } = {}): string {
  const mode = options.single ? "  highAvailability: { enabled: false }\n" : "";
  const spec = `${mode}  members:\n    sshKeys: [ops]\n    bastion: ${JSON.stringify(bastion)}\n`;
  return gateway({ spec }).replace("sshAllowedCIDRs: [198.51.100.7/32]", `sshAllowedCIDRs: [${options.allowed ?? "10.0.0.2/32"}]`);
}

function diagnosticsOf(text: string, code: string) {
  return compileText(text).diagnostics.filter((d) => d.code === code);
}

describe("the bastion in the model", () => {
  it("is null when the spec names no bastion", () => {
    const result = compileText(gateway());
    expect(result.model!.gateways[0]!.bastion).toBeNull();
  });

  it("takes the schema's defaults: user root, port 22, target private, no host key", () => {
    const result = compileText(withBastion({ host: "bastion.example.com", hostKey: KEY }));
    expect(errors(result)).toEqual([]);
    expect(result.model!.gateways[0]!.bastion).toEqual({
      host: "bastion.example.com",
      user: schemaDefault("Bastion", "user"),
      port: schemaDefault("Bastion", "port"),
      hostKey: KEY,
      target: schemaDefault("Bastion", "target"),
    });
    expect([schemaDefault("Bastion", "user"), schemaDefault("Bastion", "port"), schemaDefault("Bastion", "target")]).toEqual(["root", 22, "private"]);
    const withoutKey = compileText(withBastion({ host: "bastion.example.com" }));
    expect(withoutKey.model!.gateways[0]!.bastion!.hostKey).toBeNull();
  });

  it("keeps every field the spec gives, in Single mode too", () => {
    const bastion = { host: "203.0.113.10", user: "jump", port: 2222, hostKey: `${KEY} jump@bastion`, target: "public" };
    const result = compileText(withBastion(bastion, { single: true, allowed: "203.0.113.10/32" }));
    expect(result.diagnostics).toEqual([]);
    expect(result.model!.gateways[0]!.bastion).toEqual({ ...bastion });
  });
});

describe("the bastion's host", () => {
  it.each(["bastion.example.com", "bastion", "jump-1.eu.example.com", "xn--bcher-kva.example", "203.0.113.10", "2001:db8::10", "::ffff:203.0.113.10"])(
    "takes %s",
    (host) => {
      const result = compileText(withBastion({ host, hostKey: KEY }));
      expect(errors(result)).toEqual([]);
      expect(result.model!.gateways[0]!.bastion!.host).toBe(host);
    },
  );

  it.each([
    // Refused by the schema's characters.
    ["root@bastion.example.com:2222", "did you mean `host: bastion.example.com` with `user: root` and `port: 2222`?"],
    ["[2001:db8::10]:2222", "did you mean `host: 2001:db8::10` with `port: 2222`?"],
    ["ssh://bastion.example.com", "did you mean `host: bastion.example.com`?"],
    [" bastion.example.com", "did you mean `host: bastion.example.com`?"],
    ["${var.bastion_host}", "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`"],
    ["bastion example com", "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`"],
    ["", "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`"],
    // Made of the right characters, but neither a host name nor an address.
    ["bastion.example.com:2222", "did you mean `host: bastion.example.com` with `port: 2222`?"],
    ["bastion.example.com.", "did you mean `host: bastion.example.com`?"],
    ["10.0.0.300", "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`"],
    ["-bastion.example.com", "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`"],
    ["bastion..example.com", "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`"],
    [`${"a".repeat(64)}.example.com`, "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`"],
    ["2001:db8:::10", "for example `bastion.example.com`, `203.0.113.10` or `2001:db8::10`"],
  ])("refuses %j and says what it meant: %s", (host, hint) => {
    const result = compileText(withBastion({ host, hostKey: KEY }));
    expect(result.model).toBeUndefined();
    expect(result.diagnostics).toMatchObject([{ code: "NATGW118", severity: "error", pointer: "/spec/members/bastion/host", hint }]);
    expect(result.diagnostics[0]!.message).toContain(`found ${quote(host)}`);
  });
});

describe("the bastion's user, port and target", () => {
  it("takes a Unix user name, and offers the lowercase one for a capitalised name", () => {
    expect(errors(compileText(withBastion({ host: "bastion.example.com", hostKey: KEY, user: "_jump-1" })))).toEqual([]);
    const result = compileText(withBastion({ host: "bastion.example.com", hostKey: KEY, user: "Admin" }));
    expect(result.diagnostics).toMatchObject([
      {
        code: "NATGW108",
        pointer: "/spec/members/bastion/user",
        message:
          'spec.members.bastion.user must be a Unix user name of 1 to 32 characters: lowercase letters, digits, `_` and `-`, beginning with a letter or `_`; found "Admin"',
        hint: "did you mean `admin`?",
      },
    ]);
  });

  it.each([["1admin"], ["ro ot"], ["a".repeat(33)], ["${var.user}"]])("refuses the user %j", (user) => {
    expect(codes(compileText(withBastion({ host: "bastion.example.com", hostKey: KEY, user })))).toEqual(["NATGW108"]);
  });

  it.each([[0], [65536]])("refuses port %i", (port) => {
    const result = compileText(withBastion({ host: "bastion.example.com", hostKey: KEY, port }));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW111", message: `spec.members.bastion.port must be from 1 to 65535; found the integer ${port}` }]);
  });

  it("refuses a target other than private or public, with the one it meant", () => {
    const result = compileText(withBastion({ host: "bastion.example.com", hostKey: KEY, target: "Public" }));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW104", hint: "did you mean `public`?" }]);
  });

  it("refuses a field the bastion does not have, with the one it meant", () => {
    const result = compileText(withBastion({ host: "bastion.example.com", hostkey: KEY }));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW102", hint: "did you mean `hostKey`?" }]);
  });
});

describe("the bastion's host key", () => {
  it.each(Object.keys(KEYS))("takes a %s key, with or without a comment", (type) => {
    for (const hostKey of [KEYS[type]!, `${KEYS[type]!} root@bastion`]) {
      const result = compileText(withBastion({ host: "bastion.example.com", hostKey }));
      expect(result.diagnostics, hostKey).toEqual([]);
      expect(result.model!.gateways[0]!.bastion!.hostKey).toBe(hostKey);
    }
  });

  it("knows the same key types as the schema's pattern, and takes no other", () => {
    expect([...HOST_KEY_TYPES].sort()).toEqual(Object.keys(KEYS).sort());
    for (const type of HOST_KEY_TYPES) expect(isHostKeyForm(KEYS[type]!), type).toBe(true);
    for (const line of ["ssh-dss AAAAB3NzaC1kc3M=", "ssh-ed448 AAAA", "sk-ssh-ed25519@openssh.com AAAA"]) expect(isHostKeyForm(line), line).toBe(false);
  });

  it.each([
    [`bastion.example.com ${KEY}`, 'remove the first word, "bastion.example.com":'],
    [`[bastion.example.com]:2222 ${KEY}`, 'remove the first word, "[bastion.example.com]:2222":'],
    [`|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ${KEY}`, 'remove the first word, "|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y='],
    [`${KEY}\n`, "write the key on one line"],
    [KEY.replace(" ", "  "), "write the key on one line"],
    [`${KEY} it's "mine"`, "leave out the comment"],
    [`${KEY} \${file("x")}`, "leave out the comment"],
    ["ssh-dss AAAAB3NzaC1kc3M=", "copy the line from the bastion's /etc/ssh/ssh_host_ed25519_key.pub"],
    [KEY.split(" ")[1]!, "copy the line from the bastion's /etc/ssh/ssh_host_ed25519_key.pub"],
  ])("refuses %j, and says how to fix it", (hostKey, hint) => {
    const result = compileText(withBastion({ host: "bastion.example.com", hostKey }));
    expect(result.diagnostics).toMatchObject([{ code: "NATGW119", severity: "error", pointer: "/spec/members/bastion/hostKey" }]);
    expect(result.diagnostics[0]!.message).toContain("ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521 or ssh-rsa");
    expect(result.diagnostics[0]!.hint).toContain(hint);
  });

  it.each([
    ["another type's key", KEY.replace("ssh-ed25519", "ssh-rsa"), 'holds a key of type "ssh-ed25519", but the line says ssh-rsa'],
    ["a key cut short inside a base64 group", KEYS["ecdsa-sha2-nistp256"]!.slice(0, -7), "is not valid base64"],
    ["a key cut short", KEYS["ecdsa-sha2-nistp256"]!.slice(0, -8), "does not hold a whole ecdsa-sha2-nistp256 key"],
    ["a key cut short at a whole byte", `ssh-ed25519 ${Buffer.from(KEY.split(" ")[1]!, "base64").subarray(0, 48).toString("base64")}`, "does not hold a whole ssh-ed25519 key"],
    ["a key with bytes too many", `ssh-ed25519 ${Buffer.concat([Buffer.from(KEY.split(" ")[1]!, "base64"), Buffer.from([0, 0, 0, 1, 7])]).toString("base64")}`, "does not hold a whole ssh-ed25519 key"],
    ["an ECDSA key on another curve", KEYS["ecdsa-sha2-nistp256"]!.replace("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384"), 'holds a key of type "ecdsa-sha2-nistp256"'],
  ])("refuses %s in the base64 key", (_, hostKey, message) => {
    const result = compileText(withBastion({ host: "bastion.example.com", hostKey }));
    expect(result.model).toBeUndefined();
    expect(result.diagnostics).toMatchObject([{ code: "NATGW120", severity: "error", pointer: "/spec/members/bastion/hostKey" }]);
    expect(result.diagnostics[0]!.message).toContain(message);
  });

  it("checks the fields each type fixes: the curve's name and the key's length", () => {
    const blob = Buffer.from(KEYS["ecdsa-sha2-nistp256"]!.split(" ")[1]!, "base64");
    const otherCurve = Buffer.from(blob);
    otherCurve.write("nistp384", 4 + 19 + 4, "latin1");
    expect(hostKeyProblem(`ecdsa-sha2-nistp256 ${otherCurve.toString("base64")}`)).toEqual({ kind: "cut" });
    expect(hostKeyProblem(KEYS["ecdsa-sha2-nistp256"]!)).toBeUndefined();
  });
});

describe("reaching the members through the bastion", () => {
  const modes = [
    ["HA", false],
    ["Single", true],
  ] as const;

  it("warns without a host key that Terraform will not verify the bastion, at the bastion", () => {
    const found = diagnosticsOf(withBastion({ host: "bastion.example.com", port: 2222 }), "NATGW707");
    expect(found).toMatchObject([{ severity: "warning", pointer: "/spec/members/bastion" }]);
    expect(found[0]!.message).toContain('takes whatever answers at "bastion.example.com" port 2222 for the bastion');
    expect(diagnosticsOf(withBastion({ host: "bastion.example.com", hostKey: KEY }), "NATGW707")).toEqual([]);
  });

  describe.each(modes)("in %s mode", (_, single) => {
    it("warns when no sshAllowedCIDRs entry reaches into the network a private-target bastion pushes from", () => {
      const text = withBastion({ host: "bastion.example.com", hostKey: KEY }, { single, allowed: "198.51.100.7/32, 192.168.0.0/16" });
      const result = compileText(text);
      expect(result.model).toBeDefined();
      expect(result.diagnostics).toMatchObject([{ code: "NATGW708", severity: "warning", pointer: "/spec/security/sshAllowedCIDRs" }]);
      expect(result.diagnostics[0]!.message).toContain("no entry of spec.security.sshAllowedCIDRs (198.51.100.7/32, 192.168.0.0/16) overlaps 10.0.0.0/16");
      expect(result.diagnostics[0]!.hint).toContain("or `10.0.0.0/16`, to sshAllowedCIDRs");
    });

    it.each(["10.0.0.2/32", "10.0.0.0/8", "0.0.0.0/0", "198.51.100.7/32, 10.0.1.0/24"])("is content with a private target and SSH allowed from %s", (allowed) => {
      expect(compileText(withBastion({ host: "bastion.example.com", hostKey: KEY }, { single, allowed })).diagnostics).toEqual([]);
    });

    it("warns when a public-target bastion's IPv4 address is outside sshAllowedCIDRs", () => {
      const text = withBastion({ host: "203.0.113.10", hostKey: KEY, target: "public" }, { single, allowed: "198.51.100.7/32, 10.0.0.0/16" });
      const result = compileText(text);
      expect(result.model).toBeDefined();
      expect(result.diagnostics).toMatchObject([
        { code: "NATGW709", severity: "warning", pointer: "/spec/security/sshAllowedCIDRs", hint: "add `203.0.113.10/32` to sshAllowedCIDRs, or the address the bastion connects from if that is another" },
      ]);
    });

    it.each(["203.0.113.10/32", "203.0.113.0/24", "0.0.0.0/0"])("is content with a public target and SSH allowed from %s", (allowed) => {
      expect(compileText(withBastion({ host: "203.0.113.10", hostKey: KEY, target: "public" }, { single, allowed })).diagnostics).toEqual([]);
    });
  });

  it("cannot check a public target named by host name or IPv6 address, and does not guess", () => {
    for (const host of ["bastion.example.com", "2001:db8::10"]) {
      expect(compileText(withBastion({ host, hostKey: KEY, target: "public" }, { allowed: "198.51.100.7/32" })).diagnostics, host).toEqual([]);
    }
  });

  it("checks each target by its own rule: a public target needs no entry in the network, a private one no public address", () => {
    expect(compileText(withBastion({ host: "203.0.113.10", hostKey: KEY, target: "public" }, { allowed: "203.0.113.10/32" })).diagnostics).toEqual([]);
    expect(compileText(withBastion({ host: "203.0.113.10", hostKey: KEY }, { allowed: "10.0.0.2/32" })).diagnostics).toEqual([]);
  });

  it("leaves an empty sshAllowedCIDRs to its own error", () => {
    const result = compileText(withBastion({ host: "bastion.example.com", hostKey: KEY }, { allowed: "" }));
    expect(codes(result)).toEqual(["NATGW705"]);
  });
});
