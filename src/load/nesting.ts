/**
 * Lists and mappings may nest at most this many levels. The deepest natgw spec
 * is 4 levels (document, spec, cluster, controlPlane) and no sensible one needs
 * more than about 6, while everything after the loader walks a document
 * recursively: the yaml library composes its nodes recursively (at a few
 * thousand levels it runs the process out of memory, which no catch can turn
 * into a diagnostic), js-yaml, ajv and the position map do too. 64 leaves ten
 * times the room a person needs and stays far from any stack limit.
 */
export const MAX_NESTING_DEPTH = 64;

export interface Nesting {
  /** How many lists and mappings enclose the deepest node, counting the document's own. */
  readonly depth: number;
  /** Offset of the list or mapping that opens the deepest level seen. */
  readonly deepestAt: number;
  /** Offset of the list or mapping that first goes past the limit; the scan stops there. */
  readonly tooDeepAt?: number;
}

const SEQUENCE = 0;
const MAPPING = 1;

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE_DOUBLE = 34;
const HASH = 35;
const AMPERSAND = 38;
const QUOTE_SINGLE = 39;
const COMMA = 44;
const DASH = 45;
const DOT = 46;
const COLON = 58;
const GREATER = 62;
const QUESTION = 63;
const BANG = 33;
const PERCENT = 37;
const BACKSLASH = 92;
const BRACKET_OPEN = 91;
const BRACKET_CLOSE = 93;
const BRACE_OPEN = 123;
const PIPE = 124;
const BRACE_CLOSE = 125;

/**
 * How deep a YAML or JSON text nests, in one pass over its characters and before
 * any parser runs, so that a document of 100,000 levels costs a few milliseconds
 * and no recursion. It reads just enough YAML to count levels: block collections
 * by the column of their `-`, `?` or `key:` (a sequence may sit at its key's
 * column), flow collections by their brackets outside quoted scalars and
 * comments, and it skips block scalars. Where YAML is ambiguous to such a reader
 * (a plain scalar running over several lines) it counts a level too many rather
 * than one too few: only a spec that is broken anyway can meet the limit early.
 */
export function scanNesting(text: string, limit = MAX_NESTING_DEPTH): Nesting {
  const columns: number[] = [];
  const kinds: number[] = [];
  let flowDepth = 0;
  let quote = 0;
  // In flow, a quote opens a scalar only where a scalar starts: `a'b` and `a:'b` are plain text.
  let scalarMayStart = true;
  let quoteClosedAt = -1;
  let inBlockScalar = false;
  let blockScalarParent = -1;
  let blockScalarIndent = -1;
  let deepest = 0;
  let deepestAt = 0;
  let tooDeepAt: number | undefined;

  const result = (): Nesting => ({ depth: deepest, deepestAt, ...(tooDeepAt !== undefined ? { tooDeepAt } : {}) });
  const reach = (depth: number, at: number): boolean => {
    if (depth > deepest) {
      deepest = depth;
      deepestAt = at;
    }
    if (depth > limit) tooDeepAt = at;
    return depth > limit;
  };
  const isWhite = (code: number) => code === SPACE || code === TAB || code === CR;
  const isBlank = (code: number) => isWhite(code) || code === LF || Number.isNaN(code);
  /**
   * What may follow `|` or `>` on its line: chomping and indentation indicators,
   * then a comment. Anything else is not a block scalar, and is scanned on.
   */
  const isBlockScalarHeader = (p: number, end: number): boolean => {
    while (p < end && /[-+0-9]/.test(text[p]!)) p += 1;
    const rest = p;
    while (p < end && isWhite(text.charCodeAt(p))) p += 1;
    return p >= end || (text.charCodeAt(p) === HASH && p > rest);
  };
  const popFrom = (column: number) => {
    while (columns.length > 0 && columns[columns.length - 1]! >= column) {
      columns.pop();
      kinds.pop();
    }
  };
  /** A block collection entry (`-`, `?`, `key:`) at `column`; true when it goes past the limit. */
  const blockNode = (kind: number, column: number, at: number): boolean => {
    for (let top = columns.length - 1; top >= 0; top = columns.length - 1) {
      // A key at a sequence's column ends that sequence (`a:\n- x\nb: 1`).
      if (columns[top]! > column || (columns[top] === column && kinds[top] === SEQUENCE && kind === MAPPING)) {
        columns.pop();
        kinds.pop();
      } else break;
    }
    const top = columns.length - 1;
    if (top >= 0 && columns[top] === column && kinds[top] === kind) return false;
    columns.push(column);
    kinds.push(kind);
    return reach(columns.length, at);
  };
  const openFlow = (at: number): boolean => {
    flowDepth += 1;
    scalarMayStart = true;
    return reach(columns.length + flowDepth, at);
  };

  /** Continues a quoted scalar or a flow collection from `p`; where it stopped, or -1 past the limit. */
  const inline = (p: number, end: number, lineStart: number): number => {
    while (p < end) {
      const code = text.charCodeAt(p);
      if (quote !== 0) {
        if (quote === QUOTE_DOUBLE && code === BACKSLASH) p += 1;
        else if (code === quote && quote === QUOTE_SINGLE && text.charCodeAt(p + 1) === QUOTE_SINGLE) p += 1;
        else if (code === quote) {
          quote = 0;
          quoteClosedAt = p;
          scalarMayStart = false;
        }
        p += 1;
        continue;
      }
      if (flowDepth === 0) return p;
      if (isWhite(code)) {
        p += 1;
        continue;
      }
      if (code === HASH && (p === lineStart || isBlank(text.charCodeAt(p - 1)))) return end;
      if ((code === QUOTE_DOUBLE || code === QUOTE_SINGLE) && scalarMayStart) {
        quote = code;
      } else if (code === BRACKET_OPEN || code === BRACE_OPEN) {
        if (openFlow(p)) return -1;
      } else {
        if (code === BRACKET_CLOSE || code === BRACE_CLOSE) flowDepth -= 1;
        const indicator = isBlank(text.charCodeAt(p + 1));
        scalarMayStart =
          code === COMMA || (code === COLON && (indicator || quoteClosedAt === p - 1)) || (code === QUESTION && indicator);
      }
      p += 1;
    }
    return p;
  };

  /**
   * The rest of a line once a flow collection closed on it. Nothing valid opens
   * another there but a flow key's value (`[a]: [b]`), yet the parser may still
   * build whatever follows, so every bracket before a comment counts.
   */
  const flowTail = (p: number, end: number, lineStart: number): number => {
    while (p >= 0 && p < end && flowDepth === 0 && quote === 0) {
      const code = text.charCodeAt(p);
      if (code === HASH && isBlank(text.charCodeAt(p - 1))) return end;
      if (code === BRACKET_OPEN || code === BRACE_OPEN) p = openFlow(p) ? -1 : inline(p + 1, end, lineStart);
      else p += 1;
    }
    return p;
  };

  let lineStart = 0;
  while (lineStart <= text.length) {
    // Lines end at LF, as the yaml library and the positions of every diagnostic
    // count them; a CR is white space (the end of a CRLF, or a lone one).
    let end = text.indexOf("\n", lineStart);
    if (end < 0) end = text.length;
    const next = end + 1;
    const first = text.charCodeAt(lineStart);
    let p = lineStart;

    if ((first === DASH || first === DOT) && text.startsWith(first === DASH ? "---" : "...", p) && isBlank(text.charCodeAt(p + 3))) {
      // A document marker ends whatever was open.
      columns.length = 0;
      kinds.length = 0;
      flowDepth = 0;
      quote = 0;
      inBlockScalar = false;
      if (first === DOT) {
        lineStart = next;
        continue;
      }
      p += 3;
    } else if (quote !== 0 || flowDepth > 0) {
      const inFlow = flowDepth > 0;
      p = inline(p, end, lineStart);
      if (inFlow) p = flowTail(p, end, lineStart);
      if (p < 0) return result();
      lineStart = next;
      continue;
    }

    let indent = p;
    while (indent < end && text.charCodeAt(indent) === SPACE) indent += 1;
    let content = indent;
    while (content < end && isWhite(text.charCodeAt(content))) content += 1;
    if (inBlockScalar) {
      // Block scalar text: blank lines, and every line indented at least like its first one.
      const indentColumn = indent - lineStart;
      if (content >= end) {
        lineStart = next;
        continue;
      }
      if (blockScalarIndent < 0 && indentColumn > blockScalarParent) blockScalarIndent = indentColumn;
      if (blockScalarIndent >= 0 && indentColumn >= blockScalarIndent) {
        lineStart = next;
        continue;
      }
      inBlockScalar = false;
    }
    if (p === lineStart && first === PERCENT) {
      lineStart = next;
      continue;
    }

    let owner = -1;
    p = content;
    while (p < end) {
      const code = text.charCodeAt(p);
      const column = p - lineStart;
      if (isWhite(code)) {
        p += 1;
        continue;
      }
      if (code === HASH) break;
      const indicator = isBlank(text.charCodeAt(p + 1)) || p + 1 >= end;
      if ((code === DASH || code === QUESTION || code === COLON) && indicator) {
        if (blockNode(code === DASH ? SEQUENCE : MAPPING, column, p)) return result();
        owner = column;
        p += 1;
        continue;
      }
      // A tag or an anchor comes before the node it names.
      if (code === BANG || code === AMPERSAND) {
        while (p < end && !isBlank(text.charCodeAt(p))) p += 1;
        continue;
      }
      // A node alone on its line belongs to the collection whose column is left of it.
      if (owner < 0) popFrom(column);
      if ((code === PIPE || code === GREATER) && isBlockScalarHeader(p + 1, end)) {
        inBlockScalar = true;
        blockScalarParent = owner >= 0 ? owner : (columns[columns.length - 1] ?? -1);
        blockScalarIndent = -1;
        break;
      }
      if (code === BRACKET_OPEN || code === BRACE_OPEN) {
        if (openFlow(p) || flowTail(inline(p + 1, end, lineStart), end, lineStart) < 0) return result();
        break;
      }
      if (code === QUOTE_DOUBLE || code === QUOTE_SINGLE) {
        quote = code;
        let colon = inline(p + 1, end, lineStart);
        if (quote !== 0) break;
        while (colon < end && isWhite(text.charCodeAt(colon))) colon += 1;
        if (text.charCodeAt(colon) !== COLON || !isBlank(text.charCodeAt(colon + 1))) break;
        if (blockNode(MAPPING, column, p)) return result();
        owner = column;
        p = colon + 1;
        continue;
      }
      // A plain scalar: a key when `: ` follows it before any comment.
      let key = -1;
      for (let q = p; q < end; q += 1) {
        const c = text.charCodeAt(q);
        if (c === COLON && isBlank(text.charCodeAt(q + 1))) {
          key = q;
          break;
        }
        if (c === HASH && isBlank(text.charCodeAt(q - 1))) break;
      }
      if (key < 0) break;
      if (blockNode(MAPPING, column, p)) return result();
      owner = column;
      p = key + 1;
    }
    lineStart = next;
  }
  return result();
}
