/**
 * File-name globs of catalog artifact patterns: `*` (any run of characters), `?` (one
 * character) and `{a,b}` (alternatives). Patterns match whole file names, never paths.
 */
export function globToRegExp(pattern: string): RegExp {
  let out = "";
  let inGroup = false;
  for (const char of pattern) {
    if (char === "*") out += "[^/]*";
    else if (char === "?") out += "[^/]";
    else if (char === "{" && !inGroup) {
      inGroup = true;
      out += "(?:";
    } else if (char === "}" && inGroup) {
      inGroup = false;
      out += ")";
    } else if (char === "," && inGroup) out += "|";
    else out += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  if (inGroup) out += "\\{";
  return new RegExp(`^${out}$`);
}

export function matchesGlob(fileName: string, pattern: string): boolean {
  return globToRegExp(pattern).test(fileName);
}
