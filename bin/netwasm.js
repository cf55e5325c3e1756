#!/usr/bin/env node
// The installed `netwasm` command: the compiled CLI from dist/.
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  process.stderr.write(`netwasm: ${e?.stack ?? e}\n`);
  process.exit(70);
});
