import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { CompileResult } from "../compile.js";
import { hasErrors } from "../diagnostics/diagnostic.js";
import { formatJson, formatText, summary } from "../diagnostics/format.js";
import type { Flow, Protocol } from "../explain/explain.js";
import type { WriteResult } from "../write/write.js";
import { PACKAGE_VERSION as version } from "../package-root.js";
import { isAddress } from "../resolve/ip.js";
import { processIO, styleFor, type CliIO } from "./io.js";

/*
 * The stages are imported by the command that runs them, when it runs: `natgw
 * validate` and `explain` never load the emitter (cdktf, nunjucks), and --version
 * or --help load no stage at all. A static import of a stage here would put its
 * loading time on every command (test/module-loading.test.ts watches this).
 */

/** Exit codes: the spec is valid, it is not, or natgw could not do what was asked. */
export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;
/** A bug in natgw: a throw escaped the stages. */
export const EXIT_INTERNAL = 3;

type Format = "text" | "json";

/** Runs one natgw command line and returns its exit code; writes only through `io`. */
export async function run(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  if (argv.length === 0) {
    io.stderr(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version end parsing through the same error path as a usage mistake.
      const answered = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code);
      return answered && error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const detail = io.env.NATGW_DEBUG ? `\n${(error as Error).stack}` : "";
    io.stderr(
      `natgw: internal error: ${(error as Error).message}\nThis is a bug in natgw; please report it with the spec that caused it.${detail}\n`,
    );
    return EXIT_INTERNAL;
  }
  return exitCode;
}


function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
  const program = new Command("natgw")
    .description("Compiles a declarative spec of an egress NAT gateway into everything needed to run it on Hetzner Cloud.")
    .version(version, "-V, --version", "print natgw's version")
    .helpOption("-h, --help", "show help")
    .showHelpAfterError("(run `natgw --help` for usage)")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .addHelpText(
      "after",
      "\nExit codes: 0 valid, 1 invalid spec, 2 usage or I/O error, 3 a bug in natgw.\nColour on a terminal only; NO_COLOR turns it off.",
    );

  program
    .command("validate")
    .description("check spec files against the schema and natgw's rules; print every problem at once")
    .argument("<files...>", "spec files (YAML, multi-document, or JSON)")
    .addOption(formatOption())
    .action(async (files: string[], options: { format: Format }) => {
      const { compile } = await import("../compile.js");
      const result = compile(files);
      setExit(report(result, options.format, io, files));
    });

  program
    .command("explain")
    .description("show which gateway, policy, egress IP, port block and route a flow takes, or why it is dropped")
    .argument("<files...>", "spec files")
    .requiredOption("--src <ip>", "source IPv4 address of the flow (a worker)", parseAddressOption("--src"))
    .requiredOption("--dst <ip[:port]>", "destination IPv4 address, optionally with a port", parseDestination)
    .addOption(new Option("--proto <protocol>", "transport protocol").choices(["tcp", "udp"]).default("tcp"))
    .addOption(
      new Option("--format <format>", "output format; mermaid draws the flow's path as a Mermaid flowchart")
        .choices(["text", "json", "mermaid"])
        .default("text"),
    )
    .action(
      async (
        files: string[],
        options: { src: string; dst: { address: string; port: number | null }; proto: Protocol; format: Format | "mermaid" },
      ) => {
        const [{ compile }, { explain }, { formatExplanation }, { formatExplanationMermaid }] = await Promise.all([
          import("../compile.js"),
          import("../explain/explain.js"),
          import("./explain-text.js"),
          import("./explain-mermaid.js"),
        ]);
        // The diagnostics of a spec that does not compile are text in the mermaid format too.
        const diagnosticsFormat: Format = options.format === "json" ? "json" : "text";
        const result = compile(files);
        if (!result.model) {
          setExit(report(result, diagnosticsFormat, io, files));
          return;
        }
        if (result.diagnostics.length > 0 && diagnosticsFormat === "text") {
          io.stderr(formatText(result.diagnostics, styleFor(io, "stderr")));
        }
        const flow: Flow = { source: options.src, destination: options.dst.address, port: options.dst.port, protocol: options.proto };
        const explanation = explain(result.model, flow);
        // In JSON the spec's warnings travel with the answer, so a script sees them too.
        if (options.format === "json") {
          io.stdout(`${JSON.stringify({ ...explanation, diagnostics: JSON.parse(formatJson(result.diagnostics)) }, null, 2)}\n`);
        } else if (options.format === "mermaid") {
          io.stdout(formatExplanationMermaid(explanation));
        } else {
          io.stdout(formatExplanation(explanation, styleFor(io, "stdout")));
        }
        setExit(EXIT_OK);
      },
    );

  program
    .command("build")
    .description("compile spec files and write every artifact into an output directory, with natgw.json; a failed build changes nothing")
    .argument("<files...>", "spec files")
    .requiredOption("--out <dir>", "output directory; natgw replaces or removes only the files its natgw.json lists")
    .addOption(formatOption())
    .action(async (files: string[], options: { out: string; format: Format }) => {
      const [{ compile }, { emit }, { OutputError, writeOutput }, { formatBuildReport }] = await Promise.all([
        import("../compile.js"),
        import("../emit/emit.js"),
        import("../write/write.js"),
        import("./build-report.js"),
      ]);
      const result = compile(files);
      if (!result.model) {
        setExit(report(result, options.format, io, files));
        return;
      }
      const emitted = emit(result.model);
      const diagnostics = [...result.diagnostics, ...emitted.diagnostics];
      if (hasErrors(diagnostics)) {
        setExit(report({ diagnostics }, options.format, io, files));
        return;
      }
      let written: WriteResult;
      try {
        written = writeOutput(options.out, emitted.artifacts, version, { inputs: files });
      } catch (error) {
        if (!(error instanceof OutputError) && !(error as NodeJS.ErrnoException).code) throw error;
        io.stderr(`natgw: cannot write ${options.out}: ${(error as Error).message}\n`);
        setExit(EXIT_USAGE);
        return;
      }
      if (written.edited.length > 0) {
        io.stderr(`natgw: note: replaced or removed ${written.edited.length} file${written.edited.length === 1 ? "" : "s"} changed since the last build: ${written.edited.join(", ")}\n`);
      }
      for (const warning of written.warnings) io.stderr(`natgw: warning: ${warning}\n`);
      if (options.format === "json") {
        io.stdout(formatJson(diagnostics));
      } else {
        if (diagnostics.length > 0) io.stderr(formatText(diagnostics, styleFor(io, "stderr")));
        io.stdout(formatBuildReport(options.out, written.entries, written.changes));
      }
      setExit(EXIT_OK);
    });

  program
    .command("schema")
    .description("print the JSON Schema of the spec (for editors and other tools)")
    .option("--path", "print the absolute path of the schema file instead, for an editor setting or a $schema line")
    .action(async (options: { path?: boolean }) => {
      const { schemaPath, schemaText } = await import("../spec/schema.js");
      if (options.path) {
        io.stdout(`${schemaPath}\n`);
        return;
      }
      io.stdout(schemaText.endsWith("\n") ? schemaText : `${schemaText}\n`);
    });

  return program;
}

function formatOption(): Option {
  return new Option("--format <format>", "output format").choices(["text", "json"]).default("text");
}

/** Prints diagnostics and returns the exit code: 1 for an invalid spec, 2 when a file could not be read. */
function report(result: CompileResult, format: Format, io: CliIO, files: readonly string[]): number {
  const unreadable = result.diagnostics.some((d) => d.code === "NATGW001");
  if (format === "json") {
    io.stdout(formatJson(result.diagnostics));
  } else if (result.diagnostics.length > 0) {
    io.stdout(formatText(result.diagnostics, styleFor(io, "stdout")));
    io.stdout(`${summary(result.diagnostics)}\n`);
  }
  if (unreadable) return EXIT_USAGE;
  if (hasErrors(result.diagnostics) || !result.model) return EXIT_INVALID;
  if (format === "text") {
    const gateways = result.model.gateways.length;
    const policies = result.model.gateways.reduce((sum, gateway) => sum + gateway.policies.length, 0);
    io.stdout(
      `valid: ${files.length} file${files.length === 1 ? "" : "s"}, ${gateways} gateway${gateways === 1 ? "" : "s"}, ${policies} polic${policies === 1 ? "y" : "ies"}\n`,
    );
  }
  return EXIT_OK;
}

function parseAddressOption(flag: string) {
  return (value: string): string => {
    if (isAddress(value)) return value;
    if (value.includes(":") && !/^[\d.]+:\d+$/.test(value)) {
      throw new InvalidArgumentError(
        `${JSON.stringify(value)} is IPv6; Hetzner Cloud private networks are IPv4-only, so flows through a gateway are IPv4`,
      );
    }
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not an IPv4 address (for example ${flag === "--src" ? "10.0.1.5" : "203.0.113.10"})`);
  };
}

function parseDestination(value: string): { address: string; port: number | null } {
  const match = /^([\d.]+)(?::(\d{1,5}))?$/.exec(value);
  if (!match || !isAddress(match[1]!)) {
    parseAddressOption("--dst")(value);
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not IP[:port] (for example 203.0.113.10:443)`);
  }
  const port = match[2] === undefined ? null : Number(match[2]);
  if (port !== null && (port < 1 || port > 65535)) {
    throw new InvalidArgumentError(`port ${port} is outside 1-65535`);
  }
  return { address: match[1]!, port };
}

export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2));
}
