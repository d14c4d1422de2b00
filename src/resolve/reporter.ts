import { diagnose, type CatalogueEntry, catalogue } from "../diagnostics/catalogue.js";
import type { Diagnostic } from "../diagnostics/diagnostic.js";
import { locate, type SourceDocument } from "../load/document.js";
import { parseCidr, type Cidr } from "./ip.js";
import { quote } from "../diagnostics/quote.js";

type ArgsOf<K extends CatalogueEntry> = Parameters<(typeof catalogue)[K]["render"]>[0];

/** A value from the spec with the JSON pointer it came from, so later checks can point at it. */
export interface Located<T> {
  readonly value: T;
  readonly pointer: string;
}

/** Collects the resolve stage's diagnostics, located in their documents. */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];

  report<K extends CatalogueEntry>(
    key: K,
    args: ArgsOf<K>,
    document: SourceDocument,
    pointer: string,
    prefer: "key" | "value" = "value",
  ): void {
    this.diagnostics.push(diagnose(key, args as never, locate(document, pointer, prefer)));
  }

  get errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === "error").length;
  }

  /** "examples/ha.yaml:12:7", to name the other place in a message. */
  where(document: SourceDocument, pointer: string): string {
    const location = locate(document, pointer);
    return `${location.file}:${location.line}:${location.column}`;
  }

  /**
   * A CIDR the schema already checked for shape; what is left is host bits
   * (`10.0.1.5/24`), reported with the network the user most likely meant.
   */
  cidr(document: SourceDocument, pointer: string, field: string, text: string): Located<Cidr> | undefined {
    const parsed = parseCidr(text);
    if (parsed.ok) return { value: parsed.cidr, pointer };
    if (parsed.reason === "host-bits") {
      this.report("hostBitsSet", { field, found: quote(text), network: parsed.network }, document, pointer);
    } else {
      this.report("badCidr", { field, found: quote(text) }, document, pointer);
    }
    return undefined;
  }

  /** `suffix` reaches into list items that are mappings: `/spec/sources/0/cidr`. */
  cidrs(
    document: SourceDocument,
    pointer: string,
    field: string,
    texts: readonly string[],
    suffix: "" | "cidr" = "",
  ): Located<Cidr>[] | undefined {
    let ok = true;
    const result: Located<Cidr>[] = [];
    texts.forEach((text, index) => {
      const itemPointer = suffix ? `${pointer}/${index}/${suffix}` : `${pointer}/${index}`;
      const itemField = suffix ? `${field}[${index}].${suffix}` : `${field}[${index}]`;
      const parsed = this.cidr(document, itemPointer, itemField, text);
      if (parsed) result.push(parsed);
      else ok = false;
    });
    return ok ? result : undefined;
  }
}
