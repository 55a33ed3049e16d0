// Regular expressions that select exactly a chosen set of names among all the names of
// a model, for tools whose pattern semantics differ from Bitsmith's globs. Each name
// becomes an anchored expression; where every name with the same shape but another
// layer number is chosen too, the layer number becomes [0-9]+ (so a rule over all layers
// stays one expression), otherwise the name is spelt out. Only lower-case letters and no
// class escapes like \d appear (llama-quantize lower-cases its patterns, which would turn
// \D into \d).

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const LAYER = /(^|\.)([0-9]+)(\.|$)/;

/** The name with its first numeric segment replaced by a marker, or undefined. */
function template(name: string): string | undefined {
  const m = LAYER.exec(name);
  if (!m) return undefined;
  return name.slice(0, m.index + m[1].length) + '\u0000' + name.slice(m.index + m[1].length + m[2].length);
}

/**
 * Bodies of regular expressions (no anchors) that together select exactly `chosen`
 * among `all` when each is anchored at both ends. Order follows the first chosen name
 * each expression covers.
 */
export function exactSelectors(chosen: readonly string[], all: readonly string[]): string[] {
  const chosenSet = new Set(chosen);
  const byTemplate = new Map<string, string[]>();
  for (const n of all) {
    const t = template(n);
    if (t === undefined) continue;
    const list = byTemplate.get(t);
    if (list) list.push(n);
    else byTemplate.set(t, [n]);
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const n of chosen) {
    const t = template(n);
    let body: string;
    const members = t === undefined ? undefined : byTemplate.get(t);
    if (t !== undefined && members && members.length > 1 && members.every((m) => chosenSet.has(m))) {
      body = t.split('\u0000').map(escapeRegex).join('[0-9]+');
    } else {
      body = escapeRegex(n);
    }
    if (!seen.has(body)) {
      seen.add(body);
      out.push(body);
    }
  }
  return out;
}
