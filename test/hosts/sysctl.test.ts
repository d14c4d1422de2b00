import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EXAMPLE_MEMBERS, hostFiles } from "../support/artifacts.js";

const files = hostFiles("/etc/sysctl.d/90-natgw.conf");

describe("sysctl", () => {
  it("is rendered for every member of every example", () => {
    expect(files.map((file) => file.member)).toEqual(EXAMPLE_MEMBERS);
  });

  for (const file of files) {
    it(`${file.path} sets only kernel parameters this kernel has, to numbers`, () => {
      const settings = file.content.split("\n").filter((line) => line.trim() && !line.startsWith("#"));
      expect(settings.length).toBeGreaterThan(5);
      for (const line of settings) {
        const match = /^([a-z0-9_.]+) = ([0-9]+(?: [0-9]+)?)$/.exec(line);
        expect(match, line).not.toBeNull();
        expect(existsSync(`/proc/sys/${match![1]!.replace(/\./g, "/")}`), `${match![1]} exists`).toBe(true);
      }
    });

    it(`${file.path} never turns forwarding on: that waits for the ruleset`, () => {
      expect(file.content).not.toMatch(/^net\.ipv4\.(ip_forward|conf\.[a-z0-9]+\.forwarding)/m);
    });
  }
});
