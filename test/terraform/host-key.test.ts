import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { hostKeyCloudConfig, SAMPLE_HOST_KEY, USER_DATA_LIMIT_BYTES, userDataBytes } from "../../src/emit/hosts/cloud-init.js";
import { buildExample, EXAMPLES } from "../support/artifacts.js";
import { evaluateOutputs } from "../support/terraform.js";
import { missingTools } from "../support/tools.js";
import { cloudInitSchema, unpackUserDataPayload } from "../support/user-data.js";

// A member's user_data is a Terraform expression: base64gzip over its
// cloud-config and the ssh_keys lines of the host key Terraform makes. Real
// Terraform evaluates each member's expression with a fixed key in place of the
// tls_private_key, and cloud-init's own code unpacks and checks the result.
const scratch = mkdtempSync(join(tmpdir(), "natgw-host-key-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const members = EXAMPLES.flatMap((example) => {
  const artifacts = buildExample(example);
  const stack = JSON.parse(artifacts.find((artifact) => artifact.path.startsWith("stacks/"))!.content);
  return Object.keys(stack.resource.tls_private_key).map((member) => ({
    member,
    cloudConfig: artifacts.find((artifact) => artifact.path === `hosts/${member}/cloud-init.yaml`)!.content,
    userData: stack.resource.hcloud_server[member].user_data as string,
    local: stack.locals[`user_data_${member}`] as string,
  }));
});

const skip = missingTools("terraform", "cloud-init");
describe.skipIf(skip)(`user_data with the host key, as Terraform makes it${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const locals: Record<string, string> = { sample_private: SAMPLE_HOST_KEY.privateKey, sample_public: SAMPLE_HOST_KEY.publicKey };
  for (const { member, local } of members) {
    locals[`user_data_${member}`] = local
      .replace(`tls_private_key.${member}.private_key_openssh`, "local.sample_private")
      .replace(`tls_private_key.${member}.public_key_openssh`, "local.sample_public");
  }
  const output = Object.fromEntries(members.map(({ member, userData }) => [member, { value: userData }]));
  const evaluated = skip ? { error: skip } : evaluateOutputs(join(scratch, "user-data"), { locals, output });
  const values = "values" in evaluated ? (evaluated.values as Record<string, string>) : {};

  it("evaluates for every member of every example", () => {
    expect(evaluated).toHaveProperty("values");
    expect(Object.keys(values).sort()).toEqual(members.map(({ member }) => member).sort());
  });

  for (const { member, cloudConfig } of members) {
    describe(member, () => {
      it("unpacks, through cloud-init's Hetzner datasource code, to the member's cloud-init.yaml followed by its host key", () => {
        const text = unpackUserDataPayload(values[member]!, scratch, `${member}.payload`);
        expect(text).toBe(cloudConfig + hostKeyCloudConfig(JSON.stringify(SAMPLE_HOST_KEY.privateKey), JSON.stringify(SAMPLE_HOST_KEY.publicKey)));
        const document = parse(text);
        expect(document.ssh_keys).toEqual({ ed25519_private: SAMPLE_HOST_KEY.privateKey, ed25519_public: SAMPLE_HOST_KEY.publicKey });
        expect(document.ssh_deletekeys).toBe(true);
        const schema = cloudInitSchema(text, scratch, `${member}-with-key.yaml`);
        expect(schema.valid, schema.stdout + schema.stderr).toBe(true);
      });

      it(`fits Hetzner's ${USER_DATA_LIMIT_BYTES} bytes, and NATGW801's estimate is at least its size and at most 3% above`, () => {
        const sent = values[member]!.length;
        expect(sent).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
        expect(userDataBytes(cloudConfig)).toBeGreaterThanOrEqual(sent);
        expect(userDataBytes(cloudConfig)).toBeLessThanOrEqual(Math.ceil(sent * 1.03));
      });
    });
  }
});
