// Sorting, filtering, CSV quoting, number formatting and the heatmap colour scale: the
// DOM-free logic of the webview tables and charts.
import * as assert from 'node:assert/strict';
import { colorScale, viridis } from '../../webview/src/shared/colorScale';
import { csvField, toCsv } from '../../webview/src/shared/csv';
import {
  formatBpw,
  formatBytes,
  formatCount,
  formatDelta,
  formatInteger,
  formatNumber,
  formatRatio,
  formatSeconds,
  formatShape,
} from '../../webview/src/shared/format';
import { compareValues, makeNameFilter, sortRows } from '../../webview/src/shared/table';

const NAMES = [
  'model.layers.10.mlp.down_proj.weight',
  'model.layers.2.mlp.down_proj.weight',
  'model.layers.2.self_attn.q_proj.weight',
  'model.embed_tokens.weight',
  'model.layers.2.input_layernorm.weight',
];

describe('webview table logic', () => {
  describe('sortRows', () => {
    it('sorts names naturally (layers.2 before layers.10) in both directions', () => {
      const asc = sortRows(NAMES, (n) => n, 'ascending');
      assert.deepEqual(asc, [
        'model.embed_tokens.weight',
        'model.layers.2.input_layernorm.weight',
        'model.layers.2.mlp.down_proj.weight',
        'model.layers.2.self_attn.q_proj.weight',
        'model.layers.10.mlp.down_proj.weight',
      ]);
      assert.deepEqual(
        sortRows(NAMES, (n) => n, 'descending'),
        [...asc].reverse(),
      );
    });

    it('keeps missing values last whichever the direction, and is stable', () => {
      const rows = [{ id: 'a', v: 0.2 }, { id: 'b' }, { id: 'c', v: 0.05 }, { id: 'd', v: 0.2 }, { id: 'e', v: NaN }];
      const key = (r: { v?: number }) => r.v;
      assert.deepEqual(
        sortRows(rows, key, 'ascending').map((r) => r.id),
        ['c', 'a', 'd', 'b', 'e'],
      );
      assert.deepEqual(
        sortRows(rows, key, 'descending').map((r) => r.id),
        ['a', 'd', 'c', 'b', 'e'],
      );
    });

    it('compares numbers numerically, not as text', () => {
      assert.ok(compareValues(9, 10) < 0);
      assert.ok(compareValues('9', '10') < 0);
      assert.ok(compareValues(undefined, 1) > 0);
      assert.equal(compareValues(null, undefined), 0);
    });
  });

  describe('makeNameFilter', () => {
    const run = (q: string) => NAMES.filter(makeNameFilter(q).test);

    it('matches everything when empty', () => {
      assert.equal(run('   ').length, NAMES.length);
    });

    it('matches substrings case-insensitively', () => {
      assert.deepEqual(run('DOWN_proj'), [NAMES[0], NAMES[1]]);
      assert.deepEqual(run('zzz'), []);
    });

    it('reads globs with the recipe pattern rules (segments, tails, ranges)', () => {
      assert.deepEqual(run('*.mlp.*'), [NAMES[0], NAMES[1]]);
      assert.deepEqual(run('model.layers.{0..3}.**'), [NAMES[1], NAMES[2], NAMES[4]]);
      assert.deepEqual(run('*_proj'), [NAMES[0], NAMES[1], NAMES[2]]);
      assert.deepEqual(run('re:.*\\.q_proj'), [NAMES[2]]);
    });

    it('reports an invalid pattern and then matches nothing', () => {
      const f = makeNameFilter('model.[');
      assert.ok(f.error, 'an unclosed bracket is an error');
      assert.equal(NAMES.filter(f.test).length, 0);
    });
  });

  describe('CSV', () => {
    it('quotes commas, quotes, newlines and surrounding spaces (RFC 4180)', () => {
      assert.equal(csvField('plain'), 'plain');
      assert.equal(csvField('a,b'), '"a,b"');
      assert.equal(csvField('say "hi"'), '"say ""hi"""');
      assert.equal(csvField('two\nlines'), '"two\nlines"');
      assert.equal(csvField(' padded'), '" padded"');
      assert.equal(csvField(undefined), '');
      assert.equal(csvField(NaN), '');
      assert.equal(csvField(0.1 + 0.2), '0.30000000000000004');
      assert.equal(csvField(false), 'false');
    });

    it('joins records with CRLF and ends with one', () => {
      assert.equal(
        toCsv(
          ['a', 'b'],
          [
            [1, 'x,y'],
            [null, 2],
          ],
        ),
        'a,b\r\n1,"x,y"\r\n,2\r\n',
      );
    });
  });

  describe('formatting', () => {
    it('formats bytes, counts and integers', () => {
      assert.equal(formatBytes(256), '256 B');
      assert.equal(formatBytes(1040128), '1015.8 KiB');
      assert.equal(formatBytes(5 * 1024 * 1024), '5.00 MiB');
      assert.equal(formatCount(260032), '260.03K');
      assert.equal(formatCount(7.24e9), '7.24B');
      assert.equal(formatInteger(1234567), '1,234,567');
      assert.equal(formatInteger(-1000), '-1,000');
    });

    it('formats seconds, numbers, bpw, shapes, ratios and deltas', () => {
      assert.equal(formatSeconds(0.000121), '121 µs');
      assert.equal(formatSeconds(0.0302), '30.2 ms');
      assert.equal(formatSeconds(3.5), '3.50 s');
      assert.equal(formatSeconds(125), '2 min 5 s');
      assert.equal(formatNumber(0.107391913), '0.1074');
      assert.equal(formatNumber(0.000682), '6.820e-4');
      assert.equal(formatNumber(undefined), '—');
      assert.equal(formatBpw(4.5), '4.5');
      assert.equal(formatBpw(4.488309131), '4.488');
      assert.equal(formatBpw(32), '32');
      assert.equal(formatShape([512, 64]), '512×64');
      assert.equal(formatShape([]), 'scalar');
      assert.equal(formatRatio(0.5), '×0.500');
      assert.equal(formatDelta(-2), '−2');
      assert.equal(formatDelta(0), '±0');
      assert.equal(
        formatDelta(1.5, (x) => `${x} B`),
        '+1.5 B',
      );
    });
  });

  describe('heatmap colour scale', () => {
    it('is linear over a narrow range and logarithmic over a wide one', () => {
      const narrow = colorScale([0.09, 0.1, 0.14]);
      assert.equal(narrow.log, false);
      assert.equal(narrow.position(0.09), 0);
      assert.equal(narrow.position(0.14), 1);
      assert.ok(Math.abs(narrow.position(0.115) - 0.5) < 1e-9);
      const wide = colorScale([0.001, 0.01, 0.1]);
      assert.equal(wide.log, true);
      assert.ok(Math.abs(wide.position(0.01) - 0.5) < 1e-9);
      assert.deepEqual(
        wide.ticks(3).map((v) => Number(v.toPrecision(6))),
        [0.001, 0.01, 0.1],
      );
    });

    it('maps the ends to the viridis ends and clamps outside values', () => {
      assert.equal(viridis(0), 'rgb(68, 1, 84)');
      assert.equal(viridis(1), 'rgb(253, 231, 37)');
      assert.equal(viridis(2), viridis(1));
      const s = colorScale([1, 2]);
      assert.equal(s.color(5), viridis(1));
      assert.equal(s.color(1), viridis(0));
    });
  });
});
