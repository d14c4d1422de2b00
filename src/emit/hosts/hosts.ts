import type { Diagnostic } from "../../diagnostics/diagnostic.js";
import type { Model } from "../../resolve/model.js";
import type { Artifact } from "../artifact.js";
import { cloudInitUserData } from "./cloud-init.js";
import type { MemberContext } from "./context.js";
import { HOST_FILES } from "./files.js";
import { programText, render } from "./render.js";

export interface HostEmit {
  readonly artifacts: Artifact[];
  readonly diagnostics: Diagnostic[];
}

/**
 * model -> every host file of every member, at `hosts/<member>/<path on the host>`,
 * and after them the member's cloud-init user-data, which bundles them all.
 */
export function emitHosts(model: Model): HostEmit {
  const artifacts: Artifact[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const gateway of model.gateways) {
    for (const member of gateway.members) {
      const peer = gateway.members.find((other) => other !== member) ?? null;
      const context: MemberContext = { model, gateway, member, peer };
      const memberFiles: Artifact[] = [];
      for (const file of HOST_FILES) {
        if (file.when && !file.when(context)) continue;
        memberFiles.push({
          path: `hosts/${member.name}${file.hostPath}`,
          role: file.role,
          gateway: gateway.name,
          member: member.name,
          fileMode: file.fileMode,
          content: "program" in file ? programText(file.hostPath) : render(`${file.hostPath.slice(1)}.njk`, file.values(context)),
        });
      }
      const userData = cloudInitUserData(context, memberFiles);
      artifacts.push(...memberFiles, ...(userData.artifact ? [userData.artifact] : []));
      diagnostics.push(...userData.diagnostics);
    }
  }
  return { artifacts, diagnostics };
}
