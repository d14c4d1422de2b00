import type { ErrorObject, ValidateFunction } from "ajv";
import { EgressNATPolicy, NatGateway } from "#schema-validators";
import type { Diagnostic } from "../diagnostics/diagnostic.js";
import type { Kind, SourceDocument } from "../load/document.js";
import { explainSchemaError } from "./messages.js";

/**
 * Each kind is validated against its own $def, so errors speak of that kind only.
 * The functions were compiled from the schema when natgw was built.
 */
const validators: Record<Kind, ValidateFunction> = { NatGateway, EgressNATPolicy };

/** documents -> diagnostics: every schema error of every document, written for a person. */
export function validate(documents: readonly SourceDocument[]): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const document of documents) {
    const validator = validators[document.kind];
    if (validator(document.data)) continue;
    const errors = (validator.errors ?? []).filter((error) => !isRedundant(error));
    const seen = new Set<string>();
    for (const error of errors) {
      const diagnostic = explainSchemaError(document, error);
      const key = `${diagnostic.pointer}\0${diagnostic.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      diagnostics.push(diagnostic);
    }
  }
  return diagnostics;
}

/**
 * ajv reports a bad label key twice (the pattern inside propertyNames, then
 * propertyNames itself); the second one names the key, so keep only that.
 */
function isRedundant(error: ErrorObject): boolean {
  return error.schemaPath.includes("/propertyNames/");
}

