import { execFileSync } from "node:child_process";

/**
 * The CLI tests run the real `bin/natgw.js`, which loads dist/: compile once before
 * any test. The compiler's type errors fail the run here.
 */
export default function setup(): void {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
}
