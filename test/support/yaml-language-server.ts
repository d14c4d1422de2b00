import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ConfigurationRequest,
  createProtocolConnection,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  PublishDiagnosticsNotification,
  RegistrationRequest,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
} from "vscode-languageserver-protocol/node.js";

const serverBin = join(dirname(createRequire(import.meta.url).resolve("yaml-language-server/package.json")), "bin", "yaml-language-server");

/** How long one editor session may take before the test gives up and says so. */
const TIMEOUT_MS = 30_000;

/**
 * What an editor shows for each file: the real yaml-language-server, run over stdio
 * as VS Code's YAML extension runs it, with `root` as the workspace folder and
 * `settings` as that workspace's settings.json (keys like "yaml.schemas"). Opens
 * each of `files` (paths relative to `root`) and returns the diagnostics the server
 * published for it.
 */
export async function editorDiagnostics(
  root: string,
  settings: Record<string, unknown>,
  files: readonly string[],
): Promise<Record<string, Diagnostic[]>> {
  const server = spawn(process.execPath, [serverBin, "--stdio"], { stdio: ["pipe", "pipe", "pipe"] });
  let serverErrors = "";
  server.stderr.on("data", (chunk: Buffer) => (serverErrors += chunk.toString()));
  const connection = createProtocolConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  const published = new Map<string, Diagnostic[]>();
  const waiting = new Map<string, () => void>();
  connection.onNotification(PublishDiagnosticsNotification.type, ({ uri, diagnostics }) => {
    published.set(uri, diagnostics);
    waiting.get(uri)?.();
  });
  connection.onRequest(ConfigurationRequest.type, ({ items }) => items.map(({ section }) => (section === "yaml" ? yamlSection(settings) : null)));
  connection.onRequest(RegistrationRequest.type, () => undefined);
  connection.listen();

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`yaml-language-server did not answer within ${TIMEOUT_MS} ms; its stderr:\n${serverErrors}`)), TIMEOUT_MS);
  });
  try {
    const session = async () => {
      const rootUri = pathToFileURL(root).href;
      await connection.sendRequest(InitializeRequest.type, {
        processId: process.pid,
        rootUri,
        workspaceFolders: [{ uri: rootUri, name: "workspace" }],
        capabilities: { workspace: { configuration: true }, textDocument: { publishDiagnostics: {} } },
      });
      await connection.sendNotification(InitializedNotification.type, {});
      // The server pulls its settings once initialized; a code lens request waits for
      // that pull to be applied (languageHandlers.codeLensHandler), so every file
      // opened after it is validated against the settings, once.
      await connection.sendRequest("textDocument/codeLens", { textDocument: { uri: `${rootUri}/settled.yaml` } });
      const uris = files.map((path) => pathToFileURL(join(root, path)).href);
      const all = Promise.all(uris.map((uri) => new Promise<void>((resolve) => waiting.set(uri, resolve))));
      for (const [index, path] of files.entries()) {
        const text = readFileSync(join(root, path), "utf8");
        await connection.sendNotification("textDocument/didOpen", { textDocument: { uri: uris[index]!, languageId: "yaml", version: 1, text } });
      }
      await all;
      return Object.fromEntries(files.map((path, index) => [path, published.get(uris[index]!)!]));
    };
    return await Promise.race([session(), timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.race([
      connection.sendRequest(ShutdownRequest.type).then(() => connection.sendNotification(ExitNotification.type)),
      new Promise((resolve) => setTimeout(resolve, 2_000)),
    ]).catch(() => undefined);
    connection.dispose();
    server.kill();
  }
}

/**
 * The "yaml" section as VS Code hands it to the server: settings.json's dotted keys
 * under "yaml.", nested. SchemaStore is off because its catalog would be fetched
 * from the internet, and the tests must see only the association under test.
 */
function yamlSection(settings: Record<string, unknown>): Record<string, unknown> {
  const section: Record<string, unknown> = { validate: true, schemaStore: { enable: false } };
  for (const [key, value] of Object.entries(settings)) {
    if (key.startsWith("yaml.")) section[key.slice("yaml.".length)] = value;
  }
  return section;
}
