/**
 * Exec lines of unit files, split as systemd splits them (systemd.service(5),
 * "Command lines"): words separated by blanks, double or single quotes group,
 * `$$` is a literal `$`, `%%` a literal `%`, `${NAME}` is replaced within its
 * word, and a word that is only `$NAME` becomes that variable's words. Prefixes
 * before the path: `-` ignores a failure; `@`, `:`, `+` and `!` change nothing here.
 */
export interface ExecLine {
  readonly argv: string[];
  readonly ignoreFailure: boolean;
}

export function splitExecLine(line: string, environment: Readonly<Record<string, string>>): ExecLine {
  const prefix = /^[-@:+!]*/.exec(line)![0];
  const argv: string[] = [];
  for (const word of rawWords(line.slice(prefix.length))) {
    const bare = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (bare) argv.push(...(environment[bare[1]!] ?? "").split(/\s+/).filter(Boolean));
    else argv.push(unquote(word, environment));
  }
  return { argv, ignoreFailure: prefix.includes("-") };
}

/** The words of a line with their quotes still in place. */
function rawWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: string | null = null;
  for (const char of text) {
    if (quote) {
      word += char;
      if (char === quote) quote = null;
    } else if (char === " " || char === "\t") {
      if (word) words.push(word);
      word = "";
    } else {
      if (char === '"' || char === "'") quote = char;
      word += char;
    }
  }
  if (quote) throw new Error(`unbalanced quote in: ${text}`);
  if (word) words.push(word);
  return words;
}

function unquote(word: string, environment: Readonly<Record<string, string>>): string {
  return word.replace(/"([^"]*)"|'([^']*)'|([^"']+)/g, (_match, double?: string, single?: string, plain?: string) => expand(double ?? single ?? plain ?? "", environment));
}

function expand(text: string, environment: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|%%|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (token, braced?: string, bare?: string) => {
    if (token === "$$") return "$";
    if (token === "%%") return "%";
    return environment[braced ?? bare ?? ""] ?? "";
  });
}
