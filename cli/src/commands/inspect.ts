// bitsmith inspect: what a model file holds, from its header alone.
import * as path from 'path';
import { fmt, formatBytes, ModelReadError, readModelHeader, type ModelHeader } from '../../../core/src/index';
import { table, thousands } from '../table';

export function inspectCommand(file: string, opts: { json?: boolean }): number {
  const abs = path.resolve(file);
  let model: ModelHeader;
  try {
    model = readModelHeader(abs);
  } catch (e) {
    const code = e instanceof ModelReadError ? e.code : 'model/unreadable';
    process.stderr.write(`${abs}: error: ${(e as Error).message} [${code}]\n`);
    return 1;
  }
  if (opts.json) {
    const { tensors, ...rest } = model;
    process.stdout.write(
      JSON.stringify(
        {
          ...rest,
          tensors: tensors.map(({ name, shape, dtype, bitsPerElement, elements, bytes, file: f, offset }) => ({
            name,
            shape,
            dtype,
            bitsPerElement,
            elements,
            bytes,
            file: f,
            offset,
          })),
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  const out: string[] = [];
  out.push(`${model.path}`);
  out.push(
    `format ${model.format}, architecture ${model.architecture}, ${model.tensors.length} tensors, ${thousands(model.parameters)} parameters, ${model.dtype}, ${formatBytes(model.bytes)} (${fmt(model.parameters ? (8 * model.bytes) / model.parameters : 0)} bpw)`,
    '',
  );
  // bpw: the source's storage per weight (fractional for GGUF block types: Q4_K is 4.5).
  out.push(
    table(
      ['tensor', 'shape', 'dtype', 'bpw', 'parameters', 'size'],
      model.tensors.map((t) => [
        t.name,
        t.shape.join('x'),
        t.dtype,
        fmt(t.bitsPerElement),
        thousands(t.elements),
        formatBytes(t.bytes),
      ]),
      [3, 4, 5],
    ),
  );
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
