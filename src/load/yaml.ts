import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Node as YamlNode } from "yaml";
import { childPointer, type NodePosition, type Positions } from "./document.js";

/**
 * The yaml library's side of loading: its syntax tree, and from it where each
 * node of a document starts (the data itself may come from js-yaml, see load.ts).
 */

// logLevel "error": the yaml library would print its warnings (a list used as a
// key) to stderr itself; the schema reports such keys as unknown fields.
export function parseYaml(text: string, lineCounter: LineCounter) {
  const parsed = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true, logLevel: "error" });
  return Array.isArray(parsed) ? parsed : [];
}

/** The positions of each document of a file, read with the yaml library the first time any is asked for. */
export function lazyPositions(text: string): (index: number) => Positions {
  let byDocument: Map<string, NodePosition>[] | undefined;
  const all = () => {
    if (!byDocument) {
      const lineCounter = new LineCounter();
      const positionOf = (offset: number) => {
        const { line, col } = lineCounter.linePos(offset);
        return { line, column: col };
      };
      byDocument = parseYaml(text, lineCounter).map((yamlDocument) => {
        const positions = new Map<string, NodePosition>();
        recordPositions(yamlDocument.contents as YamlNode, "", positions, positionOf);
        return positions;
      });
    }
    return byDocument;
  };
  return (index) => ({ get: (pointer) => all()[index]?.get(pointer) });
}

export function recordPositions(
  node: YamlNode | null | undefined,
  pointer: string,
  positions: Map<string, NodePosition>,
  positionOf: (offset: number) => { line: number; column: number },
  key?: { line: number; column: number },
): void {
  if (!node) return;
  const value = positionOf(node.range?.[0] ?? 0);
  const written = isScalar(node) && typeof node.value === "number" && !Number.isSafeInteger(node.value) ? (node as { source?: string }).source : undefined;
  positions.set(pointer, { value, ...(key ? { key } : {}), ...(written ? { written } : {}) });
  // An alias points at a node recorded where it was anchored; walking it again is
  // what an alias bomb wants, so its children stay unrecorded.
  if (isAlias(node)) return;
  if (isMap(node)) {
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const name = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const keyPosition = positionOf(keyNode?.range?.[0] ?? node.range?.[0] ?? 0);
      const valueNode = (pair.value as YamlNode | null) ?? keyNode;
      recordPositions(valueNode, childPointer(pointer, name), positions, positionOf, keyPosition);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => recordPositions(item as YamlNode, childPointer(pointer, index), positions, positionOf));
  }
}
