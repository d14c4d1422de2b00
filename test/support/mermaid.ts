import { JSDOM } from "jsdom";

/**
 * Mermaid's own parser, the one GitHub's and GitLab's renderers run. Mermaid
 * passes every label through DOMPurify, which needs a DOM: jsdom gives it one,
 * installed before mermaid loads because DOMPurify looks for `window` then.
 */
export interface Vertex {
  readonly id: string;
  /** The label's lines (Mermaid writes `<br/>` back as `<br>`). */
  readonly lines: readonly string[];
  readonly shape: string;
  readonly classes: readonly string[];
}
export interface Edge {
  readonly start: string;
  readonly end: string;
  readonly text: string;
  /** "arrow_point", "arrow_open", "arrow_cross". */
  readonly type: string;
  /** "normal", "dotted", "thick". */
  readonly stroke: string;
}
export interface Flowchart {
  readonly vertices: ReadonlyMap<string, Vertex>;
  readonly edges: readonly Edge[];
  readonly subgraphs: ReadonlyMap<string, { readonly title: string; readonly nodes: readonly string[] }>;
}

interface MermaidFlowDb {
  getVertices(): Map<string, { id: string; text: string; type: string; classes: string[] }>;
  getEdges(): { start: string; end: string; text: string; type: string; stroke: string }[];
  getSubGraphs(): { id: string; title: string; nodes: string[] }[];
}

let loaded: Promise<typeof import("mermaid").default> | undefined;
function mermaid() {
  loaded ??= (async () => {
    (globalThis as { window?: unknown }).window ??= new JSDOM("").window;
    return (await import("mermaid")).default;
  })();
  return loaded;
}

/** Parses a flowchart as Mermaid does; throws Mermaid's parse error on text it does not accept. */
export async function parseFlowchart(text: string): Promise<Flowchart> {
  const api = await mermaid();
  const parsed = await api.parse(text);
  if (!parsed || parsed.diagramType !== "flowchart-v2") throw new Error(`not a flowchart: ${JSON.stringify(parsed)}`);
  const db = (await api.mermaidAPI.getDiagramFromText(text)).db as unknown as MermaidFlowDb;
  const vertices = new Map(
    [...db.getVertices().values()].map((vertex) => [
      vertex.id,
      { id: vertex.id, lines: vertex.text.split("<br>"), shape: vertex.type, classes: vertex.classes },
    ]),
  );
  const edges = db.getEdges().map(({ start, end, text, type, stroke }) => ({ start, end, text, type, stroke }));
  const subgraphs = new Map(db.getSubGraphs().map((subgraph) => [subgraph.id, { title: subgraph.title, nodes: subgraph.nodes }]));
  return { vertices, edges, subgraphs };
}

/** The text of every ```mermaid block in a Markdown page. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}
