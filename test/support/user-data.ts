import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./tools.js";

/**
 * Reads user-data the way cloud-init does: PyYAML, then cloud-init's own
 * write_files decoding (base64, gunzip). Prints the document with every file's
 * content decoded.
 */
const DECODE = `
import json, sys, yaml
from cloudinit.config.cc_write_files import canonicalize_extraction, extract_contents
document = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
for entry in document.get("write_files", []):
    content = extract_contents(entry.get("content", ""), canonicalize_extraction(entry.get("encoding")))
    entry["content"] = content.decode("utf-8") if isinstance(content, bytes) else content
print(json.dumps(document))
`;

export interface WriteFile {
  path: string;
  owner: string;
  permissions: string;
  encoding?: string;
  content: string;
}

export interface UserData {
  /** Commands cloud-init runs early at every boot, each an argv list. */
  bootcmd?: string[][];
  package_update?: boolean;
  packages?: string[];
  write_files: WriteFile[];
  runcmd: string[][];
}

/** The Python that runs cloud-init, from its script's first line: it has cloud-init's modules. */
function cloudInitPython(): string {
  const which = run("sh", ["-c", "command -v cloud-init"]).stdout.trim();
  return /^#!\s*(\S+)/.exec(readFileSync(which, "utf8"))![1]!;
}

/** Writes `content` to `dir/name` and reads it back as cloud-init would. */
export function decodeUserData(content: string, dir: string, name: string): UserData {
  const file = join(dir, name);
  writeFileSync(file, content);
  const result = run(cloudInitPython(), ["-c", DECODE, file]);
  if (result.status !== 0) throw new Error(`cloud-init cannot read ${name}: ${result.stderr}`);
  return JSON.parse(result.stdout) as UserData;
}

/** `cloud-init schema --config-file` (cloud-init 22.4, Debian 12): status and output. */
export function cloudInitSchema(content: string, dir: string, name: string) {
  const file = join(dir, name);
  writeFileSync(file, content);
  const result = run("cloud-init", ["schema", "--config-file", file]);
  return { ...result, valid: result.status === 0 && result.stdout.includes(`Valid cloud-config: ${file}`) };
}

/**
 * The user_data Hetzner hands to cloud-init, unpacked by cloud-init's own code:
 * the Hetzner datasource's base64 decoding, then the gzip detection every
 * datasource's user-data goes through.
 */
const UNPACK = `
import sys
from cloudinit.sources.helpers.hetzner import maybe_b64decode
from cloudinit import util
raw = maybe_b64decode(open(sys.argv[1], "rb").read())
sys.stdout.write(util.decomp_gzip(raw, quiet=False, decode=True))
`;

/** The shell script cloud-init's bootcmd module writes from the bootcmd list and runs with /bin/sh. */
export function bootcmdScript(content: string, dir: string, name: string): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  const script = "import sys, yaml\nfrom cloudinit import util\nsys.stdout.write(util.shellify(yaml.safe_load(open(sys.argv[1], encoding='utf-8'))['bootcmd']))";
  const result = run(cloudInitPython(), ["-c", script, file]);
  if (result.status !== 0) throw new Error(`cloud-init cannot shellify the bootcmd of ${name}: ${result.stderr}`);
  return result.stdout;
}

export function unpackUserDataPayload(payload: string, dir: string, name: string): string {
  const file = join(dir, name);
  writeFileSync(file, payload);
  const result = run(cloudInitPython(), ["-c", UNPACK, file]);
  if (result.status !== 0) throw new Error(`cloud-init cannot unpack ${name}: ${result.stderr}`);
  return result.stdout;
}

