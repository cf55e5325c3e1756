#!/usr/bin/env node
// The installed `netwasmd` daemon: the compiled daemon from dist/.
import { main } from '../dist/src/daemon/main.js';
main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
  process.stderr.write(`netwasmd: ${e?.stack ?? e}\n`);
  process.exit(70);
});
