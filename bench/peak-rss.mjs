// Preloaded into every Node process a benchmark spawns (NODE_OPTIONS=--import):
// Node cannot read a child's resource usage, so each process appends its own peak
// resident set size (KiB, from getrusage) to NATGW_BENCH_RSS_FILE as it exits.
// Plain JavaScript, as the children run under node, not tsx.
import { appendFileSync } from "node:fs";

const file = process.env.NATGW_BENCH_RSS_FILE;
if (file) {
  process.on("exit", () => {
    appendFileSync(file, `${process.pid} ${process.resourceUsage().maxRSS}\n`);
  });
}
