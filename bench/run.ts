// `npm run bench`: runs every bench/*.bench.ts suite (or those named on the
// command line), prints one table and writes bench/results/latest.json.
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, type Row } from './common.ts';

const only = process.argv.slice(2);
const files = readdirSync(BENCH_DIR)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !only.length || only.some((o) => f.includes(o)))
  .sort();

const rows: Row[] = [];
for (const f of files) {
  process.stderr.write(`bench: ${f} ...\n`);
  const mod = (await import(pathToFileURL(join(BENCH_DIR, f)).href)) as { suite(): Promise<Row[]> };
  try {
    rows.push(...(await mod.suite()));
  } catch (e) {
    process.stderr.write(`bench: ${f} failed: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  }
}

const fmt = (v: number | null): string => (v === null ? '-' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toPrecision(3));
const table = rows.map((r) => ({
  work: r.work, unit: r.unit, netwasm: fmt(r.netwasm), baseline: r.baseline, 'baseline value': fmt(r.baselineValue),
  ratio: r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`, target: r.target || '-', met: r.met === null ? '-' : r.met ? 'yes' : 'NO',
}));
const cols = Object.keys(table[0] ?? { work: '' }) as Array<keyof (typeof table)[number]>;
const width = cols.map((c) => Math.max(c.length, ...table.map((r) => String(r[c]).length)));
const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(width[i]!)).join(' | ') + ' |';
console.log(line(cols as string[]));
console.log('|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const r of table) console.log(line(cols.map((c) => String(r[c]))));
mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
writeFileSync(join(BENCH_DIR, 'results', 'latest.json'), JSON.stringify(rows, null, 2) + '\n');
// The same table as Markdown, for the README and bench/PROFILES.md.
const md = [
  `| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`,
  ...table.map((r) => `| ${cols.map((c) => String(r[c]).replace(/\|/g, '\\|')).join(' | ')} |`),
];
writeFileSync(join(BENCH_DIR, 'results', 'latest.md'), `${md.join('\n')}\n\n${new Date().toISOString()}, ${rows.length} rows\n`);
console.log(`\n${rows.length} rows; medians over repeated runs; written to bench/results/latest.json and latest.md`);
