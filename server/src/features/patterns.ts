// Tensor-name patterns to offer inside a match string, derived from the model's own names
// once per model header (cached): layer indices generalised to `*`
// (model.layers.*.mlp.down_proj), character classes for sibling tensors
// (model.layers.*.self_attn.[qkv]_proj), dot-aligned tails (*.mlp.down_proj), whole
// sub-blocks (model.layers.*.mlp.*, model.layers.0.**), then the individual names.
import type { ModelHeader } from '../../../core/src/index';

export interface PatternCandidate {
  pattern: string;
  /** Tensors the pattern selects (weights and biases). */
  count: number;
  /** A few of them, for the documentation. */
  examples: string[];
  /** 0 generalised names, 1 classes, 2 tails, 3 sub-blocks, 4 individual names. */
  category: number;
}

interface Group {
  key: string;
  names: string[];
  shape: string;
}

const cache = new WeakMap<ModelHeader, PatternCandidate[]>();
const MAX_EXAMPLES = 4;

export function patternCandidates(model: ModelHeader): PatternCandidate[] {
  let out = cache.get(model);
  if (!out) cache.set(model, (out = build(model)));
  return out;
}

const base = (name: string) => name.replace(/\.(weight|bias)$/, '');
/** All-digit segments (layer and expert indices) become `*`. */
const generalise = (name: string) => name.replace(/(^|\.)\d+(?=\.|$)/g, '$1*');

function build(model: ModelHeader): PatternCandidate[] {
  const out: PatternCandidate[] = [];
  const seen = new Set<string>();
  const add = (pattern: string, names: string[], category: number) => {
    if (seen.has(pattern) || names.length === 0) return;
    seen.add(pattern);
    out.push({ pattern, count: names.length, examples: names.slice(0, MAX_EXAMPLES), category });
  };

  // Tensors grouped by generalised base name, in model order.
  const groups = new Map<string, Group>();
  const bases = new Map<string, string[]>();
  for (const t of model.tensors) {
    const b = base(t.name);
    const key = generalise(b);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, names: [], shape: t.shape.join('x') }));
    g.names.push(t.name);
    let bn = bases.get(b);
    if (!bn) bases.set(b, (bn = []));
    bn.push(t.name);
  }

  for (const g of groups.values()) if (g.key.includes('*')) add(g.key, g.names, 0);

  // Siblings that differ in one character of their last segment: q_proj/k_proj/v_proj.
  const classes: { pattern: string; names: string[] }[] = [];
  const bySignature = new Map<string, Group[]>();
  for (const g of groups.values()) {
    const lastDot = g.key.lastIndexOf('.');
    for (let i = lastDot + 1; i < g.key.length; i++) {
      const sig = `${g.key.slice(0, i)}\u0000${g.key.slice(i + 1)}`;
      let list = bySignature.get(sig);
      if (!list) bySignature.set(sig, (list = []));
      list.push(g);
    }
  }
  for (const [sig, members] of bySignature) {
    if (members.length < 2) continue;
    const [head, tail] = sig.split('\u0000');
    const at = head.length;
    const subsets: Group[][] = [members];
    const byShape = new Map<string, Group[]>();
    for (const m of members) byShape.set(m.shape, [...(byShape.get(m.shape) ?? []), m]);
    for (const s of byShape.values()) if (s.length >= 2 && s.length < members.length) subsets.push(s);
    // Attention inputs read the same activations, so [qkv] is the group recipes most often name.
    const qkv = members.filter((m) => 'qkv'.includes(m.key[at]));
    if (qkv.length === 3 && members.length > 3) subsets.unshift(qkv);
    for (const s of subsets) {
      const chars = s
        .map((m) => m.key[at])
        .sort(charOrder)
        .join('');
      classes.push({ pattern: `${head}[${chars}]${tail}`, names: s.flatMap((m) => m.names) });
    }
  }
  for (const c of classes) add(c.pattern, c.names, 1);

  // Dot-aligned tails of generalised names and classes: *.mlp.down_proj.
  const tails = new Map<string, string[]>();
  for (const { pattern, names } of [
    ...[...groups.values()].map((g) => ({ pattern: g.key, names: g.names })),
    ...classes,
  ]) {
    const star = pattern.lastIndexOf('*.');
    if (star < 0 || pattern.slice(star + 2).includes('*')) continue;
    const tail = `*.${pattern.slice(star + 2)}`;
    if (tail === pattern) continue;
    tails.set(tail, [...(tails.get(tail) ?? []), ...names]);
  }
  for (const [tail, names] of tails) add(tail, names, 2);

  // Sub-blocks: every tensor under a generalised parent (model.layers.*.mlp.*), and each numbered block (model.layers.0.**).
  const parents = new Map<string, string[]>();
  for (const g of groups.values()) {
    const dot = g.key.lastIndexOf('.');
    if (dot < 0 || !g.key.includes('*')) continue;
    const parent = `${g.key.slice(0, dot)}.*`;
    if (parent.endsWith('*.*')) continue; // model.layers.*.* says little beyond **
    parents.set(parent, [...(parents.get(parent) ?? []), ...g.names]);
  }
  for (const [p, names] of parents) if (names.length > 1) add(p, names, 3);
  const blocks = new Map<string, string[]>();
  for (const t of model.tensors) {
    const m = /^(.*?(?:^|\.)\d+)\./.exec(t.name);
    if (!m) continue;
    const p = `${m[1]}.**`;
    let list = blocks.get(p);
    if (!list) blocks.set(p, (list = []));
    list.push(t.name);
  }
  for (const [p, names] of blocks) add(p, names, 3);

  for (const [b, names] of bases) add(b, names, 4);
  return out;
}

const PREFERRED = 'qkvo';
function charOrder(a: string, b: string): number {
  const ia = PREFERRED.indexOf(a);
  const ib = PREFERRED.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}
