import { ansi, plain, type Style } from "../diagnostics/format.js";

/** Where the CLI writes, and what it may know about the terminal; tests pass their own. */
export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
}

export function processIO(): CliIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
  };
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org). */
export function styleFor(io: CliIO, stream: "stdout" | "stderr"): Style {
  const noColor = io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== "";
  const tty = stream === "stdout" ? io.stdoutIsTTY : io.stderrIsTTY;
  return tty && !noColor ? ansi : plain;
}
