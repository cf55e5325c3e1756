// Runs every uvu suite under test/ (or the files named) in one process, under
// Node (with tsx) or Deno, and ends with the line `N passed, N failed`.
// A skipped test is a failure when CI is set: host tests must run in CI.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'helpers' && name !== 'fixtures') out.push(...walk(p));
    } else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = walk(join(root, 'test'));
if (args.length) files = files.filter((f) => args.some((a) => f.includes(a)));

globalThis.UVU_DEFER = 1;
globalThis.UVU_QUEUE = [];
let idx = 0;
for (const f of files) {
  globalThis.UVU_INDEX = idx++;
  globalThis.UVU_QUEUE.push([f.slice(root.length + 1)]);
  await import(pathToFileURL(f).href);
}

let passed = 0, total = 0, skipped = 0, failedFiles = 0;
const started = Date.now();
for (const group of globalThis.UVU_QUEUE) {
  const name = group.shift();
  process.stdout.write(`${name}\n`);
  for (const run of group) {
    const [errs, ran, skip, max] = await run();
    total += max; passed += ran; skipped += skip;
    if (errs !== true && errs.length) {
      failedFiles++;
      process.stdout.write(`\n${errs}\n`);
    }
  }
}
const failed = total - passed;
const ci = !!process.env.CI;
process.stdout.write(`\n${files.length} files, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
if (ci && skipped) process.stdout.write(`${skipped} test(s) skipped: a skip in CI is a failure\n`);
process.stdout.write(`${passed} passed, ${failed + (ci ? skipped : 0)} failed${skipped && !ci ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed || (ci && skipped) || failedFiles ? 1 : 0);
