// GGUF value bytes of the large tokenizer arrays (tokens, token types, scores, merges),
// built once per array into one Buffer: the native writer copies them into the header as
// they are. A 150,000-token vocabulary and 300,000 merges would otherwise cross to native
// as JSON and become half a million parsed values; as bytes they are two copies of a few
// megabytes. Layout (GGUF v3, little-endian): u32 value type 9 (array), u32 item type,
// u64 count, then the items (strings as u64 byte length + UTF-8 bytes).

export type GgufValueType =
  'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';
/** A GGUF key/value as the spec holds it (the runner encodes it). */
export interface GgufKvSpec {
  key: string;
  type: GgufValueType | 'array';
  itemType?: GgufValueType;
  value: unknown;
}

const T_I32 = 5;
const T_F32 = 6;
const T_STRING = 8;
const T_ARRAY = 9;

export type GgufArrayValues =
  | { itemType: 'string'; values: readonly string[] }
  | { itemType: 'i32'; values: Int32Array }
  | { itemType: 'f32'; values: Float32Array };

function header(itemType: number, count: number, payload: number): { buf: Buffer; at: number } {
  const buf = Buffer.allocUnsafe(16 + payload);
  buf.writeUInt32LE(T_ARRAY, 0);
  buf.writeUInt32LE(itemType, 4);
  buf.writeBigUInt64LE(BigInt(count), 8);
  return { buf, at: 16 };
}

/** The array's GGUF value bytes (type, item type, count, items). */
export function encodeGgufArray(a: GgufArrayValues): Buffer {
  if (a.itemType === 'string') {
    let payload = 0;
    for (const s of a.values) payload += 8 + Buffer.byteLength(s, 'utf8');
    const { buf, at } = header(T_STRING, a.values.length, payload);
    let p = at;
    for (const s of a.values) {
      const n = buf.write(s, p + 8, 'utf8');
      buf.writeBigUInt64LE(BigInt(n), p);
      p += 8 + n;
    }
    return buf;
  }
  const items = a.values;
  const { buf, at } = header(a.itemType === 'i32' ? T_I32 : T_F32, items.length, items.length * 4);
  // Little-endian item bytes, whatever the host's order.
  if (a.itemType === 'i32') for (let i = 0; i < items.length; i++) buf.writeInt32LE(items[i], at + 4 * i);
  else for (let i = 0; i < items.length; i++) buf.writeFloatLE(items[i], at + 4 * i);
  return buf;
}

/** Arrays longer than this cross to native as bytes; shorter ones stay in the JSON. */
const RAW_FROM = 64;

interface NativeKv {
  key: string;
  type: string;
  itemType?: string;
  value?: unknown;
  raw?: number;
}

/**
 * The job's `gguf` fields for a spec: `spec` (JSON: metadata, tensors, extra tensors) and
 * `raw` (the GGUF value bytes of each large array, which the metadata entry names by index
 * as `raw`). The metadata keeps its order.
 */
export function ggufNativeSpec(spec: {
  metadata: { key: string; type: string; itemType?: string; value: unknown }[];
  tensors: unknown;
  extraTensors?: unknown;
  copySourceMetadata?: boolean;
}): { spec: string; raw: Buffer[] } {
  const raw: Buffer[] = [];
  const metadata: NativeKv[] = spec.metadata.map((kv) => {
    const v = kv.value;
    const large =
      kv.type === 'array' &&
      (v instanceof Int32Array ||
        v instanceof Float32Array ||
        (Array.isArray(v) && v.length > RAW_FROM && kv.itemType === 'string'));
    if (!large) return { key: kv.key, type: kv.type, itemType: kv.itemType, value: v };
    const values =
      v instanceof Int32Array
        ? ({ itemType: 'i32', values: v } as const)
        : v instanceof Float32Array
          ? ({ itemType: 'f32', values: v } as const)
          : ({ itemType: 'string', values: v as string[] } as const);
    if ((values.itemType !== kv.itemType) as boolean)
      throw new Error(`GGUF metadata "${kv.key}": ${kv.itemType} array holds ${values.itemType} values`);
    raw.push(encodeGgufArray(values));
    return { key: kv.key, type: kv.type, itemType: kv.itemType, raw: raw.length - 1 };
  });
  return {
    spec: JSON.stringify({
      metadata,
      tensors: spec.tensors,
      extraTensors: spec.extraTensors ?? [],
      copySourceMetadata: spec.copySourceMetadata === true,
    }),
    raw,
  };
}
