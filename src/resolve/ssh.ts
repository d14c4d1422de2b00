import ipaddr from "ipaddr.js";
import { schemaAt } from "../spec/schema.js";

/**
 * The SSH values of a spec, read as Terraform's SSH connection will use them: the
 * bastion's host and its public host key. The schema admits only their characters
 * (nothing Terraform would read as a template, no whitespace); these functions say
 * whether the text is one, and what the user most likely meant when it is not.
 * The validate stage uses the guesses too, for text the schema already refused.
 */
export type HostKind = "ipv4" | "ipv6" | "name";

const LABEL = /^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$/;
/** RFC 1123's 253 characters of a host name, as the schema states them for `bastion.host`. */
const MAX_HOST_NAME_LENGTH = schemaAt("Bastion", "host").maxLength!;

/**
 * An IPv4 or IPv6 literal, or a host name by RFC 1123 (2.1): labels of letters,
 * digits and `-`, at most 253 characters, and never the form #.#.#.#, since the
 * last label is not all digits (so `10.0.0.300` is neither name nor address).
 */
export function hostKind(text: string): HostKind | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return "ipv4";
  if (text.includes(":")) return ipaddr.IPv6.isValid(text) && !text.includes("%") ? "ipv6" : undefined;
  if (text.length === 0 || text.length > MAX_HOST_NAME_LENGTH) return undefined;
  const labels = text.split(".");
  if (!labels.every((label) => LABEL.test(label))) return undefined;
  return /^[0-9]+$/.test(labels[labels.length - 1]!) ? undefined : "name";
}

/** A host written the way ssh or a URL writes it, taken apart into the spec's fields. */
export interface MeantHost {
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
}

/**
 * `root@bastion.example.com:2222`, `ssh://[2001:db8::10]`, ` bastion ` and
 * `bastion.example.com.` are how a bastion is often written elsewhere; each names a
 * host, and sometimes a user and a port, that the spec keeps in separate fields.
 */
export function meantHost(text: string): MeantHost | undefined {
  let rest = text.trim().replace(/^ssh:\/\//i, "").replace(/\/$/, "");
  let user: string | undefined;
  let port: number | undefined;
  const at = rest.lastIndexOf("@");
  if (at > 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  const bracketed = /^\[([^\]]*)\](?::(\d{1,5}))?$/.exec(rest);
  const withPort = /^([^:]*):(\d{1,5})$/.exec(rest);
  if (bracketed) {
    rest = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (withPort) {
    rest = withPort[1]!;
    port = Number(withPort[2]);
  }
  rest = rest.replace(/\.$/, "");
  if (rest === text || hostKind(rest) === undefined) return undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host: rest, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

/**
 * The fields of each public key type's blob after the type name itself (RFC 4253
 * 6.6 for ssh-rsa, RFC 5656 3.1 for ECDSA, RFC 8709 4 for Ed25519): each field is
 * a 4-byte length and that many bytes, and `bytes` pins a field's length where the
 * type fixes it (an uncompressed curve point, an Ed25519 key). These are the host
 * key types OpenSSH offers.
 */
const HOST_KEY_FIELDS: Readonly<Record<string, readonly { readonly name: string; readonly bytes?: number; readonly text?: string }[]>> = {
  "ssh-ed25519": [{ name: "key", bytes: 32 }],
  "ecdsa-sha2-nistp256": [{ name: "curve", text: "nistp256" }, { name: "point", bytes: 65 }],
  "ecdsa-sha2-nistp384": [{ name: "curve", text: "nistp384" }, { name: "point", bytes: 97 }],
  "ecdsa-sha2-nistp521": [{ name: "curve", text: "nistp521" }, { name: "point", bytes: 133 }],
  "ssh-rsa": [{ name: "e" }, { name: "n" }],
};

export const HOST_KEY_TYPES: readonly string[] = Object.keys(HOST_KEY_FIELDS);

/** What is wrong with the base64 part of a host key whose form the schema accepted. */
export type HostKeyProblem =
  | { readonly kind: "base64" }
  | { readonly kind: "cut" }
  | { readonly kind: "type"; readonly inner: string };

/**
 * Checks that the base64 key of `type base64 [comment]` decodes to a key of that
 * type, whole: a key copied short, or under another type's name, would otherwise
 * surface only when Terraform connects.
 */
export function hostKeyProblem(hostKey: string): HostKeyProblem | undefined {
  const [type, data] = hostKey.split(" ") as [string, string];
  const blob = Buffer.from(data, "base64");
  // Node decodes leniently; canonical base64 re-encodes to the same text.
  if (blob.length === 0 || blob.toString("base64") !== data) return { kind: "base64" };
  const fields = lengthPrefixedFields(blob);
  if (!fields || fields.length === 0) return { kind: "cut" };
  const inner = fields[0]!.toString("latin1");
  if (inner !== type) return { kind: "type", inner };
  const expected = HOST_KEY_FIELDS[type];
  if (!expected || fields.length !== expected.length + 1) return { kind: "cut" };
  const whole = expected.every(
    (field, index) =>
      (field.bytes === undefined || fields[index + 1]!.length === field.bytes) &&
      (field.text === undefined || fields[index + 1]!.toString("latin1") === field.text),
  );
  return whole ? undefined : { kind: "cut" };
}

function lengthPrefixedFields(blob: Buffer): Buffer[] | undefined {
  const fields: Buffer[] = [];
  let offset = 0;
  while (offset < blob.length) {
    if (offset + 4 > blob.length) return undefined;
    const length = blob.readUInt32BE(offset);
    offset += 4;
    if (offset + length > blob.length) return undefined;
    fields.push(blob.subarray(offset, offset + length));
    offset += length;
  }
  return fields;
}

/** How a host key that breaks the form was most likely mangled, when it is one of the usual ways. */
export type HostKeyMistake =
  | { readonly kind: "knownHosts"; readonly hostName: string }
  | { readonly kind: "space" }
  | { readonly kind: "comment" };

/** The schema's own rule for the form of a host key, so a guess is checked by the rule the user broke. */
const HOST_KEY_FORM = new RegExp(schemaAt("Bastion", "hostKey").pattern!, "u");

export function isHostKeyForm(text: string): boolean {
  return HOST_KEY_FORM.test(text);
}

/**
 * A YAML block scalar keeps the line break, and a key wrapped by a mail or a chat
 * gains spaces; a line from known_hosts or `ssh-keyscan` names the host first; a
 * comment may hold characters the spec refuses.
 */
export function hostKeyMistake(text: string): HostKeyMistake | undefined {
  const words = text.trim().split(/\s+/);
  if (isHostKeyForm(words.join(" "))) return { kind: "space" };
  if (words.length >= 3 && isHostKeyForm(words.slice(1).join(" "))) return { kind: "knownHosts", hostName: words[0]! };
  if (words.length >= 3 && isHostKeyForm(words.slice(0, 2).join(" "))) return { kind: "comment" };
  return undefined;
}
