/**
 * Unit files as the lab's systemctl reads them: a unit and its drop-ins merged
 * into one list of values per directive, as systemd merges them (an empty
 * assignment resets a list), and the environment its EnvironmentFile= lines give.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const UNIT_DIRS = ["/etc/systemd/system", "/lib/systemd/system"];

type Directives = Map<string, string[]>;

export interface Unit {
  readonly name: string;
  readonly directives: Directives;
}

function parseUnitText(text: string, into: Directives): void {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";") || line.startsWith("[")) continue;
    const equals = line.indexOf("=");
    if (equals < 0) continue;
    const key = line.slice(0, equals).trim();
    const value = line.slice(equals + 1).trim();
    // An empty assignment resets a list, as in drop-ins that replace ExecStart=.
    if (value === "") into.set(key, []);
    else into.set(key, [...(into.get(key) ?? []), value]);
  }
}

export function loadUnit(name: string): Unit | null {
  const directory = UNIT_DIRS.find((candidate) => existsSync(join(candidate, name)));
  if (!directory) return null;
  const directives: Directives = new Map();
  parseUnitText(readFileSync(join(directory, name), "utf8"), directives);
  const dropIns = `/etc/systemd/system/${name}.d`;
  if (existsSync(dropIns)) {
    for (const file of readdirSync(dropIns).filter((entry) => entry.endsWith(".conf")).sort()) {
      parseUnitText(readFileSync(join(dropIns, file), "utf8"), directives);
    }
  }
  return { name, directives };
}

export const list = (unit: Unit, key: string): string[] => (unit.directives.get(key) ?? []).flatMap((value) => value.split(/\s+/)).filter(Boolean);
export const single = (unit: Unit, key: string): string | undefined => unit.directives.get(key)?.at(-1);

export function environmentOf(unit: Unit): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const entry of unit.directives.get("EnvironmentFile") ?? []) {
    const optional = entry.startsWith("-");
    const path = optional ? entry.slice(1) : entry;
    if (!existsSync(path)) {
      if (optional) continue;
      throw new Error(`${unit.name}: EnvironmentFile ${path} is missing`);
    }
    for (const line of readFileSync(path, "utf8").split("\n")) {
      const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (match) environment[match[1]!] = match[2]!.trim().replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
    }
  }
  return environment;
}
