import { describe, expect, it } from "vitest";
import { splitExecLine } from "./programs/exec-line.js";

/** The lab's systemctl runs unit files' Exec lines as systemd splits them. */
describe("Exec lines split as systemd splits them", () => {
  const environment = { DAEMON_ARGS: "--one  --two", MAINPID: "42" };
  const cases: [line: string, argv: string[]][] = [
    ["/usr/sbin/nft -f /etc/natgw/ruleset.nft", ["/usr/sbin/nft", "-f", "/etc/natgw/ruleset.nft"]],
    ['/usr/sbin/nft "add table inet natgw; delete table inet natgw"', ["/usr/sbin/nft", "add table inet natgw; delete table inet natgw"]],
    ["/bin/sh -ec \"echo $$1 100%% 'quoted'\"", ["/bin/sh", "-ec", "echo $1 100% 'quoted'"]],
    ["/usr/sbin/keepalived --dont-fork $DAEMON_ARGS", ["/usr/sbin/keepalived", "--dont-fork", "--one", "--two"]],
    ["/bin/kill -HUP ${MAINPID}", ["/bin/kill", "-HUP", "42"]],
    ["/bin/kill -HUP pid=${MAINPID}x", ["/bin/kill", "-HUP", "pid=42x"]],
    ["/bin/true $UNSET", ["/bin/true"]],
  ];
  for (const [line, argv] of cases) {
    it(line, () => {
      expect(splitExecLine(line, environment)).toEqual({ argv, ignoreFailure: false });
    });
  }

  it("a leading - ignores the command's failure", () => {
    expect(splitExecLine("-/bin/false", environment)).toEqual({ argv: ["/bin/false"], ignoreFailure: true });
  });

  it("refuses an unbalanced quote", () => {
    expect(() => splitExecLine('/bin/sh -c "echo', environment)).toThrow(/unbalanced quote/);
  });
});
