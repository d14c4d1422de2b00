// Checks GitHub Actions workflow files with @actions/workflow-parser, GitHub's own
// parser and workflow schema (the one its Actions language server uses), and
// prints every error it reports, as a JSON list of messages.
//
// It runs in a process of its own under tsx: the package imports its schema JSON
// without an import attribute, which bundlers accept and Node's loader refuses.
import { readFileSync } from "node:fs";
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";

const errors: string[] = [];
for (const path of process.argv.slice(2)) {
  const parsed = parseWorkflow({ name: path, content: readFileSync(path, "utf8") }, new NoOperationTraceWriter());
  // Conversion adds the checks beyond the schema (job references, expressions in context).
  if (parsed.value !== undefined) await convertWorkflowTemplate(parsed.context, parsed.value);
  errors.push(...parsed.context.errors.getErrors().map((error) => error.message));
}
process.stdout.write(`${JSON.stringify(errors)}\n`);
