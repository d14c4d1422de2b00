import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Artifact } from "../../src/emit/artifact.js";
import { emit } from "../../src/emit/emit.js";
import { cloudInitUserData, gzip, literalBlock, PUSHED_ONLY, unitStartOrder, USER_DATA_LIMIT_BYTES, userDataBytes } from "../../src/emit/hosts/cloud-init.js";
import { buildExample, EXAMPLES } from "../support/artifacts.js";
import { compileText, gateway, policy } from "../support/spec.js";
import { isRoot, missingTools, Namespace } from "../support/tools.js";
import { bootcmdScript, cloudInitSchema, decodeUserData, unpackUserDataPayload, type UserData } from "../support/user-data.js";

const scratch = mkdtempSync(join(tmpdir(), "natgw-cloud-init-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function decode(content: string, name: string): UserData {
  return decodeUserData(content, scratch, name);
}

function members(artifacts: readonly Artifact[]): string[] {
  return [...new Set(artifacts.map((artifact) => artifact.member).filter((member): member is string => member !== null))];
}

const builds = EXAMPLES.map((example) => ({ example, artifacts: buildExample(example) }));
const userData = builds.flatMap(({ artifacts }) =>
  members(artifacts).map((member) => ({
    member,
    artifact: artifacts.find((artifact) => artifact.path === `hosts/${member}/cloud-init.yaml`)!,
    files: artifacts.filter((artifact) => artifact.member === member && artifact.role !== "cloud-init"),
  })),
);

describe("cloud-init user-data", () => {
  it("exists for every member of every example, after its other files", () => {
    expect(userData.map(({ member, artifact }) => [member, artifact?.role])).toEqual(
      ["dev-egress-1", "prod-egress-1", "prod-egress-2", "edge-egress-1", "edge-egress-2", "batch-egress-1", "batch-egress-2"].map(
        (member) => [member, "cloud-init"],
      ),
    );
    for (const { artifacts } of builds) {
      for (const member of members(artifacts)) {
        const own = artifacts.filter((artifact) => artifact.member === member);
        expect(own.at(-1)!.path).toBe(`hosts/${member}/cloud-init.yaml`);
      }
    }
  });

  for (const { member, artifact, files } of userData) {
    describe(member, () => {
      // Terraform sends it with the host key, gzipped and base64-encoded: test/terraform/host-key.test.ts.
      it(`stays under Hetzner's ${USER_DATA_LIMIT_BYTES}-byte user_data limit as sent, and starts with #cloud-config`, () => {
        expect(userDataBytes(artifact.content)).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
        expect(artifact.content.startsWith("#cloud-config\n")).toBe(true);
      });

      it.skipIf(missingTools("cloud-init"))("passes cloud-init schema", () => {
        const result = cloudInitSchema(artifact.content, scratch, `${member}-schema.yaml`);
        expect(result.valid, result.stdout + result.stderr).toBe(true);
      });

      it.skipIf(missingTools("cloud-init"))("writes the member's host files but config.json, the ruleset, the takeover program, conntrackd.conf, the NAT log and the baseline, byte for byte, with their modes, owned by root", () => {
        const document = decode(artifact.content, `${member}.yaml`);
        const pushed = files.filter((file) => PUSHED_ONLY.has(file.path.slice(`hosts/${member}`.length)));
        const ha = files.some((file) => file.path.endsWith("/etc/keepalived/keepalived.conf"));
        const natlog = files.some((file) => file.path.endsWith("/usr/local/lib/natgw/natlog"));
        expect(pushed.map((file) => file.path.slice(`hosts/${member}`.length)).sort()).toEqual([
          "/etc/natgw/config.json",
          ...(ha ? ["/etc/natgw/conntrackd.conf"] : []),
          "/etc/natgw/ruleset.nft",
          ...(natlog ? ["/etc/systemd/system/natgw-natlog.service", "/usr/local/lib/natgw/natlog"] : []),
          "/usr/local/lib/natgw/takeover",
        ]);
        // The baseline is bootcmd's: write_files would replace the copy Terraform keeps current at every boot it runs.
        const baseline = files.filter((file) => file.path === `hosts/${member}/etc/natgw/baseline.nft`);
        expect(baseline).toHaveLength(1);
        const expected = files.filter((file) => !pushed.includes(file) && !baseline.includes(file)).map((file) => ({
          path: file.path.slice(`hosts/${member}`.length),
          owner: "root:root",
          permissions: file.fileMode,
          content: file.content,
        }));
        expect(document.write_files.map(({ encoding: _encoding, ...entry }) => entry)).toEqual(expected);
        for (const entry of document.write_files) expect([undefined, "gz+b64"]).toContain(entry.encoding);
      });

      it.skipIf(missingTools("cloud-init"))("installs the packages the files need and enables their units in dependency order", () => {
        const document = decode(artifact.content, `${member}-packages.yaml`);
        const ha = files.some((file) => file.path.endsWith("/etc/keepalived/keepalived.conf"));
        const metrics = files.some((file) => file.path.endsWith("/usr/local/lib/natgw/metrics"));
        expect(document.package_update).toBe(true);
        expect(document.packages!).toEqual(
          ["conntrack", ...(ha ? ["conntrackd"] : []), "curl", "jq", ...(ha ? ["keepalived"] : []), "nftables", ...(metrics ? ["prometheus-node-exporter"] : []), "python3"],
        );
        const modules = files.some((file) => /\/etc\/modules-load\.d\/[^/]+\.conf$/.test(file.path));
        const prelude = [
          ["systemctl", "daemon-reload"],
          ...(modules ? [["systemctl", "restart", "systemd-modules-load.service"]] : []),
          ["sysctl", "--system"],
        ];
        expect(document.runcmd.slice(0, prelude.length)).toEqual(prelude);
        const units = document.runcmd.slice(prelude.length).map((command) => {
          expect(command.slice(0, 4)).toEqual(["systemctl", "enable", "--now", "--no-block"]);
          return command[4]!;
        });
        // Only units it writes or installs: a unit that comes with the push is not there yet (reconcile enables it).
        const written = new Set(document.write_files.map((file) => file.path));
        for (const unit of units) {
          expect(["keepalived.service", "conntrackd.service", "prometheus-node-exporter.service"].includes(unit) || written.has(`/etc/systemd/system/${unit}`), unit).toBe(true);
        }
        const position = (unit: string) => units.indexOf(unit);
        expect(units[0], "the baseline first: closed before anything else starts").toBe("natgw-baseline.service");
        expect(position("natgw-watchdog.service")).toBeGreaterThan(0);
        expect(position("natgw-ruleset.service")).toBeGreaterThanOrEqual(0);
        expect(position("natgw-forwarding.service")).toBeGreaterThan(position("natgw-ruleset.service"));
        if (ha) expect(position("keepalived.service")).toBeGreaterThan(position("natgw-forwarding.service"));
        else expect(units).not.toContain("keepalived.service");
        // Sync's port is open to the peer only once the baseline is loaded.
        if (ha) expect(position("conntrackd.service")).toBeGreaterThan(position("natgw-baseline.service"));
        else expect(units).not.toContain("conntrackd.service");
        if (metrics) {
          expect(units).toEqual(expect.arrayContaining(["natgw-metrics.timer", "prometheus-node-exporter.service"]));
          expect(units, "the timer starts the metrics service").not.toContain("natgw-metrics.service");
        }
      });

      it.skipIf(missingTools("cloud-init"))("bootcmd carries the baseline byte for byte, to write it only when absent and load it", () => {
        const document = decode(artifact.content, `${member}-bootcmd.yaml`);
        const baseline = files.find((file) => file.path === `hosts/${member}/etc/natgw/baseline.nft`)!;
        expect(document.bootcmd).toHaveLength(1);
        const [shell, flags, script, name, content] = document.bootcmd![0]!;
        expect([shell, flags, name]).toEqual(["sh", "-ec", "natgw-baseline"]);
        expect(content).toBe(baseline.content);
        expect(script).toContain("if [ ! -e /etc/natgw/baseline.nft ]; then");
        expect(script).toContain("nft -f /etc/natgw/baseline.nft");
      });

      it("holds no secret: neither the API token nor cloud.json", () => {
        expect(artifact.content).not.toMatch(/\/etc\/natgw\/(token|cloud\.json)\n/);
        expect(artifact.content).not.toMatch(/^\s*- path: \/etc\/natgw\/(token|cloud\.json)$/m);
      });
    });
  }
});

describe("user-data size", () => {
  // 600 policies: their rules and config once outgrew 32 KiB even compressed.
  const policies = Array.from({ length: 600 }, (_, index) =>
    policy(
      `partner-${index}`,
      `  sources: [{ cidr: 10.0.${index >> 4}.${(index & 15) * 16}/28 }]
  destinations: [{ cidr: ${["192.0.2", "198.51.100", "203.0.113"][index % 3]}.${index % 256}/32 }]
  gatewayRef: { name: prod-egress }
  egressIP: partner`,
    ),
  );
  const spec = gateway({ spec: "  egressIPs: [{ name: primary }, { name: partner }]\n" });
  const userDataOf = (texts: string[]) => {
    const result = compileText(texts.join("\n---\n"));
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const emitted = emit(result.model!);
    expect(emitted.diagnostics).toEqual([]);
    return emitted.artifacts.find((artifact) => artifact.path === "hosts/prod-egress-1/cloud-init.yaml")!.content;
  };

  it("does not grow with the policies: config.json and the ruleset travel with Terraform's push", () => {
    const none = userDataOf([spec]);
    const many = userDataOf([spec, ...policies]);
    expect(many).toBe(none);
    expect(userDataBytes(many)).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
  });

  it("past the limit anyway, fails with NATGW801, saying the size, the limit and the largest files", () => {
    const model = compileText(spec).model!;
    const gatewayModel = model.gateways[0]!;
    const member = gatewayModel.members[0]!;
    const context = { model, gateway: gatewayModel, member, peer: gatewayModel.members[1]! };
    // Hashes do not compress: 67 KB of them in base64 cannot fit.
    const noise = Array.from({ length: 1500 }, (_, index) => createHash("sha256").update(String(index)).digest("base64")).join("\n");
    const huge = { path: "hosts/prod-egress-1/usr/local/lib/natgw/huge", role: "script", gateway: "prod-egress", member: member.name, fileMode: "0755", content: `${noise}\n` } as Artifact;
    const baseline = emit(model).artifacts.find((artifact) => artifact.path === "hosts/prod-egress-1/etc/natgw/baseline.nft")!;
    const result = cloudInitUserData(context, [baseline, huge]);
    expect(result.artifact).toBeNull();
    expect(result.diagnostics.map((d) => [d.code, d.severity, d.file])).toEqual([["NATGW801", "error", "hosts/prod-egress-1/cloud-init.yaml"]]);
    const [first] = result.diagnostics;
    expect(first!.message).toMatch(
      /^the cloud-init user-data of member prod-egress-1 is [0-9,]+ bytes even gzipped and base64-encoded as it is sent; Hetzner Cloud accepts at most 32,768 bytes \(32 KiB\) of user_data$/,
    );
    expect(first!.hint).toMatch(/^its largest files are \/usr\/local\/lib\/natgw\/huge \([0-9,]+ bytes( compressed)?\); the user-data holds only natgw's own scripts/);
  });
});

describe("encoding", () => {
  it("gzips without a timestamp and with the Unix operating-system byte, so output is the same everywhere", () => {
    const compressed = gzip("natgw\n");
    expect([...compressed.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
  });

  it.skipIf(missingTools("cloud-init"))("writes a literal block only when it reads back exactly", () => {
    const samples = [
      "#!/bin/bash\nset -eu\n\n\tindented with a tab\nkey: value # not a comment\n  trailing spaces  \n\"quotes\" 'and' \\backslashes\n",
      "one line\n",
      "[a, b]\n{c: d}\n---\n...\n",
    ];
    for (const [index, sample] of samples.entries()) {
      const block = literalBlock(sample);
      expect(block).not.toBeNull();
      const document = decode(`write_files:\n  - path: /x\n    content: ${block}\n`, `block-${index}.yaml`);
      expect(document.write_files[0]!.content).toBe(sample);
    }
    for (const unfit of ["no final newline", "two final newlines\n\n", " leading space\n", "control \u0007\n", "carriage\r\n"]) {
      expect(literalBlock(unfit), JSON.stringify(unfit)).toBeNull();
    }
  });

  it("orders units by After=, Requires= and Before=, lets a timer start its service, and breaks ties by name", () => {
    const unit = (name: string, content = "") => ({ hostPath: `/etc/systemd/system/${name}`, content });
    const order = unitStartOrder(
      [
        unit("b-data.service", "[Unit]\nRequires=a-rules.service\nAfter=a-rules.service network.target\n"),
        unit("a-rules.service"),
        unit("c-metrics.service", "[Unit]\nAfter=b-data.service\n"),
        unit("c-metrics.timer", "[Timer]\nOnUnitActiveSec=15s\n"),
        unit("zz-early.service", "[Unit]\nBefore=a-rules.service\n"),
        unit("vrrp.service.d/natgw.conf", "[Unit]\nAfter=b-data.service\n"),
        unit("nested/ignored.service"),
      ],
      ["vrrp.service"],
    );
    expect(order).toEqual(["zz-early.service", "a-rules.service", "b-data.service", "c-metrics.timer", "vrrp.service"]);
  });
});

/**
 * The bootcmd as cloud-init runs it (its own shellify, then /bin/sh), in a network
 * namespace and a private mount namespace where an overlay covers /etc: the
 * script writes the real /etc/natgw/baseline.nft path, and nothing reaches this
 * machine's /etc.
 */
const bootSkip = missingTools("cloud-init", "unshare", "nft", "ip") ?? (isRoot() ? undefined : "needs root for namespaces");

describe.skipIf(bootSkip)("bootcmd at boot", () => {
  const { member, artifact, files } = userData.find((entry) => entry.member === "prod-egress-1")!;
  const baseline = files.find((file) => file.path === `hosts/${member}/etc/natgw/baseline.nft`)!;
  let namespace: Namespace;
  beforeAll(() => {
    namespace = new Namespace();
  });
  afterAll(() => namespace?.remove());

  /** Runs the bootcmd over an /etc where `prepare` ran first: the file's mode and text, and the tables loaded. */
  function boot(name: string, prepare: string) {
    const root = join(scratch, name);
    const script = join(scratch, `${name}-bootcmd.sh`);
    mkdirSync(root);
    writeFileSync(script, bootcmdScript(artifact.content, scratch, `${name}-user-data.yaml`));
    const steps = [
      `mount -t tmpfs tmpfs ${root}`,
      `mkdir ${root}/upper ${root}/work`,
      `mount -t overlay overlay -o lowerdir=/etc,upperdir=${root}/upper,workdir=${root}/work /etc`,
      prepare,
      `sh ${script}`,
      `stat -c %a /etc/natgw/baseline.nft >${root}/mode`,
      `cp /etc/natgw/baseline.nft ${root}/baseline.nft`,
      `nft list tables >${root}/tables`,
      `nft list chain inet natgw_baseline input >${root}/input`,
      `cp -r ${root}/mode ${root}/baseline.nft ${root}/tables ${root}/input ${scratch}/${name}-out/`,
    ];
    mkdirSync(join(scratch, `${name}-out`));
    const result = namespace.exec("unshare", ["--mount", "--propagation", "private", "sh", "-ec", steps.join("\n")]);
    const read = (file: string) => readFileSync(join(scratch, `${name}-out`, file), "utf8");
    return { ...result, read };
  }

  it("first boot: writes the baseline file, 0644, byte for byte, and loads table inet natgw_baseline", () => {
    const result = boot("first", "test ! -e /etc/natgw/baseline.nft");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.read("mode")).toBe("644\n");
    expect(result.read("baseline.nft")).toBe(baseline.content);
    expect(result.read("tables")).toBe("table inet natgw_baseline\n");
  });

  it("a later boot keeps the file that is there (Terraform's push keeps it current) and loads that one", () => {
    const pushed = "table inet natgw_baseline {\n\tchain input {\n\t\ttype filter hook input priority filter - 10; policy accept;\n\t}\n}\n";
    const result = boot("later", `mkdir -p /etc/natgw && printf '%s' '${pushed}' >/etc/natgw/baseline.nft && chmod 0600 /etc/natgw/baseline.nft`);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.read("mode")).toBe("600\n");
    expect(result.read("baseline.nft")).toBe(pushed);
    expect(result.read("input")).toContain("policy accept;");
  });
});
