/**
 * Mermaid's text, for the topology page and `natgw explain --format mermaid`.
 * A label is always quoted, so brackets, slashes and arrows inside it are text;
 * lines are joined with `<br/>`, which GitHub's and GitLab's renderers both
 * break on. Inside quotes Mermaid reads only `"` and `#` as its own, and HTML
 * tags as markup, so those are written as Mermaid's entity codes.
 */
export function mermaidLabel(...lines: readonly string[]): string {
  const escaped = lines.map((line) => line.replace(/#/g, "#35;").replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;"));
  return `"${escaped.join("<br/>")}"`;
}
